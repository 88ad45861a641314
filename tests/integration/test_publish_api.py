"""The public DeploymentImage / deploy() API against a real engine, registry and server; the
registry credentials come from a docker config, as they would after `docker login`."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from flowdeploy import DeploymentImage, RunnerDeployment, deploy
from flowdeploy.errors import ConfigError
from flowdeploy.image import Engine, ImageError, ImageSpec, RegistryAuth
from support.docker import DockerEngine, Registry
from support.proxy import RecordingProxy
from support.server import create_work_pool

EXAMPLE = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def project(
    tmp_path: Path,
    recording_proxy: RecordingProxy,
    docker_engine: DockerEngine,
    clean_registry: Registry,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    repo = tmp_path / "example"
    shutil.copytree(EXAMPLE, repo)
    (repo / "Dockerfile").write_text("FROM scratch\nCOPY flows /opt/prefect/flows\n")
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x",
        "HOME": "/nonexistent",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x",
    }
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "initial"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    config = tmp_path / "docker-config"
    config.mkdir()
    token = base64.b64encode(f"{clean_registry.username}:{clean_registry.password}".encode())
    (config / "config.json").write_text(
        json.dumps({"auths": {clean_registry.address: {"auth": token.decode()}}})
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    monkeypatch.setenv("DOCKER_HOST", docker_engine.host)
    monkeypatch.setenv("PREFECT_API_URL", recording_proxy.api_url)
    monkeypatch.chdir(repo)
    create_work_pool(recording_proxy.api_url, "docker-pool", "docker")
    create_work_pool(recording_proxy.api_url, "demo-pool", "process")
    return repo


def deployments(project: Path) -> list[RunnerDeployment]:
    return [
        RunnerDeployment.from_entrypoint("flows/etl.py:etl", name, project_dir=project)
        for name in ("image-a", "image-b")
    ]


def test_deploy_builds_once_per_commit_and_registers_each_deployment(
    project: Path,
    recording_proxy: RecordingProxy,
    docker_engine: DockerEngine,
    clean_registry: Registry,
) -> None:
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True, check=True
    ).stdout.strip()
    image = DeploymentImage(
        f"{clean_registry.address}/team/api", dockerfile="Dockerfile", pull=False
    )
    assert image.reference == f"{clean_registry.address}/team/api:{sha}"
    ids = deploy(
        *deployments(project),
        work_pool_name="docker-pool",
        image=image,
        print_next_steps_message=False,
    )
    assert len(ids) == 2
    assert clean_registry.manifest_exists("team/api", sha)
    for dep_id in ids:
        stored = httpx.get(f"{recording_proxy.api_url}/deployments/{dep_id}").json()
        assert stored["job_variables"]["image"] == image.reference

    # Removing the local image proves the second call neither builds nor pushes: a push
    # without the image would fail.
    client = docker_engine.client()
    try:
        client.images.remove(image.reference, force=True)
    finally:
        client.close()
    again = deploy(
        *deployments(project),
        work_pool_name="docker-pool",
        image=image.reference,
        print_next_steps_message=False,
    )
    assert again == ids


def test_deploy_refuses_an_image_on_a_pool_that_cannot_run_one(project: Path) -> None:
    with pytest.raises(ConfigError, match="cannot run an image"):
        deploy(*deployments(project), work_pool_name="demo-pool", image="registry.test/x:1")
    with pytest.raises(ConfigError, match="only one tag"):
        DeploymentImage("registry.test/x:1", tag="2")


def test_a_push_refused_by_the_registry_raises_with_its_message(
    project: Path, docker_engine: DockerEngine, clean_registry: Registry
) -> None:
    spec = ImageSpec(
        name=f"{clean_registry.address}/team/refused",
        tag="t1",
        context=project,
        dockerfile="Dockerfile",
        build_kwargs={"pull": False},
    )
    engine = Engine(docker_engine.host)
    try:
        engine.build(spec, lambda line: None)
        wrong = RegistryAuth(username=clean_registry.username or "", password=SecretStr("nope-x"))
        with pytest.raises(ImageError) as info:
            engine.push(spec, wrong, lambda line: None)
    finally:
        engine.close()
    assert "unauthorized" in info.value.why and info.value.step == "push"
    assert "nope-x" not in info.value.render()
    assert not clean_registry.manifest_exists("team/refused", "t1")


def test_the_package_docstring_example_runs_as_written(project: Path) -> None:
    """`help(flowdeploy)` shows an example; a reader who pastes it must get what it says."""
    import flowdeploy

    doc = flowdeploy.__doc__ or ""
    code = doc.split("::\n", 1)[1]
    create_work_pool(os.environ["PREFECT_API_URL"], "default-pool", "process")
    namespace: dict[str, object] = {}
    exec(compile(textwrap.dedent(code), "flowdeploy.__doc__", "exec"), namespace)

    assert isinstance(namespace["deployment_id"], str)
    ids = namespace["deployment_ids"]
    assert isinstance(ids, list) and len(ids) == 2
    with httpx.Client(base_url=os.environ["PREFECT_API_URL"] + "/") as client:
        found = client.post("deployments/filter", json={}).json()
    by_name = {d["name"]: d for d in found}
    assert by_name["nightly"]["work_pool_name"] == "default-pool"
    assert by_name["nightly"]["schedules"][0]["schedule"]["cron"] == "0 2 * * *"
    for name in ("daily", "hourly"):
        image = by_name[name]["job_variables"]["image"]
        assert image.startswith("registry.example.com/team/flows:"), image
