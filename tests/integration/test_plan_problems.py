"""What a new user meets in the first hour: a work pool that does not exist yet, and edits not
committed when planning with --base. Real git repositories and a real Prefect server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.conformance import completed, fresh_server, make_case_repo, run_flowdeploy
from support.oracle import read_deployments
from support.proxy import RecordingProxy
from support.server import PrefectServer

pytestmark = pytest.mark.integration

FLOW = '''\
from prefect import flow


@flow
def {name}(n: int = 1) -> None:
    """A flow."""
'''


def _files(pools: dict[str, str]) -> dict[str, str]:
    files = {f"flows/{name}.py": FLOW.format(name=name) for name in pools}
    entries = "".join(
        f"  - name: {name}-dep\n    entrypoint: flows/{name}.py:{name}\n"
        f"    work_pool: {{name: {pool}}}\n"
        for name, pool in pools.items()
    )
    files["prefect.yaml"] = "deployments:\n" + entries
    return files


def test_a_missing_pool_is_one_error_and_the_plan_is_still_shown(
    clean_api: PrefectServer, tmp_path: Path
) -> None:
    pools = {
        "a": "gpu-pool",
        "b": "gpu-pool",
        "c": "process-pool",
        "d": "gpu-pool",
        "e": "gpu-pool",
    }
    repo = make_case_repo(tmp_path / "repo", _files(pools)).path
    fresh_server(clean_api.api_url)

    plan = run_flowdeploy("plan", "--all", "--format", "json", cwd=repo, api_url=clean_api.api_url)
    assert plan.returncode == 2, completed(plan)
    document = json.loads(plan.stdout)
    assert document["scope"]["rebuild_image"] is False, "the project has no image"
    problems = {d["name"]: d["problems"] for d in document["deployments"]}
    assert set(problems) == {"a/a-dep", "b/b-dep", "c/c-dep", "d/d-dep", "e/e-dep"}
    assert problems["c/c-dep"] == []
    assert all(
        problems[n] == ["work pool 'gpu-pool' does not exist"] for n in problems if n != "c/c-dep"
    )
    (error,) = document["errors"]
    assert error["message"] == "work pool 'gpu-pool' does not exist (4 deployments)"
    assert error["line"] == 4
    for name, line in (("a/a-dep", 4), ("b/b-dep", 7), ("d/d-dep", 13), ("e/e-dep", 16)):
        assert f"{name} (prefect.yaml:{line})" in error["why"], error["why"]
    assert "prefect work-pool create gpu-pool" in error["fix"]

    text = run_flowdeploy("plan", "--all", cwd=repo, api_url=clean_api.api_url)
    assert text.returncode == 2
    assert text.stderr.count("error:") == 1, completed(text)
    assert "c/c-dep" in text.stdout and "e/e-dep" in text.stdout, completed(text)

    with RecordingProxy(clean_api.api_url) as proxy:
        apply = run_flowdeploy("apply", "--all", cwd=repo, api_url=proxy.api_url)
        assert apply.returncode == 2, completed(apply)
        assert proxy.writes() == []
    assert read_deployments(clean_api.api_url) == {}


def test_uncommitted_edits_that_would_add_deployments_are_named(
    clean_api: PrefectServer, tmp_path: Path
) -> None:
    case = make_case_repo(tmp_path / "repo", _files({"a": "process-pool", "b": "process-pool"}))
    base = case.sha()
    case.commit({"flows/a.py": FLOW.format(name="a") + "# touched\n"}, message="touch a")
    fresh_server(clean_api.api_url)
    clean = run_flowdeploy(
        "plan", "--base", base, "--format", "json", cwd=case.path, api_url=clean_api.api_url
    )
    assert clean.returncode == 0, completed(clean)
    assert json.loads(clean.stdout)["warnings"] == []

    (case.path / "flows/b.py").write_text(FLOW.format(name="b") + "# edited, not committed\n")
    (case.path / "flows/a.py").write_text(FLOW.format(name="a") + "# in the plan already\n")
    (case.path / "notes.md").write_text("untracked, affects nothing\n")
    dirty = run_flowdeploy(
        "plan", "--base", base, "--format", "json", cwd=case.path, api_url=clean_api.api_url
    )
    assert dirty.returncode == 0, completed(dirty)
    document = json.loads(dirty.stdout)
    assert [d["name"] for d in document["deployments"]] == ["a/a-dep"]
    (warning,) = document["warnings"]
    assert "uncommitted changes to flows/b.py are left out" in warning, warning
    assert "flows/a.py" not in warning and "notes.md" not in warning
