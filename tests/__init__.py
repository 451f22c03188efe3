"""clinicsync's test suite.

Compiled bytecode is written and reused during the suite even where the machine sets
PYTHONDONTWRITEBYTECODE (as .ci/run unsets it): without it each xdist worker rewrote and
compiled every test module again at collection (about 9 s of CPU each, 13.3 s against 4.3 s
to collect) and each clinicsync process a test starts compiled the package from source.
The files go to __pycache__, which git ignores."""

import os
import sys

sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
