"""Parameter schemas from repository enums, deployed by `prefect deploy` and by flowdeploy
(tests/support/conformance.py).

Two patterns from real public repositories: a default taken from an enum member's ``.value``
(registered exactly as Prefect does), and an enum whose class body makes its members at run
time (``locals().update(...)``), which flowdeploy cannot read: the parameter is left open,
with a warning at the class, so no value is refused (`prefect deploy`, which imports the flow,
sees the members and refuses the value given: the test records that difference).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.conformance import (
    compare_with_prefect,
    completed,
    deploy_with_prefect,
    fresh_server,
    make_case_repo,
    run_flowdeploy,
)
from support.oracle import read_deployments
from support.proxy import RecordingProxy
from support.server import PrefectServer

pytestmark = pytest.mark.integration

CONSTS = """\
from enum import Enum


class Const(Enum):
    DATASET = "orders"
    PORT = 5432
"""

ETL = '''\
from prefect import flow

from lib.consts import Const


@flow
def etl(
    dataset: str = Const.DATASET.value,
    port: int = Const.PORT.value,
    member: Const = Const.DATASET,
):
    """Load one dataset."""
    print(dataset, port, member)
'''

ETL_YAML = """\
deployments:
  - name: etl
    entrypoint: flows/etl.py:etl
    work_pool: {name: process-pool}
"""


def test_a_default_from_an_enum_member_value_is_registered_as_prefect_does(
    clean_api: PrefectServer, tmp_path: Path
) -> None:
    repo = make_case_repo(
        tmp_path / "repo",
        {
            "lib/__init__.py": "",
            "lib/consts.py": CONSTS,
            "flows/etl.py": ETL,
            "prefect.yaml": ETL_YAML,
        },
    ).path
    compared = compare_with_prefect(clean_api.api_url, repo)
    (dep,) = compared.actual.values()
    properties = dep["parameter_openapi_schema"]["properties"]
    assert properties["dataset"]["default"] == "orders"
    assert properties["port"]["default"] == 5432
    assert properties["member"]["default"] == "orders"
    assert "default of" not in compared.first.stderr, completed(compared.first)


DYN = '''\
from enum import Enum

from prefect import flow


class _Other(str, Enum):
    A = "a"
    B = "b"


class Parser(str, Enum):
    locals().update(_Other.__members__)


@flow
def dyn(parser: Parser = Parser.A):
    """Parse with one parser."""
    print(parser)
'''

DYN_YAML = """\
deployments:
  - name: dyn
    entrypoint: flows/dyn.py:dyn
    work_pool: {name: process-pool}
    parameters: {parser: "b"}
"""

DYN_WARNING = (
    "flows/dyn.py:11: the members of enum Parser cannot be read from source: line 12 runs "
    "code (locals().update(_Other.__members__)); parameters and fields of this type get no type"
)


def test_an_enum_whose_members_are_made_at_run_time_is_left_open_not_empty(
    clean_api: PrefectServer, tmp_path: Path
) -> None:
    repo = make_case_repo(tmp_path / "repo", {"flows/dyn.py": DYN, "prefect.yaml": DYN_YAML}).path

    # What Prefect registers: nothing. It imports the flow, and on this Python (3.11) the
    # update binds _Other's members, which the str mixin turns into "_Other.A" / "_Other.B"
    # (on 3.10 the enum has no members at all); with enforce_parameter_schema the server
    # refuses "b" against that schema, and `prefect deploy` exits 1.
    fresh_server(clean_api.api_url)
    reference = deploy_with_prefect(repo, clean_api.api_url)
    assert reference.returncode == 1, completed(reference)
    refusal = "'b' is not one of ['_Other.A', '_Other.B']"
    assert refusal in reference.stderr, completed(reference)
    assert read_deployments(clean_api.api_url) == {}

    fresh_server(clean_api.api_url)
    applied = run_flowdeploy("apply", "--all", cwd=repo, api_url=clean_api.api_url)
    assert applied.returncode == 0, completed(applied)
    assert DYN_WARNING in " ".join(applied.stderr.split()), completed(applied)
    assert "is not one of []" not in applied.stderr + applied.stdout, completed(applied)
    (dep,) = read_deployments(clean_api.api_url).values()
    assert dep["enforce_parameter_schema"] is True
    assert dep["parameters"] == {"parser": "b"}
    schema = dep["parameter_openapi_schema"]
    assert schema["properties"]["parser"] == {"default": None, "position": 0, "title": "parser"}
    assert "enum" not in json.dumps(schema)

    with RecordingProxy(clean_api.api_url) as proxy:
        again = run_flowdeploy("apply", "--all", cwd=repo, api_url=proxy.api_url)
        assert again.returncode == 0, completed(again)
        writes = proxy.writes()
    assert not writes, "a second apply wrote:\n" + "\n".join(str(w) for w in writes)
