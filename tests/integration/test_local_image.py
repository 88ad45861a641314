"""An image the project builds but never pushes (a Docker build step, no Docker push step),
through the real CLI, against a real Docker engine, a real registry and a real Prefect server.

prefect deploy runs only the steps prefect.yaml lists, so without a push step its image stays
in the engine it was built in (a Docker worker on that host runs it). flowdeploy does the
same: it builds into the engine, looks for the commit's tag there, and asks no registry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import docker.errors
import httpx
import pytest

from support.docker import DockerEngine, Registry
from support.proxy import RecordingProxy
from support.server import create_work_pool

FLOWDEPLOY = Path(sys.executable).with_name("flowdeploy")
NOT_PUSHED = "(no Docker push step in prefect.yaml): a worker on another machine cannot pull it"

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
}

FLOW = "from prefect import flow\n\n\n@flow\ndef {name}(n: int = 1) -> int:\n    return n\n"

# The shape of a real repository's file: a build step, no push section at all.
BUILD_ONLY = """\
build:
- prefect_docker.deployments.steps.build_docker_image:
    id: build-image
    requires: prefect-docker>=0.3.1
    image_name: {image_name}
    tag: latest
    dockerfile: Dockerfile
    pull: false
    network_mode: none
{push}deployments:
- name: boxed
  entrypoint: flows/a.py:a
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

DOCKER_PUSH = """\
push:
- prefect_docker.deployments.steps.push_docker_image:
    requires: prefect-docker>=0.3.1
    image_name: "{{ build-image.image_name }}"
    tag: "{{ build-image.tag }}"
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


def make_repo(root: Path, image_name: str, push: str = "") -> tuple[Path, str]:
    repo = root / "repo"
    (repo / "flows").mkdir(parents=True)
    for name in "ac":
        (repo / "flows" / f"{name}.py").write_text(FLOW.format(name=name))
    (repo / "prefect.yaml").write_text(BUILD_ONLY.format(image_name=image_name, push=push))
    (repo / "Dockerfile").write_text("FROM scratch\nCOPY flows /flows\n")
    # The engine outlives a test: a commit of its own keeps another test's image from
    # standing in for this one's.
    (repo / "NOTE").write_text(str(root))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    return repo, git(repo, "rev-parse", "HEAD")


@pytest.fixture
def env(
    recording_proxy: RecordingProxy, docker_engine: DockerEngine, clean_registry: Registry
) -> dict[str, str]:
    """The CLI's environment: this engine and server, no credentials of any kind."""
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITHUB_", "PREFECT_API_KEY", "PREFECT_API_AUTH", "FLOWDEPLOY_REG"))
    }
    environ.update(
        PREFECT_API_URL=recording_proxy.api_url,
        DOCKER_HOST=docker_engine.host,
        # no docker login may be what makes a push (or a registry check) succeed
        DOCKER_CONFIG="/nonexistent",
    )
    create_work_pool(recording_proxy.api_url, "docker-pool", "docker")
    create_work_pool(recording_proxy.api_url, "process-pool", "process")
    recording_proxy.clear()
    return environ


def flowdeploy(environ: dict[str, str], *args: str) -> tuple[int, dict[str, Any], str]:
    done = subprocess.run(
        [str(FLOWDEPLOY), *args, "--format", "json"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.returncode, (json.loads(done.stdout) if done.stdout.strip() else {}), done.stderr


def images_of(api_url: str) -> dict[str, Any]:
    rows = httpx.post(f"{api_url}/deployments/filter", json={}).json()
    return {row["name"]: (row.get("job_variables") or {}).get("image") for row in rows}


def engine_has(engine: DockerEngine, reference: str) -> bool:
    client = engine.client()
    try:
        client.images.get(reference)
    except docker.errors.ImageNotFound:
        return False
    finally:
        client.close()
    return True


@pytest.mark.parametrize("where", ["no registry in the name", "the test registry's address"])
def test_without_a_push_step_the_image_is_built_locally_once_and_never_pushed(
    where: str,
    env: dict[str, str],
    recording_proxy: RecordingProxy,
    docker_engine: DockerEngine,
    clean_registry: Registry,
    tmp_path: Path,
) -> None:
    # "en-banc" alone names Docker Hub, which cannot be reached here: asking it anything fails
    # the run. The test registry's address shows that nothing is pushed where it could be.
    name = "en-banc" if where.startswith("no") else f"{clean_registry.address}/team/local"
    repo, sha = make_repo(tmp_path, name)
    reference = f"{name}:{sha}"

    code, doc, err = flowdeploy(env, "apply", "--all", "--project-dir", str(repo))
    assert code == 0, err
    assert engine_has(docker_engine, reference)
    assert "Step 1/" in err, "the build log is shown"
    assert "pushing" not in err
    (image,) = doc["images"]
    assert image["reference"] == reference
    assert (image["built"], image["exists"], image["digest"]) == (True, True, None)
    assert image["state"] == f"built locally {NOT_PUSHED}"
    assert clean_registry.repositories() == []
    assert not clean_registry.manifest_exists("team/local", sha)
    assert images_of(recording_proxy.api_url) == {"boxed": reference, "local": None}

    # the same commit again: the engine has the tag, so nothing is built or written
    recording_proxy.clear()
    code, doc, err = flowdeploy(env, "apply", "--all", "--project-dir", str(repo))
    assert code == 0, err
    assert "Step 1/" not in err and "building" not in err, "no build on a re-run"
    assert doc["images"][0]["built"] is False and doc["images"][0]["exists"] is True
    assert doc["images"][0]["state"] == f"already built locally, not rebuilt {NOT_PUSHED}"
    assert recording_proxy.writes() == []
    assert clean_registry.repositories() == []

    # the warning is in the text output too
    done = subprocess.run(
        [str(FLOWDEPLOY), "plan", "--project-dir", str(repo)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert f"Image {reference}: already built locally, not rebuilt {NOT_PUSHED}" in done.stdout


def test_a_plan_without_an_engine_says_it_cannot_tell(
    env: dict[str, str], clean_registry: Registry, tmp_path: Path
) -> None:
    repo, _sha = make_repo(tmp_path, f"{clean_registry.address}/team/local")
    code, doc, err = flowdeploy(
        {**env, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"},
        "plan",
        "--project-dir",
        str(repo),
    )
    assert code == 0, err
    state = doc["images"][0]["state"]
    assert state.startswith("unknown (the Docker engine is not reachable") and NOT_PUSHED in state
    assert "cannot tell whether image" in err
    assert clean_registry.repositories() == []


def test_with_a_docker_push_step_the_image_is_pushed(
    env: dict[str, str],
    recording_proxy: RecordingProxy,
    clean_registry: Registry,
    tmp_path: Path,
) -> None:
    registry = clean_registry
    repo, sha = make_repo(tmp_path, f"{registry.address}/team/pushed", push=DOCKER_PUSH)
    reference = f"{registry.address}/team/pushed:{sha}"
    # "=": a generated password may start with "-"
    creds = [
        f"--registry-username={registry.username or ''}",
        f"--registry-password={registry.password or ''}",
    ]

    code, doc, err = flowdeploy(env, "apply", "--all", "--project-dir", str(repo), *creds)
    assert code == 0, err
    (image,) = doc["images"]
    assert image["built"] is True and image["digest"].startswith("sha256:")
    assert image["state"] == f"built and pushed ({image['digest']})"
    assert registry.manifest_exists("team/pushed", sha)
    assert images_of(recording_proxy.api_url)["boxed"] == reference

    code, doc, err = flowdeploy(env, "apply", "--all", "--project-dir", str(repo), *creds)
    assert code == 0, err
    assert doc["images"][0]["state"] == "already in the registry: not built or pushed"
    assert registry.password and registry.password not in err + json.dumps(doc)
