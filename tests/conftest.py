"""Shared fixtures: a real Prefect server, a clean API per test, a recording proxy.

`tests/` is on sys.path (pytest's rootdir conftest insertion), so test modules import the helpers
as `support.server`, `support.proxy`, `support.oracle`, `support.genrepo`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

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
