"""Parameter types from a package of the same repository, installed as a path dependency.

Issue 11, point 3: a flow annotates a parameter with ``core.models.enums.Color`` (and a pydantic
model) from ``libs/core/``, which the project installs as a poetry path dependency, a uv
workspace member, or just by a script. Prefect imports the flow (``PYTHONPATH`` stands for the
installed package) and registers the full ``definitions`` schema; flowdeploy must register the
same from the repository's declarations alone, and a change to that package must affect the
deployments whose flows import it.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from support.conformance import (
    compare_with_prefect,
    completed,
    fresh_server,
    make_case_repo,
    run_flowdeploy,
)
from support.gitrepo import Files
from support.server import PrefectServer

pytestmark = pytest.mark.integration

ENUMS = """\
from enum import Enum


class Color(str, Enum):
    \"\"\"Colors a batch can be tagged with.\"\"\"

    RED = "red"
    GREEN = "green"
"""

RECORDS = """\
from pydantic import BaseModel, Field

from core.models.enums import Color


class Batch(BaseModel):
    \"\"\"One unit of work.\"\"\"

    name: str
    size: int = Field(default=10, ge=1, description="rows per batch")
    color: Color = Color.RED
"""

FLOW = """\
from prefect import flow

from core.models.enums import Color
from core.models.records import Batch


@flow(log_prints=True)
def etl(color: Color = Color.GREEN, batch: Batch | None = None, limit: int = 5) -> None:
    \"\"\"Load the batches of one color.\"\"\"
    print(color, batch, limit)
"""

OTHER_FLOW = """\
from prefect import flow


@flow
def report(region: str = "eu") -> str:
    \"\"\"Summarize one region (imports nothing from core).\"\"\"
    return region
"""

PREFECT_YAML = """\
deployments:
- name: etl-daily
  entrypoint: flows/etl.py:etl
  parameters:
    color: red
  work_pool:
    name: process-pool
- name: report
  entrypoint: flows/report.py:report
  work_pool:
    name: process-pool
"""


def core_package(root: str) -> dict[str, str]:
    """``core`` with its models, as files under ``root`` (the folder holding ``core/``)."""
    return {
        f"{root}/core/__init__.py": "",
        f"{root}/core/models/__init__.py": "",
        f"{root}/core/models/enums.py": ENUMS,
        f"{root}/core/models/records.py": RECORDS,
    }


def flows(project: str = "") -> dict[str, str]:
    prefix = f"{project}/" if project else ""
    return {
        f"{prefix}prefect.yaml": PREFECT_YAML,
        f"{prefix}flows/etl.py": FLOW,
        f"{prefix}flows/report.py": OTHER_FLOW,
    }


def dedent(files: dict[str, str]) -> Files:
    return {name: textwrap.dedent(text) for name, text in files.items()}


POETRY: Files = dedent(
    {
        **flows(),
        **core_package("libs/core"),
        "pyproject.toml": """
            [tool.poetry]
            name = "pipelines"
            version = "0.1.0"
            package-mode = false

            [tool.poetry.dependencies]
            python = "^3.10"
            prefect = "^3.0"
            core = { path = "libs/core", develop = true }
        """,
        "libs/core/pyproject.toml": """
            [tool.poetry]
            name = "core"
            version = "0.1.0"
            packages = [{ include = "core" }]

            [build-system]
            requires = ["poetry-core"]
            build-backend = "poetry.core.masonry.api"
        """,
    }
)

UV_WORKSPACE: Files = dedent(
    {
        **flows(),
        **core_package("libs/core/src"),
        "pyproject.toml": """
            [project]
            name = "pipelines"
            version = "0.1.0"
            requires-python = ">=3.10"
            dependencies = ["prefect>=3", "core"]

            [tool.uv.sources]
            core = { workspace = true }

            [tool.uv.workspace]
            members = ["libs/*"]
        """,
        "libs/core/pyproject.toml": """
            [project]
            name = "core"
            version = "0.1.0"
            dependencies = ["pydantic>=2"]

            [build-system]
            requires = ["uv_build>=0.8"]
            build-backend = "uv_build"
        """,
    }
)

# No declaration at all: the Dockerfile installs the package; flowdeploy finds the folder.
UNDECLARED: Files = dedent(
    {
        **flows(),
        **core_package("libs/core"),
        "Dockerfile": "FROM python:3.12-slim\nCOPY . /app\nRUN pip install /app/libs/core\n",
        "tests/core/__init__.py": "",  # tests mirroring the package name are not the package
        "tests/core/test_enums.py": "def test_nothing():\n    pass\n",
    }
)

# A project in a subfolder, installing the package with a relative editable requirement.
SUBPROJECT: Files = dedent(
    {
        **flows("pipelines"),
        **core_package("shared/core"),
        "pipelines/requirements.txt": "prefect>=3\n-e ../shared/core\n",
        "shared/core/setup.cfg": """
            [metadata]
            name = core

            [options]
            packages = find:
        """,
    }
)

CASES: dict[str, tuple[Files, str, str]] = {
    # name: (files, project folder, PYTHONPATH standing for the installed package)
    "poetry-path-dependency": (POETRY, "", "libs/core"),
    "uv-workspace-member": (UV_WORKSPACE, "", "libs/core/src"),
    "undeclared-package-folder": (UNDECLARED, "", "libs/core"),
    "subproject-editable-requirement": (SUBPROJECT, "pipelines", "shared/core"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_parameter_types_from_a_local_package_match_prefect(
    clean_api: PrefectServer, tmp_path: Path, case: str
) -> None:
    files, project, pythonpath = CASES[case]
    repo = make_case_repo(tmp_path / "repo", files).path
    cwd = repo / project if project else None
    compared = compare_with_prefect(clean_api.api_url, repo, cwd=cwd, pythonpath=[pythonpath])

    etl = next(d for d in compared.actual.values() if d["name"] == "etl-daily")
    schema: dict[str, Any] = etl["parameter_openapi_schema"]
    # the point of the case: the full schema, not the open one of a type flowdeploy lost
    assert schema["properties"]["color"]["$ref"] == "#/definitions/Color", schema
    assert set(schema["definitions"]) == {"Color", "Batch"}, schema
    assert "defined outside the repository" not in compared.first.stdout + compared.first.stderr


def test_a_change_to_the_local_package_affects_its_importers(
    clean_api: PrefectServer, tmp_path: Path
) -> None:
    fresh_server(clean_api.api_url)
    repo = make_case_repo(tmp_path / "repo", POETRY)
    base = repo.sha()
    repo.commit(
        {"libs/core/core/models/enums.py": ENUMS + '    BLUE = "blue"\n'},
        message="core: a new color",
    )

    result = run_flowdeploy(
        "plan", "--base", base, "--format", "json", cwd=repo.path, api_url=clean_api.api_url
    )
    assert result.returncode == 0, completed(result)
    doc: dict[str, Any] = json.loads(result.stdout)
    planned = {d["name"]: d for d in doc["deployments"] if d["action"] != "orphaned"}
    assert set(planned) == {"etl/etl-daily"}, json.dumps(doc["deployments"], indent=1)
    reasons = " ".join(planned["etl/etl-daily"]["reasons"])
    assert "libs/core/core/models/enums.py" in reasons, reasons
    # the new member reaches the schema that would be registered
    assert planned["etl/etl-daily"]["action"] == "create"
