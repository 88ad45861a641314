"""End to end, as GitHub's runner does it: the action image built with `docker build` from
the real Dockerfile (on a local Debian base, with wheels built on the host), then `docker run`
the way the runner runs a Docker action: the workspace (a depth-1 checkout owned by another
uid) at /github/workspace, GITHUB_* and INPUT_* in the environment, the event JSON, the
Docker socket, and the host network to reach the real Prefect server (behind a recording
proxy), the real registry and the GitHub stand-in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from support.actionimage import (
    ActionImageError,
    BuiltImage,
    RunResult,
    chown_tree,
    prepare_action_image,
    run_action,
)
from support.docker import DockerEngine, Registry
from support.github_api import FakeGitHub
from support.proxy import RecordingProxy
from support.server import create_work_pool
from support.workflow import (
    FLOW,
    REPOSITORY,
    Origin,
    initial_files,
    make_origin,
    parse_outputs,
    pull_request_event,
    push_event,
)


@pytest.fixture(scope="module")
def action_image(docker_engine: DockerEngine) -> BuiltImage:
    try:
        return prepare_action_image(docker_engine)
    except ActionImageError as exc:
        pytest.fail(f"the action image could not be built:\n{exc}", pytrace=False)


@pytest.fixture
def origin(
    tmp_path: Path, recording_proxy: RecordingProxy, clean_registry: Registry
) -> tuple[Origin, str]:
    origin = make_origin(tmp_path)
    first = origin.commit(initial_files(clean_registry.address), "initial")
    create_work_pool(recording_proxy.api_url, "docker-pool", "docker")
    create_work_pool(recording_proxy.api_url, "process-pool", "process")
    recording_proxy.clear()
    return origin, first


class Runner:
    """Runs the action container for one job after another, each on a fresh checkout."""

    def __init__(
        self,
        root: Path,
        engine: DockerEngine,
        image: BuiltImage,
        origin: Origin,
        inputs: dict[str, str],
    ) -> None:
        self.root = root
        self.engine = engine
        self.image = image
        self.origin = origin
        self.inputs = inputs
        self.jobs = 0

    def __call__(
        self,
        event_name: str,
        event: dict[str, Any],
        sha: str,
        *,
        ref: str = "refs/heads/main",
        github: FakeGitHub | None = None,
        inputs: dict[str, str] | None = None,
    ) -> tuple[RunResult, dict[str, str]]:
        self.jobs += 1
        job = self.root / f"job{self.jobs}"
        workspace = self.origin.checkout(sha, job / "workspace")
        chown_tree(workspace)  # the runner's user owns the checkout; the container is root
        given = self.inputs if inputs is None else inputs
        env = {
            "GITHUB_EVENT_NAME": event_name,
            "GITHUB_SHA": sha,
            "GITHUB_REF": ref,
            "GITHUB_REPOSITORY": REPOSITORY,
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_API_URL": github.api_url if github else "https://api.github.com",
            "GITHUB_RUN_ID": str(1000 + self.jobs),
            "GITHUB_WORKFLOW_REF": f"{REPOSITORY}/.github/workflows/deploy.yml@{ref}",
            **{f"INPUT_{k.upper()}": v for k, v in given.items()},
        }
        result = run_action(
            self.engine,
            self.image.tag,
            workspace=workspace,
            env=env,
            event=event,
            runner_temp=job / "_temp",
            volumes=[(self.origin.bare, str(self.origin.bare))],
        )
        return result, parse_outputs(result.output_file_text)


@pytest.fixture
def runner(
    tmp_path: Path,
    docker_engine: DockerEngine,
    action_image: BuiltImage,
    origin: tuple[Origin, str],
    recording_proxy: RecordingProxy,
    clean_registry: Registry,
) -> Runner:
    inputs = {
        "PREFECT-API-URL": recording_proxy.api_url,
        "REGISTRY-USERNAME": clean_registry.username or "",
        "REGISTRY-PASSWORD": clean_registry.password or "",
    }
    return Runner(tmp_path / "runner", docker_engine, action_image, origin[0], inputs)


def _log(result: RunResult) -> str:
    return f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def test_push_then_the_same_push_again(
    runner: Runner,
    origin: tuple[Origin, str],
    recording_proxy: RecordingProxy,
    clean_registry: Registry,
) -> None:
    repo, first = origin
    # The first deployment of the repository (a manual run: every deployment).
    done, outputs = runner("workflow_dispatch", {}, first)
    assert done.exit_code == 0, _log(done)
    assert outputs["created"] == "3"
    assert clean_registry.tags("team/flows") == [first]

    # (a) a push that changes one flow of the image: only its deployment is written, the
    # image is built and pushed once for the new SHA; outputs and summary are written.
    second = repo.commit({"flows/b.py": FLOW.format(name="b", doc="Flow b, v2.")}, "b")
    recording_proxy.clear()
    done, outputs = runner("push", push_event(first, second), second)
    assert done.exit_code == 0, _log(done)
    writes = [(w.method, w.path.rstrip("/").split("/")[-2]) for w in recording_proxy.writes()]
    assert writes == [("PATCH", "deployments")]
    assert sorted(clean_registry.tags("team/flows")) == sorted([first, second])
    assert outputs["image"] == f"{clean_registry.address}/team/flows:{second}"
    assert (outputs["updated"], outputs["created"], outputs["failed"]) == ("1", "0", "0")
    assert list(json.loads(outputs["deployment-ids"])) == ["b/boxed-too"]
    assert json.loads(outputs["plan-json"])["deployments"][0]["status"] == "updated"
    assert "<code>b/boxed-too</code>" in done.summary_text
    assert "built and pushed (sha256:" in done.summary_text
    assert done.stdout.index("::add-mask::") == 0
    shown = [line for line in done.stdout.splitlines() if not line.startswith("::add-mask::")]
    everything = "\n".join(shown) + done.stderr + done.summary_text + done.output_file_text
    assert (clean_registry.password or "") not in everything

    # (b) the same push again (a re-run of the job): zero writes, nothing built.
    recording_proxy.clear()
    done, outputs = runner("push", push_event(first, second), second)
    assert done.exit_code == 0, _log(done)
    assert recording_proxy.writes() == []
    assert outputs["unchanged"] == "1" and outputs["updated"] == "0"
    assert "::group::Docker image" not in done.stdout
    assert "already in the registry" in done.summary_text


def test_pull_request_comments_once_then_edits_and_writes_nothing(
    runner: Runner,
    origin: tuple[Origin, str],
    recording_proxy: RecordingProxy,
    clean_registry: Registry,
    github: FakeGitHub,
) -> None:
    repo, first = origin
    done, _ = runner("workflow_dispatch", {}, first)
    assert done.exit_code == 0, _log(done)
    tags = clean_registry.tags("team/flows")
    inputs = {**runner.inputs, "GITHUB-TOKEN": github.token}

    # (c) a pull request: the plan as one comment, nothing written or pushed.
    repo.branch_from("feature", first)
    text = (repo.work / "prefect.yaml").read_text().replace("{n: 1}", "{n: 5}")
    head = repo.commit({"prefect.yaml": text}, "n=5", branch="feature")
    recording_proxy.clear()
    event = pull_request_event(7, first, head)
    done, outputs = runner("pull_request", event, head, github=github, inputs=inputs)
    assert done.exit_code == 0, _log(done)
    assert recording_proxy.writes() == []
    assert clean_registry.tags("team/flows") == tags
    [comment] = github.comments(REPOSITORY, 7)
    assert "<code>parameters.n</code>" in comment["body"]
    assert outputs["updated"] == "1"

    # A second push to the PR: the same comment, edited in place.
    head2 = repo.commit({"flows/c.py": FLOW.format(name="c", doc="Flow c, v2.")}, "c doc")
    event = pull_request_event(7, first, head2)
    done, _ = runner("pull_request", event, head2, github=github, inputs=inputs)
    assert done.exit_code == 0, _log(done)
    [comment] = github.comments(REPOSITORY, 7)
    assert "Flow c, v2." in comment["body"]
    assert [r.method for r in github.writes()] == ["POST", "PATCH"]
    assert recording_proxy.writes() == []
    assert clean_registry.tags("team/flows") == tags


def test_fork_pull_request_without_secrets(
    runner: Runner, origin: tuple[Origin, str], github: FakeGitHub
) -> None:
    # (d) a fork's PR: no Prefect secret, a read-only token; a plan from git alone.
    repo, first = origin
    repo.branch_from("feature", first)
    text = (repo.work / "prefect.yaml").read_text().replace("{n: 1}", "{n: 9}")
    head = repo.commit({"prefect.yaml": text}, "n=9", branch="feature")
    github.read_only = True
    event = pull_request_event(8, first, head, fork=True)
    done, outputs = runner(
        "pull_request", event, head, github=github, inputs={"GITHUB-TOKEN": github.token}
    )
    assert done.exit_code == 0, _log(done)
    assert "::notice" in done.stdout
    assert github.requests == []
    assert "<code>parameters.n</code>" in done.summary_text
    assert outputs["updated"] == "1"
