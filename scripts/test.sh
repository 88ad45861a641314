#!/usr/bin/env bash
# The whole test suite: setup, then pytest (2 xdist workers). Extra arguments go to pytest,
# e.g. `bash scripts/test.sh tests/unit -x` or `bash scripts/test.sh -n 0` for a serial run.
# Integration tests start a real Prefect server (a few seconds); they fail, never skip, when it
# cannot start.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
# loadfile: a test module stays on one worker, so its module-scoped fixtures (e.g. the
# `prefect deploy` reference in tests/integration/test_differential.py) are built once. Each
# worker that runs a server test starts its own Prefect server. (`--dist loadgroup` is not used:
# pytest-xdist 3.8's xdist_group grouping has no effect under pytest 9.2.)
exec .venv/bin/python -m pytest -n 2 --dist loadfile "$@"
