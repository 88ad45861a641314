"""Flows whose ``flow`` decorator comes through a repository module that binds it in
alternative branches, deployed by `prefect deploy` and by flowdeploy and compared field by field
(tests/support/conformance.py).

Seen in genomehubs/data, where every one of 34 deployments was refused: ``lib/compat.py`` binds a
dummy ``flow`` when an environment variable asks to skip Prefect, and ``from prefect import
flow`` otherwise. Under ``prefect deploy`` the Prefect branch runs, so the flows are flows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.conformance import compare_with_prefect, completed, make_case_repo, run_flowdeploy
from support.oracle import read_deployments
from support.proxy import RecordingProxy
from support.server import PrefectServer

pytestmark = pytest.mark.integration

IF_ELSE = """\
import os

if os.environ.get("SKIP_PREFECT") == "true":
    def flow(*_, **__):
        return lambda x: x
else:
    from prefect import flow
"""

TRY_IMPORT_ERROR = """\
try:
    from prefect_shim_not_installed import flow
except ImportError:
    from prefect import flow
"""

REEXPORT = '''\
from lib.compat import flow


@flow
def reexported(n: int = 1):
    """Doc."""


@flow(name="called-flow", retries=1)
def called(region: str = "eu", limit: int = 10):
    """Called with options."""
'''

PREFECT_YAML = """\
deployments:
  - name: re
    entrypoint: flows/reexport.py:reexported
    work_pool: {name: process-pool}
  - name: called
    entrypoint: flows/reexport.py:called
    work_pool: {name: process-pool}
"""


@pytest.mark.parametrize(
    "compat", [IF_ELSE, TRY_IMPORT_ERROR], ids=["if-else", "try-except-import-error"]
)
def test_a_flow_decorator_bound_in_alternative_branches_deploys_as_prefect_does(
    tmp_path: Path, clean_api: PrefectServer, compat: str
) -> None:
    repo = make_case_repo(
        tmp_path / "repo",
        {
            "lib/__init__.py": "",
            "lib/compat.py": compat,
            "flows/reexport.py": REEXPORT,
            "prefect.yaml": PREFECT_YAML,
        },
    ).path
    compared = compare_with_prefect(clean_api.api_url, repo)
    assert set(compared.actual) == {"reexported/re", "called-flow/called"}, compared.actual


def test_a_decorator_that_is_not_prefects_is_refused_saying_what_it_is(
    tmp_path: Path, clean_api: PrefectServer
) -> None:
    compat = "def flow(fn=None, **kwargs):\n    return fn or (lambda f: f)\n"
    repo = make_case_repo(
        tmp_path / "repo",
        {
            "lib/__init__.py": "",
            "lib/compat.py": compat,
            "flows/reexport.py": REEXPORT,
            "prefect.yaml": PREFECT_YAML,
        },
    ).path
    with RecordingProxy(clean_api.api_url) as proxy:
        cp = run_flowdeploy("apply", "--all", cwd=repo, api_url=proxy.api_url)
        writes = proxy.writes()
    assert cp.returncode == 2, completed(cp)
    assert not writes, "a refused file wrote:\n" + "\n".join(str(w) for w in writes)
    assert read_deployments(clean_api.api_url) == {}
    output = cp.stdout + cp.stderr
    assert "'flow' is lib/compat.py:1 def flow, not prefect.flow" in output, completed(cp)
    assert "not decorated with @flow" not in output, completed(cp)
