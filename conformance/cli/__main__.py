"""``python -m conformance.cli``."""

import sys

from . import main

sys.exit(main())
