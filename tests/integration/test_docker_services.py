"""The real Docker engine and registry the image tests build on: isolated, working, with auth."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import docker
import httpx
import pytest

from support.docker import (
    STAND_IN_DIR,
    DockerEngine,
    Registry,
    build_from_files,
    make_busybox_base,
    push_errors,
    push_events,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def client(docker_engine: DockerEngine) -> Iterator[docker.DockerClient]:
    with contextlib.closing(docker_engine.client()) as opened:
        yield opened


def _scratch_image(client: docker.DockerClient, repository: str, tag: str) -> str:
    """A FROM scratch image with one file whose content is unique to this call; its id."""
    marker = uuid.uuid4().hex
    image, _ = build_from_files(
        client,
        {"Dockerfile": "FROM scratch\nCOPY marker.txt /marker.txt\n", "marker.txt": marker},
        f"{repository}:{tag}",
    )
    image_id: str = image.id
    return image_id


def test_engine_is_our_own_isolated_daemon(
    docker_engine: DockerEngine, client: docker.DockerClient
) -> None:
    info = client.info()
    assert info["DockerRootDir"] == str(docker_engine.data_root)
    assert info["Driver"] == "vfs"
    assert docker_engine.host == f"unix://{docker_engine.runtime_dir}/docker.sock"
    # unix socket paths must fit in sun_path (108 bytes), containerd's included
    assert len(f"{docker_engine.exec_root}/containerd/containerd.sock.ttrpc") < 100


def test_registry_requires_credentials(clean_registry: Registry) -> None:
    assert clean_registry.password
    with httpx.Client(timeout=5) as anonymous:
        assert anonymous.get(f"{clean_registry.url}/v2/").status_code == 401
        wrong = anonymous.get(
            f"{clean_registry.url}/v2/", auth=(clean_registry.username or "", "wrong")
        )
        assert wrong.status_code == 401
    with clean_registry.http() as authenticated:
        assert authenticated.get("/v2/").status_code == 200
    assert clean_registry.repositories() == []


def test_push_with_credentials_stores_the_manifest(
    client: docker.DockerClient, clean_registry: Registry
) -> None:
    repository = f"{clean_registry.address}/flowdeploy-test/hello"
    _scratch_image(client, repository, "v1")
    assert not clean_registry.manifest_exists("flowdeploy-test/hello", "v1")

    events = push_events(client, repository, "v1", clean_registry.auth_config())

    assert push_errors(events) == []
    digests = [event["aux"]["Digest"] for event in events if "Digest" in event.get("aux", {})]
    assert len(digests) == 1 and digests[0].startswith("sha256:")
    assert clean_registry.manifest_exists("flowdeploy-test/hello", "v1")
    assert clean_registry.manifest_exists("flowdeploy-test/hello", digests[0])
    assert not clean_registry.manifest_exists("flowdeploy-test/hello", "v2")
    assert clean_registry.repositories() == ["flowdeploy-test/hello"]
    assert clean_registry.tags("flowdeploy-test/hello") == ["v1"]


def test_push_with_a_wrong_password_is_refused(
    client: docker.DockerClient, clean_registry: Registry
) -> None:
    repository = f"{clean_registry.address}/flowdeploy-test/refused"
    _scratch_image(client, repository, "v1")
    wrong = {"username": clean_registry.username or "", "password": "not-the-password"}

    errors = push_errors(push_events(client, repository, "v1", wrong))
    anonymous_errors = push_errors(push_events(client, repository, "v1", None))

    assert errors, "a push with a wrong password must fail"
    assert anonymous_errors, "a push without credentials must fail"
    assert any("unauthorized" in error or "authentication" in error for error in errors), errors
    assert not clean_registry.manifest_exists("flowdeploy-test/refused", "v1")
    assert clean_registry.repositories() == []


def test_delete_all_wipes_and_the_same_image_pushes_again(
    client: docker.DockerClient, clean_registry: Registry
) -> None:
    repository = f"{clean_registry.address}/flowdeploy-test/wiped"
    _scratch_image(client, repository, "v1")
    assert push_errors(push_events(client, repository, "v1", clean_registry.auth_config())) == []
    assert clean_registry.manifest_exists("flowdeploy-test/wiped", "v1")

    clean_registry.delete_all()

    assert not clean_registry.manifest_exists("flowdeploy-test/wiped", "v1")
    assert clean_registry.repositories() == []
    # The engine remembers it pushed these layers; the wiped registry must get them again.
    events = push_events(client, repository, "v1", clean_registry.auth_config())
    assert push_errors(events) == []
    assert clean_registry.manifest_exists("flowdeploy-test/wiped", "v1")
    with clean_registry.http() as http:
        manifest = http.get(
            "/v2/flowdeploy-test/wiped/manifests/v1",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        ).json()
        for layer in manifest["layers"]:
            blob = http.head(f"/v2/flowdeploy-test/wiped/blobs/{layer['digest']}")
            assert blob.status_code == 200, layer


def test_busybox_base_runs_build_steps_without_network(
    docker_engine: DockerEngine, client: docker.DockerClient
) -> None:
    base = make_busybox_base(docker_engine)
    tag = f"flowdeploy-test/run-step:{uuid.uuid4().hex[:12]}"
    _, logs = build_from_files(
        client,
        {
            "Dockerfile": (
                f"FROM {base}\n"
                "RUN uv pip install --system /wheels/app.whl && pip install -r req.txt"
                ' && echo "built by $(id -un) in $(pwd)" > /built.txt\n'
            )
        },
        tag,
    )

    output = client.containers.run(
        tag,
        ["sh", "-c", f"cat {STAND_IN_DIR}/uv.log {STAND_IN_DIR}/pip.log /built.txt"],
        network_mode="none",
        remove=True,
    ).decode()

    assert output.splitlines() == [
        "pip install --system /wheels/app.whl",
        "install -r req.txt",
        "built by root in /",
    ]
    assert any("Running in" in chunk.get("stream", "") for chunk in logs)
