"""Building the course: ``export`` (chapters' export cells → scratchnn/), ``execute``
(re-run notebooks, store outputs), ``exercises`` and ``answer_key`` (exercises/ from
solutions/), ``sphinx_ext`` (the site's Sphinx extension)."""
