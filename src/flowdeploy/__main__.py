"""``python -m flowdeploy``: the same entry point as the console script.

``python -m`` puts the working directory first on ``sys.path``, and flowdeploy runs in the
user's repository: a top-level ``ast.py``, ``yaml.py`` or ``git.py`` there would be imported
instead of the real module, i.e. the repository's code would run. Drop that entry before
anything else is imported (``python -P`` / ``PYTHONSAFEPATH=1`` does the same).
"""

import os
import sys

if sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from flowdeploy.cli import entry  # after the sys.path guard, on purpose

entry()
