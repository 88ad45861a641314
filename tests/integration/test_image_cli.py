"""One image per commit, through the CLI, against a real Docker engine, a real registry with
htpasswd auth, a real Prefect server and real git repositories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from flowdeploy.cli import main
from support.docker import DockerEngine, Registry, make_busybox_base
from support.proxy import RecordingProxy
from support.server import create_work_pool

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
}

FLOW = "from prefect import flow\n\n\n@flow\ndef {name}(n: int = 1) -> int:\n    return n\n"

PREFECT_YAML = """\
build:
- prefect_docker.deployments.steps.build_docker_image:
    id: build-image
    image_name: {registry}/team/flows
    tag: latest
    dockerfile: {dockerfile}
    pull: false
    network_mode: none
push:
- prefect_docker.deployments.steps.push_docker_image:
    image_name: "{{{{ build-image.image_name }}}}"
    tag: "{{{{ build-image.tag }}}}"
deployments:
- name: boxed
  entrypoint: flows/a.py:a
  work_pool:
    name: docker-pool
    job_variables:
      image: "{{{{ build-image.image }}}}"
- name: boxed-too
  entrypoint: flows/b.py:b
  work_pool:
    name: docker-pool
    job_variables:
      image: "{{{{ build-image.image }}}}"
- name: local
  entrypoint: flows/c.py:c
  build: []
  work_pool:
    name: process-pool
"""


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=repo,
        env={**os.environ, **GIT_ENV},
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def commit(repo: Path, message: str = "change") -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def make_repo(
    root: Path,
    registry: Registry,
    dockerfile: str = "FROM scratch\nCOPY flows /flows\n",
    dockerfile_name: str = "Dockerfile",
) -> Path:
    repo = root / "repo"
    (repo / "flows").mkdir(parents=True)
    for name in "abc":
        (repo / "flows" / f"{name}.py").write_text(FLOW.format(name=name))
    (repo / "prefect.yaml").write_text(
        PREFECT_YAML.format(registry=registry.address, dockerfile=dockerfile_name)
    )
    if dockerfile:
        (repo / dockerfile_name).write_text(dockerfile)
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "initial")
    return repo


@pytest.fixture
def env(
    recording_proxy: RecordingProxy,
    docker_engine: DockerEngine,
    clean_registry: Registry,
    monkeypatch: pytest.MonkeyPatch,
) -> RecordingProxy:
    for var in list(os.environ):
        if var.startswith(("GITHUB_", "PREFECT_API_KEY", "PREFECT_API_AUTH", "FLOWDEPLOY_REG")):
            monkeypatch.delenv(var)
    monkeypatch.setenv("PREFECT_API_URL", recording_proxy.api_url)
    monkeypatch.setenv("DOCKER_HOST", docker_engine.host)
    # the user's docker login must not be what makes these pass
    monkeypatch.setenv("DOCKER_CONFIG", "/nonexistent")
    create_work_pool(recording_proxy.api_url, "docker-pool", "docker")
    create_work_pool(recording_proxy.api_url, "process-pool", "process")
    recording_proxy.clear()
    return recording_proxy


def creds(registry: Registry, password: str | None = None) -> list[str]:
    given = password if password is not None else registry.password or ""
    # "=": a generated password may start with "-", which argparse takes for an option
    return [f"--registry-username={registry.username or ''}", f"--registry-password={given}"]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def apply(
    capsys: pytest.CaptureFixture[str], repo: Path, registry: Registry, *extra: str
) -> tuple[int, dict[str, Any], str]:
    code, out, err = run(
        capsys, "apply", "--project-dir", str(repo), "--format", "json", *creds(registry), *extra
    )
    assert registry.password and registry.password not in out + err
    return code, (json.loads(out) if out.strip() else {}), err


def images_of(api_url: str) -> dict[str, Any]:
    rows = httpx.post(f"{api_url}/deployments/filter", json={}).json()
    return {row["name"]: (row.get("job_variables") or {}).get("image") for row in rows}


def test_one_build_per_commit_and_a_skip_when_the_registry_has_it(
    env: RecordingProxy,
    clean_registry: Registry,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry = clean_registry
    repo = make_repo(tmp_path, registry)
    sha = git(repo, "rev-parse", "HEAD")
    reference = f"{registry.address}/team/flows:{sha}"

    code, doc, err = apply(capsys, repo, registry, "--all")
    assert code == 0, err
    assert doc["images"] == [
        {
            "reference": reference,
            "used": True,
            "exists": True,
            "built": True,
            "digest": doc["images"][0]["digest"],
            "problem": None,
            "state": doc["images"][0]["state"],
        }
    ]
    assert doc["images"][0]["digest"].startswith("sha256:")
    assert registry.manifest_exists("team/flows", sha)
    assert images_of(env.api_url) == {"boxed": reference, "boxed-too": reference, "local": None}

    # the same commit again: the registry has it, nothing is built or pushed
    code, doc, err = apply(capsys, repo, registry, "--all")
    assert code == 0, err
    assert doc["images"][0]["built"] is False and doc["images"][0]["exists"] is True
    assert "already in the registry" in doc["images"][0]["state"]
    assert "Step 1/" not in err, "no build log on a re-run"

    # a new commit: a new tag
    (repo / "flows" / "a.py").write_text(FLOW.format(name="a").replace("n: int = 1", "n: int = 2"))
    new = commit(repo, "change a")
    code, doc, err = apply(capsys, repo, registry, "--base", "HEAD~1")
    assert code == 0, err
    assert doc["images"][0]["reference"].endswith(new) and doc["images"][0]["built"] is True
    assert registry.manifest_exists("team/flows", new)
    assert images_of(env.api_url)["boxed"] == f"{registry.address}/team/flows:{new}"

    # a commit that touches only the process-pool deployment builds nothing
    (repo / "flows" / "c.py").write_text(FLOW.format(name="c") + "\n# note\n")
    third = commit(repo, "change c")
    code, doc, err = apply(capsys, repo, registry, "--base", "HEAD~1")
    assert code == 0, err
    assert doc["images"][0]["used"] is False and doc["images"][0]["built"] is False
    assert not registry.manifest_exists("team/flows", third)
    assert [d["name"] for d in doc["deployments"]] == ["c/local"]


def test_plan_reports_whether_the_image_exists_and_never_builds(
    env: RecordingProxy,
    clean_registry: Registry,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo = make_repo(tmp_path, clean_registry)
    sha = git(repo, "rev-parse", "HEAD")
    code, out, err = run(capsys, "plan", "--project-dir", str(repo), *creds(clean_registry))
    assert code == 0, err
    assert "not in the registry: apply builds and pushes it" in out
    assert not clean_registry.manifest_exists("team/flows", sha)
    code, _, err = run(capsys, "apply", "--project-dir", str(repo), *creds(clean_registry))
    assert code == 0, err
    code, out, err = run(capsys, "plan", "--project-dir", str(repo), *creds(clean_registry))
    assert "already in the registry" in out
    assert env.writes() and not [w for w in env.writes() if w.method == "DELETE"]


def test_auto_dockerfile_builds_on_a_stand_in_base(
    env: RecordingProxy,
    docker_engine: DockerEngine,
    clean_registry: Registry,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    make_busybox_base(docker_engine)
    client = docker_engine.client()
    try:
        # the reference's base image for these versions, stood in for by a local image
        python = f"{sys.version_info.major}.{sys.version_info.minor}"
        client.images.get("local/busybox:stand-in").tag(
            "prefecthq/prefect", f"3.9.1-python{python}"
        )
    finally:
        client.close()
    repo = make_repo(tmp_path, clean_registry, dockerfile="", dockerfile_name="auto")
    (repo / "requirements.txt").write_text("httpx\n")
    sha = commit(repo, "requirements")
    code, _doc, err = apply(capsys, repo, clean_registry, "--all")
    assert code == 0, err
    assert "RUN uv pip install -r /opt/prefect/repo/requirements.txt" in err
    assert clean_registry.manifest_exists("team/flows", sha)
    assert not (repo / "Dockerfile").exists(), "the generated Dockerfile is not left behind"


FAILURES = {
    "Dockerfile syntax error": ("FROMM scratch\n", 1, "unknown instruction: FROMM"),
    "failing RUN": (
        "FROM local/busybox:stand-in\nRUN echo about to fail && exit 3\n",
        1,
        "returned a non-zero code: 3",
    ),
    "missing Dockerfile": ("", 2, "Dockerfile Dockerfile does not exist"),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_build_failures_stop_the_apply_before_any_write(
    case: str,
    env: RecordingProxy,
    docker_engine: DockerEngine,
    clean_registry: Registry,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dockerfile, exit_code, message = FAILURES[case]
    if "busybox" in dockerfile:
        make_busybox_base(docker_engine)
    repo = make_repo(tmp_path, clean_registry, dockerfile=dockerfile)
    env.clear()
    code, _doc, err = apply(capsys, repo, clean_registry, "--all")
    assert code == exit_code, err
    assert message in err
    assert env.writes() == [], "no deployment is written with an image that failed"
    if case == "failing RUN":
        assert "about to fail" in err and "failed at Step 2/" in err


def test_registry_and_engine_failures(
    env: RecordingProxy,
    clean_registry: Registry,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = make_repo(tmp_path, clean_registry)
    code, out, err = run(
        capsys, "apply", "--project-dir", str(repo), *creds(clean_registry, "wrong-password")
    )
    assert code == 1 and "credentials were refused" in err
    assert "wrong-password" not in out + err
    assert env.writes() == []
    # a plan (a pull request without credentials, say) is not stopped: it says it cannot tell
    code, out, err = run(capsys, "plan", "--project-dir", str(repo), *creds(clean_registry, "x"))
    assert code == 0, err
    assert "cannot tell whether image" in err and "unknown (" in out

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    code, out, err = run(capsys, "apply", "--project-dir", str(repo), *creds(clean_registry))
    assert code == 2 and "Docker engine is not reachable" in err
    assert env.writes() == []

    down = repo / "prefect.yaml"
    down.write_text(down.read_text().replace(clean_registry.address, "127.0.0.1:9"))
    code, out, err = run(capsys, "apply", "--project-dir", str(repo), *creds(clean_registry))
    assert code == 1 and "cannot reach the registry 127.0.0.1:9" in err
    assert env.writes() == []
    assert clean_registry.password not in out + err


def test_in_github_actions_the_password_is_masked_first_and_the_log_folded(
    env: RecordingProxy,
    clean_registry: Registry,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = make_repo(tmp_path, clean_registry)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("FLOWDEPLOY_REGISTRY_USERNAME", clean_registry.username or "")
    monkeypatch.setenv("FLOWDEPLOY_REGISTRY_PASSWORD", clean_registry.password or "")
    code, out, err = run(capsys, "apply", "--project-dir", str(repo))
    assert code == 0, err
    lines = err.splitlines()
    password = clean_registry.password or ""
    assert lines[0] == f"::add-mask::{password}", "masked before any other line"
    assert password not in out + "\n".join(lines[1:])
    start, end = lines.index("::group::Docker image"), lines.index("::endgroup::")
    assert any(line.startswith("Step 1/") for line in lines[start:end])
    assert "built and pushed (sha256:" in out
