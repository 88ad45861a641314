"""The action's entry point, in process, as the runner drives it: real git (depth-1 checkouts
of a bare origin), a real Prefect server behind a recording proxy, a real Docker engine and
registry, and the loopback GitHub stand-in for PR comments. The same scenarios run in the
action's container in test_action_container.py."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowdeploy.action import run_action
from support.docker import DockerEngine, Registry
from support.github_api import FakeGitHub
from support.proxy import RecordingProxy
from support.server import create_work_pool
from support.workflow import (
    FLOW,
    REPOSITORY,
    Origin,
    Run,
    initial_files,
    make_origin,
    pull_request_event,
    push_event,
)


@pytest.fixture
def stage(
    tmp_path: Path,
    recording_proxy: RecordingProxy,
    docker_engine: DockerEngine,
    clean_registry: Registry,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Origin, str]]:
    """An origin with one commit on main; the pools exist; nothing is deployed yet."""
    monkeypatch.chdir(tmp_path)  # run_action changes into the workspace; this restores it
    monkeypatch.setenv("DOCKER_CONFIG", "/nonexistent")
    origin = make_origin(tmp_path)
    first = origin.commit(initial_files(clean_registry.address), "initial")
    create_work_pool(recording_proxy.api_url, "docker-pool", "docker")
    create_work_pool(recording_proxy.api_url, "process-pool", "process")
    recording_proxy.clear()
    yield origin, first


def inputs(proxy: RecordingProxy, registry: Registry, **more: str) -> dict[str, str]:
    return {
        "PREFECT-API-URL": proxy.api_url,
        "REGISTRY-USERNAME": registry.username or "",
        "REGISTRY-PASSWORD": registry.password or "",
        **{k.upper().replace("_", "-"): v for k, v in more.items()},
    }


def act(
    run: Run, workspace: Path, engine: DockerEngine, github: FakeGitHub | None = None
) -> tuple[int, str]:
    extra = {"DOCKER_HOST": engine.host}
    if github is not None:
        extra["GITHUB_API_URL"] = github.api_url
    out = io.StringIO()
    code = run_action({**run.environ(workspace), **extra}, out)
    return code, out.getvalue()


def test_push_applies_only_the_affected_deployment_once_then_nothing(
    tmp_path: Path,
    stage: tuple[Origin, str],
    recording_proxy: RecordingProxy,
    docker_engine: DockerEngine,
    clean_registry: Registry,
) -> None:
    origin, first = stage
    given = inputs(recording_proxy, clean_registry)
    dispatch = Run(tmp_path / "t0", "workflow_dispatch", {}, first, "refs/heads/main", given)
    code, log = act(dispatch, origin.checkout(first, tmp_path / "ws0"), docker_engine)
    assert code == 0, log
    assert dispatch.outputs()["created"] == "3"
    recording_proxy.clear()

    second = origin.commit({"flows/b.py": FLOW.format(name="b", doc="Flow b, v2.")}, "b")
    push = Run(tmp_path / "t1", "push", push_event(first, second), second, "refs/heads/main", given)
    workspace = origin.checkout(second, tmp_path / "ws1")
    code, log = act(push, workspace, docker_engine)
    assert code == 0, log
    outputs = push.outputs()
    assert (outputs["updated"], outputs["created"], outputs["unchanged"]) == ("1", "0", "0")
    assert outputs["image"] == f"{clean_registry.address}/team/flows:{second}"
    writes = recording_proxy.writes()
    assert [(w.method, w.path.split("/")[-2]) for w in writes] == [("PATCH", "deployments")]
    assert clean_registry.manifest_exists("team/flows", second)
    summary = push.summary()
    assert "flowdeploy apply" in summary and "<code>b/boxed-too</code>" in summary
    assert "flows/b.py changed" in summary
    assert json.loads(outputs["projects"]) == ["."]
    ids = json.loads(outputs["deployment-ids"])
    assert list(ids) == ["b/boxed-too"]

    # The same push again (a re-run): nothing written, nothing built.
    recording_proxy.clear()
    again = Run(
        tmp_path / "t2", "push", push_event(first, second), second, "refs/heads/main", given
    )
    code, log = act(again, workspace, docker_engine)
    assert code == 0, log
    assert recording_proxy.writes() == []
    assert again.outputs()["unchanged"] == "1"
    assert "already in the registry" in log and "::group::Docker image" not in log


def test_pull_request_plans_comments_once_and_writes_nothing(
    tmp_path: Path,
    stage: tuple[Origin, str],
    recording_proxy: RecordingProxy,
    docker_engine: DockerEngine,
    clean_registry: Registry,
    github: FakeGitHub,
) -> None:
    origin, first = stage
    given = inputs(recording_proxy, clean_registry, github_token=github.token)
    dispatch = Run(tmp_path / "t0", "workflow_dispatch", {}, first, "refs/heads/main", given)
    assert act(dispatch, origin.checkout(first, tmp_path / "ws0"), docker_engine)[0] == 0
    tags_before = clean_registry.tags("team/flows")
    recording_proxy.clear()

    origin.branch_from("feature", first)
    yaml_text = (origin.work / "prefect.yaml").read_text().replace("{n: 1}", "{n: 5}")
    head = origin.commit({"prefect.yaml": yaml_text}, "n=5", branch="feature")
    event = pull_request_event(7, first, head)
    pr = Run(tmp_path / "t1", "pull_request", event, head, "refs/pull/7/merge", given)
    code, log = act(pr, origin.checkout(head, tmp_path / "ws1"), docker_engine, github)
    assert code == 0, log
    assert recording_proxy.writes() == []
    assert clean_registry.tags("team/flows") == tags_before
    comments = github.comments(REPOSITORY, 7)
    assert len(comments) == 1
    assert "<code>c/local</code>" in comments[0]["body"]
    assert "<code>parameters.n</code>" in comments[0]["body"]
    assert pr.outputs()["updated"] == "1"

    head2 = origin.commit({"flows/c.py": FLOW.format(name="c", doc="Flow c, v2.")}, "doc")
    pr2 = Run(
        tmp_path / "t2", "pull_request", pull_request_event(7, first, head2), head2, "x", given
    )
    code, log = act(pr2, origin.checkout(head2, tmp_path / "ws2"), docker_engine, github)
    assert code == 0, log
    comments = github.comments(REPOSITORY, 7)
    assert len(comments) == 1 and "Flow c, v2." in comments[0]["body"]
    methods = [r.method for r in github.writes()]
    assert methods == ["POST", "PATCH"]
    assert recording_proxy.writes() == []


def test_fork_pull_request_without_secrets_plans_from_git_alone(
    tmp_path: Path,
    stage: tuple[Origin, str],
    docker_engine: DockerEngine,
    github: FakeGitHub,
) -> None:
    origin, first = stage
    origin.branch_from("feature", first)
    yaml_text = (origin.work / "prefect.yaml").read_text().replace("{n: 1}", "{n: 9}")
    head = origin.commit({"prefect.yaml": yaml_text}, "n=9", branch="feature")
    event = pull_request_event(8, first, head, fork=True)
    pr = Run(tmp_path / "t1", "pull_request", event, head, "refs/pull/8/merge", {})
    code, log = act(pr, origin.checkout(head, tmp_path / "ws"), docker_engine, github)
    assert code == 0, log
    assert "::notice" in log and "no PR comment" in log
    assert github.requests == []
    summary = pr.summary()
    assert "<code>parameters.n</code>" in summary and "<code>9</code>" in summary
    assert "no Prefect server" in summary
    assert pr.outputs()["updated"] == "1"


def test_drift_check_and_apply_without_a_url(
    tmp_path: Path,
    stage: tuple[Origin, str],
    recording_proxy: RecordingProxy,
    docker_engine: DockerEngine,
    clean_registry: Registry,
) -> None:
    origin, first = stage
    workspace = origin.checkout(first, tmp_path / "ws")
    given = inputs(recording_proxy, clean_registry, mode="plan", all="true")
    drift = Run(
        tmp_path / "t0",
        "schedule",
        {},
        first,
        "refs/heads/main",
        {**given, "FAIL-ON-CHANGES": "true"},
    )
    code, log = act(drift, workspace, docker_engine)
    assert code == 1 and "fail-on-changes" in log
    assert recording_proxy.writes() == []

    nothing = Run(tmp_path / "t1", "push", push_event(first, first), first, "refs/heads/main", {})
    code, log = act(nothing, workspace, docker_engine)
    assert code == 2
    assert "::error" in log and "prefect-api-url" in log
    assert "no Prefect API URL" in nothing.summary()


def test_monorepo_plan_lists_only_the_affected_projects_for_a_matrix(
    tmp_path: Path,
    recording_proxy: RecordingProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    create_work_pool(recording_proxy.api_url, "process-pool", "process")
    recording_proxy.clear()
    origin = make_origin(tmp_path)
    files = {}
    for name in ("alpha", "beta", "gamma"):
        files[f"projects/{name}/flows/{name}.py"] = FLOW.format(name=name, doc=name)
        files[f"projects/{name}/prefect.yaml"] = (
            f"deployments:\n- name: {name}\n  entrypoint: flows/{name}.py:{name}\n"
            "  work_pool: {name: process-pool}\n"
        )
    first = origin.commit(files, "three projects")
    second = origin.commit(
        {
            "projects/beta/flows/beta.py": FLOW.format(name="beta", doc="beta v2"),
            "projects/gamma/prefect.yaml": files["projects/gamma/prefect.yaml"]
            + "  tags: [nightly]\n",
        },
        "beta and gamma",
    )
    given = {
        "PREFECT-API-URL": recording_proxy.api_url,
        "MODE": "plan",
        "PREFECT-FILE": "projects/*/prefect.yaml",
    }
    run = Run(tmp_path / "t", "push", push_event(first, second), second, "refs/heads/main", given)
    workspace = origin.checkout(second, tmp_path / "ws")
    out = io.StringIO()
    code = run_action(run.environ(workspace), out)
    assert code == 0, out.getvalue()
    assert json.loads(run.outputs()["projects"]) == ["projects/beta", "projects/gamma"]
    assert run.outputs()["created"] == "2"
    assert recording_proxy.writes() == []
