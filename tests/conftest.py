"""Shared fixtures: a real Prefect server, a clean API per test, a recording proxy, a real
Docker engine and a real registry (with auth), wiped per test.

`tests/` is on sys.path (pytest's rootdir conftest insertion), so test modules import the helpers
as `support.server`, `support.proxy`, `support.oracle`, `support.genrepo`, `support.docker`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from hypothesis import settings

from support.docker import (
    ENGINE_SERVICE,
    REGISTRY_SERVICE,
    DockerEngine,
    Registry,
    start_docker_engine,
    start_registry,
)
from support.github_api import FakeGitHub
from support.proxy import RecordingProxy
from support.server import (
    SERVICE_NAME,
    PrefectServer,
    ServiceStartError,
    reset_server_state,
    start_prefect_server,
)

# CI must be reproducible: a red run means nothing lands, so property tests there replay the
# same examples every time; locally they explore new ones on every run.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """One real `prefect server start` per pytest process (per xdist worker).

    Fails (never skips) every test that needs it when the server cannot start.
    """
    workdir = tmp_path_factory.mktemp("prefect-server")
    failure: str | None = None
    try:
        server = start_prefect_server(workdir)
    except ServiceStartError as exc:
        failure = str(exc)
    if failure is not None:
        pytest.fail(f"{SERVICE_NAME} could not be started for the tests:\n{failure}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def clean_api(prefect_server: PrefectServer) -> PrefectServer:
    """The shared server, wiped to the state of a freshly started one before the test."""
    reset_server_state(prefect_server.api_url)
    return prefect_server


@pytest.fixture
def recording_proxy(clean_api: PrefectServer) -> Iterator[RecordingProxy]:
    """A recording reverse proxy in front of the clean server; use `.api_url`, `.writes()`."""
    with RecordingProxy(clean_api.api_url) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def docker_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerEngine]:
    """One real dockerd (own data root, exec root and socket) per pytest process (per xdist
    worker); use `.host` / `.client()`. Images built in one test stay for the next.

    Fails (never skips) every test that needs it when the engine cannot start.
    """
    workdir = tmp_path_factory.mktemp("docker-engine")
    failure: str | None = None
    try:
        engine = start_docker_engine(workdir)
    except ServiceStartError as exc:
        failure = str(exc)
    if failure is not None:
        pytest.fail(
            f"{ENGINE_SERVICE} could not be started for the tests:\n{failure}", pytrace=False
        )
    try:
        yield engine
    finally:
        engine.stop()


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """One real registry on 127.0.0.1 with htpasswd auth (user "flowdeploy", a random
    password) per pytest process; `.address`, `.auth_config()`, `.manifest_exists()`.

    Fails (never skips) every test that needs it when the registry cannot start.
    """
    workdir = tmp_path_factory.mktemp("registry")
    failure: str | None = None
    try:
        started = start_registry(workdir, username="flowdeploy", password=secrets.token_urlsafe(16))
    except ServiceStartError as exc:
        failure = str(exc)
    if failure is not None:
        pytest.fail(
            f"{REGISTRY_SERVICE} could not be started for the tests:\n{failure}", pytrace=False
        )
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def clean_registry(registry: Registry) -> Registry:
    """The shared registry, with every repository, manifest and blob removed before the test."""
    registry.delete_all()
    return registry


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    """A loopback stand-in for GitHub's REST API (issue comments); `.api_url`, `.token`."""
    with FakeGitHub() as fake:
        yield fake
