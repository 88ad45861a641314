"""Image references, the registry check (through an httpx.MockTransport seam), the default
Dockerfile, the image plan read from prefect.yaml, and whether the image is pushed or only
built into the local engine."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pydantic import SecretStr

from flowdeploy.errors import ConfigError, Location
from flowdeploy.git import Checkout
from flowdeploy.image import (
    ImageError,
    RegistryAuth,
    default_dockerfile,
    image_exists,
    parse_reference,
    split_tag,
)
from flowdeploy.imageplan import build_steps, image_spec, push_steps, tags
from flowdeploy.pipeline import ImageJob, _check_image
from flowdeploy.report import image_document, image_state
from flowdeploy.settings import Settings

SHA = "0123456789abcdef0123456789abcdef01234567"
CHECKOUT = Checkout(sha=SHA, branch="feature/x", source="https://github.com/org/repo")
AUTH = RegistryAuth(username="u", password=SecretStr("p4ss-w0rd"))


@pytest.mark.parametrize(
    ("reference", "registry", "repository", "tag"),
    [
        ("flows", "registry-1.docker.io", "library/flows", None),
        ("team/flows:1", "registry-1.docker.io", "team/flows", "1"),
        ("127.0.0.1:5000/team/flows:abc", "127.0.0.1:5000", "team/flows", "abc"),
        ("localhost/flows", "localhost", "flows", None),
        ("ghcr.io/org/team/flows:sha-1", "ghcr.io", "org/team/flows", "sha-1"),
    ],
)
def test_references_split_like_docker(
    reference: str, registry: str, repository: str, tag: str | None
) -> None:
    ref = parse_reference(reference)
    assert (ref.registry, ref.repository, ref.tag) == (registry, repository, tag)
    assert split_tag("127.0.0.1:5000/flows") == ("127.0.0.1:5000/flows", None)


def _registry(handler: Any) -> httpx.MockTransport:
    return httpx.MockTransport(handler)


def test_exists_with_basic_auth_over_http_on_loopback() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if "authorization" not in request.headers:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})
        found = request.url.path.endswith("/manifests/abc")
        return httpx.Response(200 if found else 404)

    transport = _registry(handler)
    assert image_exists("127.0.0.1:5000/team/flows:abc", AUTH, transport=transport)
    assert not image_exists("127.0.0.1:5000/team/flows:def", AUTH, transport=transport)
    assert str(seen[0].url) == "http://127.0.0.1:5000/v2/team/flows/manifests/abc"
    assert seen[0].method == "HEAD" and "manifest" in seen[0].headers["accept"]


def test_exists_with_a_bearer_token_over_https() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.example.com":
            assert request.url.params["scope"] == "repository:org/flows:pull"
            assert request.headers["authorization"].startswith("Basic ")
            return httpx.Response(200, json={"token": "T"})
        if request.headers.get("authorization") != "Bearer T":
            challenge = 'Bearer realm="https://auth.example.com/token",service="ghcr.io"'
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        assert request.url.scheme == "https"
        return httpx.Response(200)

    assert image_exists("ghcr.io/org/flows:1", AUTH, transport=_registry(handler))


def test_refusals_and_outages_are_image_errors_without_the_password() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})

    with pytest.raises(ImageError) as info:
        image_exists("127.0.0.1:5000/flows:1", AUTH, transport=_registry(refuse))
    assert "credentials were refused" in info.value.render()
    assert "p4ss-w0rd" not in info.value.render()

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ImageError, match=r"cannot reach the registry 127\.0\.0\.1:5000"):
        image_exists("127.0.0.1:5000/flows:1", AUTH, transport=_registry(down))


def test_default_dockerfile_matches_the_reference(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    assert default_dockerfile(project, "3.9.1", "3.11") == (
        "FROM prefecthq/prefect:3.9.1-python3.11\n"
        "COPY . /opt/prefect/proj/\n"
        "WORKDIR /opt/prefect/proj/\n"
    )
    (project / "requirements.txt").write_text("httpx\n")
    assert default_dockerfile(project, "3.9.1", "3.12").splitlines()[1:3] == [
        "COPY requirements.txt /opt/prefect/proj/requirements.txt",
        "RUN uv pip install -r /opt/prefect/proj/requirements.txt",
    ]


STEP = """
build:
- prefect_docker.deployments.steps.build_docker_image:
    id: build-image
    requires: prefect-docker>=0.3
    image_name: "{{ $REGISTRY }}/flows"
    tag: latest
    dockerfile: docker/Dockerfile
    buildargs: {PY: "3.11", N: 2}
    platform: linux/amd64
    additional_tags: [stable]
    pull: false
deployments: []
"""


def where(*keys: str | int) -> Location:
    return Location("prefect.yaml", len(keys))


def spec_of(text: str, **kwargs: Any) -> Any:
    return image_spec(
        yaml.safe_load(text),
        project_dir=Path("/proj"),
        where=where,
        checkout=CHECKOUT,
        environ={"REGISTRY": "registry.example.com"},
        now=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        **kwargs,
    )


def test_the_build_step_describes_the_image_and_the_commit_tags_it() -> None:
    spec = spec_of(STEP, tag_templates=("{short_sha}", "{branch}"))
    assert spec.reference == f"registry.example.com/flows:{SHA}"
    assert spec.dockerfile == "docker/Dockerfile"
    assert spec.buildargs == {"PY": "3.11", "N": "2"}
    assert spec.platform == "linux/amd64"
    assert spec.additional_tags == ("stable", SHA[:7], "feature-x")
    assert spec.build_kwargs == {"pull": False}
    assert spec.labels == {
        "org.opencontainers.image.revision": SHA,
        "org.opencontainers.image.created": "2026-01-02T03:04:05Z",
        "org.opencontainers.image.source": "https://github.com/org/repo",
    }


def test_the_auto_base_follows_the_projects_prefect_version() -> None:
    assert spec_of(STEP).prefect_version == "3.9.1"
    assert spec_of("prefect-version: 3.4.2\n" + STEP).prefect_version == "3.4.2"
    assert spec_of("prefect-version: latest\n" + STEP).prefect_version == "3.9.1"


def test_image_name_option_and_no_step() -> None:
    assert spec_of("deployments: []") is None
    spec = spec_of("deployments: []", image_name="reg.io/x:ignored")
    assert spec.reference == f"reg.io/x:{SHA}" and spec.dockerfile == "auto"
    assert spec_of(STEP, image_name="other.io/y").name == "other.io/y"


def test_two_different_build_steps_are_refused() -> None:
    text = STEP.replace(
        "deployments: []",
        "deployments:\n- name: a\n  build:\n"
        "  - prefect_docker.deployments.steps.build_docker_image:\n"
        "      image_name: other/flows\n",
    )
    with pytest.raises(ConfigError, match="Docker build steps that differ"):
        spec_of(text)
    with pytest.raises(ConfigError, match="no image_name"):
        spec_of(STEP.replace('image_name: "{{ $REGISTRY }}/flows"', "dockerfile2: x"))


def test_tag_templates() -> None:
    assert tags(["{sha}", "v-{short_sha}", "{branch}"], CHECKOUT) == (
        SHA,
        f"v-{SHA[:7]}",
        "feature-x",
    )
    with pytest.raises(ConfigError, match="cannot be filled"):
        tags(["{nope}"], CHECKOUT)
    with pytest.raises(ConfigError, match="not a valid image tag"):
        tags(["-{sha}"], CHECKOUT)


@pytest.mark.parametrize("path", ["../../etc/passwd", "/etc/passwd", "docker/../../x"])
def test_a_dockerfile_outside_the_project_is_refused(path: str) -> None:
    with pytest.raises(ConfigError, match="resolves outside the project directory") as caught:
        spec_of(STEP.replace("docker/Dockerfile", path))
    assert caught.value.fix and caught.value.where is not None


# -- pushed, or built into the local engine only ----------------------------------------------

BUILD = """
build:
- prefect_docker.deployments.steps.build_docker_image:
    id: build-image
    image_name: en-banc
    tag: latest
"""
DOCKER_PUSH = """
- prefect_docker.deployments.steps.push_docker_image:
    image_name: "{{ build-image.image_name }}"
    tag: "{{ build-image.tag }}"
"""
S3_PUSH = """
- prefect_aws.deployments.steps.push_to_s3:
    bucket: my-bucket
    folder: flows
"""
A = "- name: a\n  entrypoint: flows/a.py:a\n"
B = "- name: b\n  entrypoint: flows/b.py:b\n"


def indent(steps: str, by: int) -> str:
    return "".join(" " * by + line + "\n" for line in steps.strip("\n").splitlines())


PUSH_SHAPES = {
    # the en_banc shape: a build step and nothing that pushes
    "no push section": (BUILD + "deployments:\n" + A, False),
    "push: null": (BUILD + "push: null\ndeployments:\n" + A, False),
    "top-level Docker push step": (BUILD + "push:" + DOCKER_PUSH + "deployments:\n" + A, True),
    "a deployment's own Docker push step": (
        BUILD + "deployments:\n" + A + "  push:\n" + indent(DOCKER_PUSH, 2),
        True,
    ),
    "a push step that uploads code, not the image": (
        BUILD + "push:" + S3_PUSH + "deployments:\n" + A,
        False,
    ),
    "a deployment's own S3 push replaces the file's Docker push": (
        BUILD + "push:" + DOCKER_PUSH + "deployments:\n" + A + "  push:\n" + indent(S3_PUSH, 2),
        False,
    ),
    "one deployment still inherits the file's Docker push": (
        BUILD + "push:" + DOCKER_PUSH + "deployments:\n" + A + "  push:\n" + indent(S3_PUSH, 2) + B,
        True,
    ),
    # prefect deploy falls back to the file's push steps when a deployment's own list is empty
    "an empty own push inherits the file's": (
        BUILD + "push:" + DOCKER_PUSH + "deployments:\n" + A + "  push: []\n",
        True,
    ),
    # a single step written as a mapping is a list of one to Prefect
    "a push step written as a mapping": (
        BUILD
        + "push:\n  prefect_docker.deployments.steps.push_docker_image:\n"
        + "    image_name: en-banc\ndeployments:\n"
        + A,
        True,
    ),
}


@pytest.mark.parametrize("shape", list(PUSH_SHAPES))
def test_the_image_is_pushed_only_when_a_docker_push_step_applies(shape: str) -> None:
    text, pushed = PUSH_SHAPES[shape]
    spec = spec_of(text)
    assert spec.reference == f"en-banc:{SHA}"
    assert spec.push is pushed
    assert bool(push_steps(yaml.safe_load(text))) is pushed


def test_image_name_on_the_command_line_asks_for_a_push() -> None:
    # an explicit request to build and publish, with or without a push step in the file
    assert spec_of(PUSH_SHAPES["no push section"][0], image_name="reg.io/x").push is True
    assert spec_of("deployments: []", image_name="reg.io/x").push is True


def test_push_steps_are_located_for_file_and_line() -> None:
    data = yaml.safe_load(BUILD + "deployments:\n" + A + "  push:\n" + indent(DOCKER_PUSH, 2))
    assert [path for path, _ in push_steps(data)] == [
        ("deployments", 0, "push", 0, "prefect_docker.deployments.steps.push_docker_image")
    ]


def test_a_build_step_written_as_a_mapping_is_found() -> None:
    text = "build:\n  prefect_docker.deployments.steps.build_docker_image:\n    image_name: x\n"
    data = yaml.safe_load(text + "deployments: []\n")
    assert build_steps(data) == [
        (("build", "prefect_docker.deployments.steps.build_docker_image"), {"image_name": "x"})
    ]
    assert spec_of(text + "deployments: []\n").reference == f"x:{SHA}"


def local_job(**update: Any) -> ImageJob:
    spec = spec_of(PUSH_SHAPES["no push section"][0])
    return ImageJob(reference=spec.reference, spec=spec, used=True).model_copy(update=update)


NOT_PUSHED = "(no Docker push step in prefect.yaml): a worker on another machine cannot pull it"


def test_every_state_of_a_local_image_says_it_is_not_pushed() -> None:
    states = {
        "plan, absent": image_state(local_job(exists=False), False),
        "plan, present": image_state(local_job(exists=True), False),
        "plan, no engine": image_state(local_job(problem="the Docker engine is down"), False),
        "built": image_state(local_job(exists=True, built=True), True),
        "already built": image_state(local_job(exists=True), True),
    }
    assert all(NOT_PUSHED in state for state in states.values()), states
    assert states["plan, absent"].startswith("not in the local Docker engine: apply builds it")
    assert states["plan, no engine"].startswith("unknown (the Docker engine is down)")
    assert states["built"].startswith("built locally")
    assert states["already built"].startswith("already built locally, not rebuilt")
    assert "registry" not in " ".join(states.values())
    document = image_document(local_job(exists=True, built=True), True)
    assert document["built"] is True and document["digest"] is None
    assert document["state"] == states["built"]


def test_a_plan_asks_the_local_engine_not_a_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_registry(*args: Any, **kwargs: Any) -> bool:
        raise AssertionError("a local-only image must not be looked up in a registry")

    monkeypatch.setattr("flowdeploy.pipeline.image_exists", no_registry)
    settings = Settings(
        prefect_files=(Path("prefect.yaml"),), docker_host=f"unix://{tmp_path}/no-engine.sock"
    )
    checked = _check_image(local_job(), settings)
    # no engine: the plan still works and says it cannot tell
    assert checked.exists is None
    assert checked.problem and "Docker engine is not reachable" in checked.problem
    assert image_state(checked, False).startswith("unknown (the Docker engine is not reachable")


def test_an_engine_that_cannot_be_reached_is_a_setup_error_like_the_server() -> None:
    """Nothing was written and nothing failed to apply: exit 2, as for the Prefect server."""
    from flowdeploy.errors import EXIT_CONFIG, EXIT_FAILED
    from flowdeploy.image import ImageError

    assert ImageError("the Docker engine is not reachable", step="connect").exit_code == EXIT_CONFIG
    assert ImageError("the build failed", step="build").exit_code == EXIT_FAILED


def test_the_engine_modules_do_not_import_docker_until_it_is_used() -> None:
    """A run whose image is published (or that has none) must not pay for docker-py."""
    import subprocess
    import sys

    code = "import sys, flowdeploy.run, flowdeploy.image; print('docker' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
