"""``python -m course.bench`` (``make bench``): a table of install, execution, build, test,
optimizer and grading timings. ``optimizers`` and ``grading`` time one part each."""
