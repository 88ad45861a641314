"""Patterns from real public repositories, each deployed by `prefect deploy` and by flowdeploy
and compared field by field (tests/support/conformance.py); a second apply writes nothing.

Issue 11, points 1 (a prefect.yaml in a subdirectory), 4 (trigger fields the server stores as
sets, and other values it normalises), 7 (a flow without a docstring) and 8 (the version on
every commit).
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

ETL = '''\
from prefect import flow


@flow(log_prints=True)
def etl(source: str = "orders", limit: int = 10) -> None:
    """Load one source."""
    print(source, limit)
'''

BARE = """\
from prefect import flow


@flow
def bare(n: int = 1) -> None:
    print(n)
"""


def _plan(repo: Path, api_url: str, *args: str) -> dict[str, object]:
    cp = run_flowdeploy("plan", *args, "--format", "json", cwd=repo, api_url=api_url)
    assert cp.returncode == 0, completed(cp)
    document: dict[str, object] = json.loads(cp.stdout)
    return document


def _actions(document: dict[str, object]) -> dict[str, str]:
    entries = document["deployments"]
    assert isinstance(entries, list)
    return {d["name"]: d["action"] for d in entries}


# -- 1. a prefect.yaml in a subdirectory, run from the repository root ---------------------------

ETL_ENTRY = """\
  - name: etl-nightly
    entrypoint: flows/etl.py:etl
    work_pool: {name: process-pool}
    schedules:
      - cron: "0 2 * * *"
"""
SUBDIR_YAML = "deployments:\n" + ETL_ENTRY


def test_a_prefect_file_in_a_subdirectory_resolves_entrypoints_from_where_it_runs(
    clean_api: PrefectServer, tmp_path: Path
) -> None:
    repo = make_case_repo(
        tmp_path / "repo", {"flows/etl.py": ETL, "deploy/etl.yaml": SUBDIR_YAML}
    ).path
    args = ("--all", "--prefect-file", "deploy/etl.yaml")
    compared = compare_with_prefect(
        clean_api.api_url, repo, prefect_args=args, flowdeploy_args=("apply", *args)
    )
    (dep,) = compared.actual.values()
    assert dep["entrypoint"] == "flows/etl.py:etl"
    # The default pull step names the directory prefect deploy ran in: the repository root.
    directory = dep["pull_steps"][0]["prefect.deployments.steps.set_working_directory"]
    assert directory["directory"] == str(repo.resolve())


def test_an_entrypoint_found_only_next_to_the_prefect_file_is_explained(
    clean_api: PrefectServer, tmp_path: Path
) -> None:
    yaml = SUBDIR_YAML.replace("flows/etl.py", "etl.py")
    repo = make_case_repo(tmp_path / "repo", {"deploy/etl.py": ETL, "deploy/etl.yaml": yaml}).path
    fresh_server(clean_api.api_url)
    reference = deploy_with_prefect(
        repo, clean_api.api_url, "--all", "--prefect-file", "deploy/etl.yaml"
    )
    assert reference.returncode != 0, "prefect deploy was expected to fail here"
    assert read_deployments(clean_api.api_url) == {}

    cp = run_flowdeploy(
        "apply", "--all", "--prefect-file", "deploy/etl.yaml", cwd=repo, api_url=clean_api.api_url
    )
    assert cp.returncode == 2, completed(cp)
    assert "deploy/etl.yaml:3" in cp.stderr, completed(cp)
    assert "deploy/etl.py" in cp.stderr and "--project-dir deploy" in cp.stderr, completed(cp)
    assert read_deployments(clean_api.api_url) == {}

    # Run from the file's folder, as Prefect would need: it deploys.
    moved = run_flowdeploy(
        "apply",
        "--all",
        "--prefect-file",
        "etl.yaml",
        cwd=repo / "deploy",
        api_url=clean_api.api_url,
    )
    assert moved.returncode == 0, completed(moved)
    assert list(read_deployments(clean_api.api_url)) == ["etl/etl-nightly"]


def test_an_entrypoint_found_both_ways_says_which_file_was_used(
    clean_api: PrefectServer, tmp_path: Path
) -> None:
    repo = make_case_repo(
        tmp_path / "repo",
        {"flows/etl.py": ETL, "deploy/flows/etl.py": BARE, "deploy/etl.yaml": SUBDIR_YAML},
    ).path
    args = ("--all", "--prefect-file", "deploy/etl.yaml")
    compared = compare_with_prefect(
        clean_api.api_url, repo, prefect_args=args, flowdeploy_args=("apply", *args)
    )
    assert list(compared.actual) == ["etl/etl-nightly"]
    assert "flows/etl.py" in compared.first.stderr
    assert "deploy/flows/etl.py" in compared.first.stderr, completed(compared.first)


# -- 4. values the server normalises ----------------------------------------------------------

TRIGGERS_YAML = """\
deployments:
  - name: on-upstream
    entrypoint: flows/etl.py:etl
    work_pool: {name: process-pool}
    tags: [nightly, etl, nightly]
    triggers:
      - type: event
        enabled: true
        match: {"prefect.resource.id": "prefect.flow-run.*"}
        expect: [prefect.flow-run.Failed, prefect.flow-run.Completed, prefect.flow-run.Crashed]
        after: ["prefect.flow-run.Running", "prefect.flow-run.Pending"]
        for_each: ["prefect.resource.id", "prefect.resource.name"]
        posture: Reactive
        threshold: 1
      - type: compound
        require: all
        within: 3600
        triggers:
          - type: event
            expect: ["zeta.done", "alpha.done"]
            match: {"prefect.resource.id": "x.*"}
          - type: event
            expect: ["beta.done"]
            after: ["b.start", "a.start"]
            match: {"prefect.resource.id": "y.*"}
"""


def test_trigger_sets_and_tags_in_any_order_write_once(
    clean_api: PrefectServer, tmp_path: Path
) -> None:
    repo = make_case_repo(
        tmp_path / "repo", {"flows/etl.py": ETL, "prefect.yaml": TRIGGERS_YAML}
    ).path
    compared = compare_with_prefect(clean_api.api_url, repo)
    (dep,) = compared.actual.values()
    assert len(dep["automations"]) == 2
    assert "unchanged" in compared.second.stdout


# -- 7. a flow without a docstring ------------------------------------------------------------

BARE_YAML = """\
deployments:
  - name: bare
    entrypoint: flows/bare.py:bare
    work_pool: {name: process-pool}
"""


def test_a_flow_without_docstring_has_a_null_description_and_migrates_once(
    clean_api: PrefectServer, tmp_path: Path
) -> None:
    repo = make_case_repo(
        tmp_path / "repo", {"flows/bare.py": BARE, "prefect.yaml": BARE_YAML}
    ).path
    compared = compare_with_prefect(clean_api.api_url, repo, allow=("description",))
    (reference,) = compared.expected.values()
    (ours,) = compared.actual.values()
    assert reference["description"] == "None", "Prefect 3.9.1 stores the text 'None'"
    assert ours["description"] is None

    # Coming from prefect deploy: one update of the description, then nothing.
    fresh_server(clean_api.api_url)
    assert deploy_with_prefect(repo, clean_api.api_url).returncode == 0
    first = _plan(repo, clean_api.api_url, "--all")
    (entry,) = first["deployments"]  # type: ignore[misc]
    assert entry["action"] == "update"
    assert set(entry["changes"]) == {"description"}
    applied = run_flowdeploy("apply", "--all", cwd=repo, api_url=clean_api.api_url)
    assert applied.returncode == 0, completed(applied)
    assert _actions(_plan(repo, clean_api.api_url, "--all")) == {"bare/bare": "unchanged"}


# -- 8. the version on every commit -----------------------------------------------------------

ORIGIN = "https://github.com/example-org/example-flows.git"


def test_a_commit_that_changes_nothing_deployed_writes_nothing(
    clean_api: PrefectServer, tmp_path: Path
) -> None:
    case = make_case_repo(
        tmp_path / "repo",
        {"flows/etl.py": ETL, "flows/bare.py": BARE, "prefect.yaml": BARE_YAML + ETL_ENTRY},
        origin=ORIGIN,
    )
    compared = compare_with_prefect(clean_api.api_url, case.path, allow=("description",))
    first_versions = {k: d["version"] for k, d in compared.actual.items()}
    assert set(first_versions.values()) == {case.sha()[:8]}, "Prefect's version is the commit"

    case.commit({"README.md": "docs only\n"}, message="docs")
    assert set(_actions(_plan(case.path, clean_api.api_url, "--all")).values()) == {"unchanged"}
    with RecordingProxy(clean_api.api_url) as proxy:
        cp = run_flowdeploy("apply", "--all", cwd=case.path, api_url=proxy.api_url)
        assert cp.returncode == 0, completed(cp)
        assert proxy.writes() == []

    # A real change writes, and records the commit it was made in.
    sha = case.commit(
        {
            "prefect.yaml": (case.path / "prefect.yaml")
            .read_text()
            .replace("name: bare\n", "name: bare\n    tags: [changed]\n")
        },
        message="tag bare",
    )
    cp = run_flowdeploy("apply", "--all", cwd=case.path, api_url=clean_api.api_url)
    assert cp.returncode == 0, completed(cp)
    versions = {k: d["version"] for k, d in read_deployments(clean_api.api_url).items()}
    assert versions == {"bare/bare": sha[:8], "etl/etl-nightly": first_versions["etl/etl-nightly"]}


def test_an_explicit_version_change_is_written(clean_api: PrefectServer, tmp_path: Path) -> None:
    case = make_case_repo(
        tmp_path / "repo",
        {"flows/bare.py": BARE, "prefect.yaml": BARE_YAML + '    version: "1.0"\n'},
        origin=ORIGIN,
    )
    compare_with_prefect(clean_api.api_url, case.path, allow=("description",))
    case.commit({"prefect.yaml": BARE_YAML + '    version: "1.1"\n'}, message="bump")
    plan = _plan(case.path, clean_api.api_url, "--all")
    (entry,) = plan["deployments"]  # type: ignore[misc]
    assert entry["action"] == "update" and set(entry["changes"]) == {"version"}


# -- numbers written as text, as Prefect's models read them ------------------------------------

QUOTED_YAML = """\
deployments:
  - name: quoted
    entrypoint: flows/etl.py:etl
    work_pool: {name: process-pool}
    concurrency_limit: "2"
  - name: quoted-mapping
    entrypoint: flows/etl.py:etl
    work_pool: {name: process-pool}
    concurrency_limit: {limit: "3", collision_strategy: CANCEL_NEW}
"""


def test_a_concurrency_limit_written_as_text_is_the_number(
    clean_api: PrefectServer, tmp_path: Path
) -> None:
    repo = make_case_repo(tmp_path / "repo", {"flows/etl.py": ETL, "prefect.yaml": QUOTED_YAML})
    compared = compare_with_prefect(clean_api.api_url, repo.path)
    limits = {k: d["concurrency"]["limit"] for k, d in compared.actual.items()}
    assert limits == {"etl/quoted": 2, "etl/quoted-mapping": 3}


# -- the default pull step of a deployment that builds nothing ----------------------------------

EMPTY_BUILD_YAML = """\
build:
  - prefect_docker.deployments.steps.build_docker_image:
      id: build-image
      image_name: registry.example.com/team/flows
      dockerfile: auto
deployments:
  - name: no-build
    entrypoint: flows/etl.py:etl
    build: []
    work_pool: {name: process-pool}
"""


def test_build_empty_takes_the_default_pull_step_from_the_files_build(
    clean_api: PrefectServer, tmp_path: Path
) -> None:
    """Prefect derives the default pull step from ``deploy_config.get("build") or
    actions["build"]``: the file's Docker build, although this deployment builds nothing."""
    repo = make_case_repo(
        tmp_path / "repo", {"flows/etl.py": ETL, "prefect.yaml": EMPTY_BUILD_YAML}
    ).path
    compared = compare_with_prefect(clean_api.api_url, repo)
    (dep,) = compared.actual.values()
    step = dep["pull_steps"][0]["prefect.deployments.steps.set_working_directory"]
    assert step["directory"] == f"/opt/prefect/{repo.name}"
