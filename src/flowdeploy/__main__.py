"""``python -m flowdeploy``: the same entry point as the console script."""

import sys

from flowdeploy.cli import main

sys.exit(main())
