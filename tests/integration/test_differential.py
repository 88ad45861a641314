"""Differential tests: flowdeploy must register exactly what `prefect deploy --all` registers.

The reference side (`prefect --no-prompt deploy --all` on a generated repository, read back over
REST) runs once per module (scripts/test.sh uses `--dist loadfile`, so the module stays on one
xdist worker); each flowdeploy test then starts from a wiped server. The first tests
here check the reference side itself (the generator, the oracle, the read-back), so a failure
there is not mistaken for a flowdeploy bug.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.genrepo import ORIGIN_URL, REPO_ENV, make_repo, prepare_server
from support.oracle import diff_deployments, prefect_deploy_all, read_deployments
from support.proxy import RecordingProxy
from support.server import (
    PrefectServer,
    isolated_env,
    reset_server_state,
    server_is_empty,
    venv_bin,
)

pytestmark = pytest.mark.integration

N_FLOWS = 60
# make_repo(n=60) adds a second deployment for every flow i with i % 7 == 3.
N_DEPLOYMENTS = N_FLOWS + sum(1 for i in range(N_FLOWS) if i % 7 == 3)
FLOWDEPLOY_TIMEOUT = 600.0


@dataclass(frozen=True)
class Reference:
    repo: Path
    deployments: dict[str, dict[str, Any]]
    deploy_seconds: float


def _completed(cp: subprocess.CompletedProcess[str]) -> str:
    return (
        f"exit code {cp.returncode}\n--- stdout ---\n{cp.stdout[-6000:]}\n"
        f"--- stderr ---\n{cp.stderr[-6000:]}"
    )


def run_flowdeploy(
    *args: str, repo: Path, api_url: str, timeout: float = FLOWDEPLOY_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """The installed `flowdeploy` console script, run in the repository like `prefect deploy`."""
    env = isolated_env(None, PREFECT_API_URL=api_url, NO_COLOR="1", COLUMNS="200")
    env.update(REPO_ENV)
    return subprocess.run(
        [venv_bin("flowdeploy"), *args, "--project-dir", str(repo)],
        cwd=repo,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def deploy_reference(repo: Path, api_url: str) -> tuple[dict[str, dict[str, Any]], float]:
    reset_server_state(api_url)
    prepare_server(api_url)
    started = time.monotonic()
    cp = prefect_deploy_all(repo, api_url, REPO_ENV)
    elapsed = time.monotonic() - started
    assert cp.returncode == 0, f"prefect deploy --all failed:\n{_completed(cp)}"
    return read_deployments(api_url), elapsed


def assert_same(expected: dict[str, dict[str, Any]], actual: dict[str, dict[str, Any]]) -> None:
    diff = diff_deployments(expected, actual)
    assert not diff, (
        f"{len(diff)} difference(s) between `prefect deploy` and the candidate:\n"
        + "\n".join(diff[:80])
        + ("\n..." if len(diff) > 80 else "")
    )


@pytest.fixture(scope="module")
def reference(prefect_server: PrefectServer, tmp_path_factory: pytest.TempPathFactory) -> Reference:
    # Build/push step outputs replaced by literals: flowdeploy runs no build step (see
    # test_build_step_outputs_are_a_config_error); everything else prefect.yaml offers is used.
    repo = make_repo(tmp_path_factory.mktemp("differential") / "repo", N_FLOWS, step_outputs=False)
    deployments, seconds = deploy_reference(repo, prefect_server.api_url)
    print(f"\nprefect deploy --all: {len(deployments)} deployments in {seconds:.1f}s")
    return Reference(repo=repo, deployments=deployments, deploy_seconds=seconds)


# ---------------------------------------------------------------------------------------------
# The test infrastructure the differential relies on


def test_clean_api_wipes_everything(clean_api: PrefectServer) -> None:
    prepare_server(clean_api.api_url)
    assert server_is_empty(clean_api.api_url)["work_pools"] == 2
    reset_server_state(clean_api.api_url)
    assert set(server_is_empty(clean_api.api_url).values()) == {0}


def test_recording_proxy_sees_writes_but_not_queries(recording_proxy: RecordingProxy) -> None:
    with httpx.Client(base_url=recording_proxy.api_url + "/", timeout=30) as client:
        assert client.get("health").json() is True
        assert client.post("deployments/filter", json={}).json() == []
        assert client.post("flows/count", json={}).json() == 0
        assert recording_proxy.writes() == []
        created = client.post("variables/", json={"name": "via_proxy", "value": [1, 2]})
        assert created.status_code == 201
        assert client.delete(f"variables/{created.json()['id']}").status_code == 204
    methods = [(r.method, r.path, r.status) for r in recording_proxy.writes()]
    assert methods == [
        ("POST", "/api/variables/", 201),
        ("DELETE", f"/api/variables/{created.json()['id']}", 204),
    ]
    assert len(recording_proxy.requests) == 5


# ---------------------------------------------------------------------------------------------
# The reference side


def test_reference_registers_every_deployment_with_every_feature(reference: Reference) -> None:
    deployments = reference.deployments
    assert len(deployments) == N_DEPLOYMENTS
    assert {d["name"] for d in deployments.values()} == (
        {f"dep-{i:03d}" for i in range(N_FLOWS)}
        | {f"dep-{i:03d}-b" for i in range(N_FLOWS) if i % 7 == 3}
    )
    values = list(deployments.values())
    schedule_kinds = Counter(
        next(k for k in ("cron", "interval", "rrule") if k in s["schedule"])
        for d in values
        for s in d["schedules"]
    )
    assert set(schedule_kinds) == {"cron", "interval", "rrule"}
    assert any(d["paused"] for d in values)
    assert {d["enforce_parameter_schema"] for d in values} == {True, False}
    assert any(d["concurrency"] and d["concurrency"]["concurrency_options"] for d in values)
    assert any(d["concurrency"] and not d["concurrency"]["concurrency_options"] for d in values)
    triggers = Counter(a["trigger"]["type"] for d in values for a in d["automations"])
    assert set(triggers) == {"event", "compound", "sequence"}
    assert {d["work_pool_name"] for d in values} == {"process-pool", "docker-pool"}
    assert any(
        "{{ prefect.blocks.secret.repo-token }}" in json.dumps(d["pull_steps"]) for d in values
    ), "secret block placeholders in pull steps are stored unresolved"
    assert any(d["job_variables"].get("env", {}).get("API_KEY") == "s3cr3t-api-key" for d in values)
    assert any(d["pull_steps"] == [] for d in values)
    assert any(":" in d["entrypoint"] and ".py:" not in d["entrypoint"] for d in values)
    assert "shared-etl" in {d["flow_name"] for d in values}
    # Every version is set: explicit, from a build step, from @flow(version=) or the file hash.
    assert all(d["version"] for d in values)


def test_reference_readback_is_stable(clean_api: PrefectServer, tmp_path: Path) -> None:
    """Deploying twice, reading twice, and deploying into a wiped server all read back equal."""
    repo = make_repo(tmp_path / "repo", 7)
    first, _ = deploy_reference(repo, clean_api.api_url)
    assert first == read_deployments(clean_api.api_url)
    redeploy = prefect_deploy_all(repo, clean_api.api_url, REPO_ENV)
    assert redeploy.returncode == 0, _completed(redeploy)
    assert_same(first, read_deployments(clean_api.api_url))
    fresh, _ = deploy_reference(repo, clean_api.api_url)  # new ids everywhere
    assert_same(first, fresh)
    assert any(d["automations"] for d in fresh.values())


# ---------------------------------------------------------------------------------------------
# flowdeploy against the reference


def test_flowdeploy_apply_registers_what_prefect_deploy_registers(
    reference: Reference, clean_api: PrefectServer
) -> None:
    prepare_server(clean_api.api_url)
    cp = run_flowdeploy("apply", "--all", repo=reference.repo, api_url=clean_api.api_url)
    assert cp.returncode == 0, f"flowdeploy apply --all failed:\n{_completed(cp)}"
    assert_same(reference.deployments, read_deployments(clean_api.api_url))


def test_second_apply_is_unchanged_and_writes_nothing(
    reference: Reference, recording_proxy: RecordingProxy, clean_api: PrefectServer
) -> None:
    prepare_server(clean_api.api_url)
    first = run_flowdeploy("apply", "--all", repo=reference.repo, api_url=clean_api.api_url)
    assert first.returncode == 0, f"first flowdeploy apply failed:\n{_completed(first)}"

    plan = run_flowdeploy(
        "plan", "--all", "--format", "json", repo=reference.repo, api_url=recording_proxy.api_url
    )
    assert plan.returncode == 0, f"flowdeploy plan failed:\n{_completed(plan)}"
    try:
        report = json.loads(plan.stdout)
    except json.JSONDecodeError as exc:
        raise AssertionError(
            f"plan --format json is not JSON ({exc}):\n{_completed(plan)}"
        ) from None
    actions = {d["name"]: d["action"] for d in report["deployments"]}
    assert set(actions) == set(reference.deployments)
    changed = {name: action for name, action in actions.items() if action != "unchanged"}
    assert not changed, f"expected every deployment unchanged after apply, got {changed}"

    second = run_flowdeploy("apply", "--all", repo=reference.repo, api_url=recording_proxy.api_url)
    assert second.returncode == 0, f"second flowdeploy apply failed:\n{_completed(second)}"
    assert recording_proxy.requests, "flowdeploy did not talk to the server through the proxy"
    writes = recording_proxy.writes()
    assert not writes, "plan/apply of an unchanged project wrote to the server:\n" + "\n".join(
        str(w) for w in writes
    )
    assert_same(reference.deployments, read_deployments(clean_api.api_url))


@pytest.mark.parametrize("origin", [None, ORIGIN_URL], ids=["no-remote", "git-remote"])
def test_flowdeploy_minimal_repo_matches(
    clean_api: PrefectServer, tmp_path: Path, origin: str | None
) -> None:
    """No pull section (default pull step from the working directory, `/opt/prefect` with an
    image) and, with a git remote, versions inferred from git by `prefect deploy`."""
    repo = make_repo(tmp_path / "repo", 6, features=False, origin=origin)
    expected, _ = deploy_reference(repo, clean_api.api_url)
    directories = {
        step["prefect.deployments.steps.set_working_directory"]["directory"]
        for d in expected.values()
        for step in d["pull_steps"]
    }
    assert directories == {str(repo.resolve()), "/opt/prefect"}
    if origin:
        assert {d["version"] for d in expected.values()} == {_head(repo)[:8]}

    reset_server_state(clean_api.api_url)
    prepare_server(clean_api.api_url)
    cp = run_flowdeploy("apply", "--all", repo=repo, api_url=clean_api.api_url)
    assert cp.returncode == 0, f"flowdeploy apply --all failed:\n{_completed(cp)}"
    assert_same(expected, read_deployments(clean_api.api_url))


def test_build_step_outputs_are_a_config_error(
    recording_proxy: RecordingProxy, clean_api: PrefectServer, tmp_path: Path
) -> None:
    """`prefect deploy` runs `run_shell_script` build steps and templates their stdout into
    deployments (test_reference_readback_is_stable deploys such a repo). flowdeploy executes no
    user code, so it must refuse such a file as bad configuration (exit 2) and write nothing."""
    repo = make_repo(tmp_path / "repo", 8, step_outputs=True)
    prepare_server(clean_api.api_url)
    cp = run_flowdeploy("apply", "--all", repo=repo, api_url=recording_proxy.api_url)
    assert cp.returncode == 2, _completed(cp)
    assert "get-version" in cp.stderr, _completed(cp)
    assert recording_proxy.writes() == []
    assert read_deployments(clean_api.api_url) == {}


def _head(repo: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
