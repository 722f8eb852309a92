"""Grading a folder of student notebooks: ``grade`` (the command and the gradebook),
``sandbox`` (runs each untrusted notebook with as little reach as possible), ``plugin``
(the pytest plugin loaded inside the sandbox)."""
