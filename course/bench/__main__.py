"""``python -m course.bench`` (``make bench``): print the table of timings."""

import sys

from course.bench.table import main

sys.exit(main())
