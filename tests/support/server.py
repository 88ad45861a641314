"""A real Prefect server for the tests, and small REST helpers to arrange its state.

The server is `prefect server start` in its own process group, with its own PREFECT_HOME (SQLite),
analytics and UI off, on a free loopback port. `start_prefect_server` waits for `/api/health` and
raises `ServiceStartError` (never skips) when the server does not come up in time.

Isolation between tests is by wiping (`reset_server_state`): deleting every automation,
deployment, flow, flow run, work pool, work queue, variable, block document and concurrency limit
through the REST API. Measured on this machine: a wipe takes ~0.1 s on an empty server and
~0.4 s after `prefect deploy` of 69 deployments (with automations and concurrency limits),
against ~6-7 s to start a fresh server; so one server per pytest process (per xdist worker) is
shared and wiped before each test that asks for `clean_api`. Deploying the same repository into
a wiped server reads back equal to the first deploy (checked with 69 deployments).

The server runs with `--no-services` (no scheduler creating flow runs behind the tests' back);
the REST API, including automations, works the same.

When FLOWDEPLOY_TEST_PIDDIR names a directory, each started server writes its process-group id
there (one file per server, removed on a clean stop), so `.ci/run` can stop exactly the servers
the suite started even when pytest itself is killed.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

SERVICE_NAME = "Prefect server"
PIDDIR_ENV = "FLOWDEPLOY_TEST_PIDDIR"
START_TIMEOUT_ENV = "FLOWDEPLOY_TEST_SERVER_TIMEOUT"
DEFAULT_START_TIMEOUT = 90.0

# Variables that make Prefect (or its git version inference) read context from the machine it
# runs on. Tests run every Prefect process with these removed so results do not depend on the
# developer's profile, a CI provider's environment, or an API URL left in the shell.
_CONTEXT_ENV_PREFIXES = ("PREFECT_",)
_CONTEXT_ENV_NAMES = frozenset(
    {
        # GitHub Actions (vcs:github version info)
        "GITHUB_SHA",
        "GITHUB_REF_NAME",
        "GITHUB_REPOSITORY",
        "GITHUB_SERVER_URL",
        # GitLab
        "CI_COMMIT_SHA",
        "CI_COMMIT_REF_NAME",
        "CI_PROJECT_NAME",
        "CI_PROJECT_URL",
        # Bitbucket
        "BITBUCKET_COMMIT",
        "BITBUCKET_BRANCH",
        "BITBUCKET_REPO_SLUG",
        "BITBUCKET_GIT_HTTP_ORIGIN",
        # Azure DevOps
        "BUILD_SOURCEVERSION",
        "BUILD_SOURCEBRANCHNAME",
        "BUILD_REPOSITORY_NAME",
        "BUILD_REPOSITORY_URI",
    }
)


class ServiceStartError(RuntimeError):
    """A service the tests need did not start."""


def venv_bin(name: str) -> str:
    """Path of a console script installed beside the running interpreter (the project venv)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise ServiceStartError(
            f"`{name}` is not installed next to {sys.executable} nor on PATH. "
            "Install the test extra: `bash scripts/setup.sh` (pip install -e '.[test]')."
        )
    return found


def isolated_env(base: Mapping[str, str] | None = None, **overrides: str) -> dict[str, str]:
    """A copy of `base` (default os.environ) without PREFECT_* and CI version-info variables,
    and with an empty PREFECT_HOME of its own unless one is given: Prefect and flowdeploy
    read the user's ~/.prefect/profiles.toml otherwise (a developer's may name a server)."""
    source = os.environ if base is None else base
    env = {
        key: value
        for key, value in source.items()
        if not key.startswith(_CONTEXT_ENV_PREFIXES) and key not in _CONTEXT_ENV_NAMES
    }
    env["PREFECT_HOME"] = _empty_prefect_home()
    env.update(overrides)
    return env


@functools.cache
def _empty_prefect_home() -> str:
    home = tempfile.mkdtemp(prefix="flowdeploy-tests-prefect-home-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    return home


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class PrefectServer:
    """A running `prefect server start`."""

    api_url: str
    port: int
    home: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    pidfile: Path | None = None
    started_in: float = 0.0
    _stopped: bool = field(default=False, repr=False)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def cpu_seconds(self) -> float:
        """CPU time the server process has used so far (user + system). It serves every
        request in this one process, SQLite included, so the difference over a run is what
        the server itself spent on that run's requests."""
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        # the fields after the command name, which is in parentheses and may hold spaces
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the whole process group: SIGTERM, then SIGKILL after `timeout`."""
        if self._stopped:
            return
        self._stopped = True
        pgid = self.process.pid  # started with start_new_session=True: pid == pgid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            self.process.wait(timeout=timeout)
        # Children that outlived the leader (none expected) go too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        if self.pidfile is not None:
            with contextlib.suppress(FileNotFoundError):
                self.pidfile.unlink()


def _how_to_start(port: int, home: Path) -> str:
    return (
        f"To start it by hand: PREFECT_HOME={home} PREFECT_SERVER_ANALYTICS_ENABLED=false "
        f"PREFECT_SERVER_UI_ENABLED=false {venv_bin('prefect')} server start "
        f"--host 127.0.0.1 --port {port} --no-services ; then check "
        f"http://127.0.0.1:{port}/api/health. Install it with `bash scripts/setup.sh`."
    )


def start_prefect_server(
    workdir: Path, *, timeout: float | None = None, database_url: str | None = None
) -> PrefectServer:
    """Start a Prefect server with its own PREFECT_HOME under `workdir` and wait until healthy.

    `database_url` (e.g. ``postgresql+asyncpg://...``) replaces the server's own SQLite file.
    Raises ServiceStartError with the server log and a how-to-start hint on failure.
    """
    if timeout is None:
        timeout = float(os.environ.get(START_TIMEOUT_ENV, DEFAULT_START_TIMEOUT))
    last_error: ServiceStartError | None = None
    for _attempt in range(2):  # a second try only if the free port was taken meanwhile
        try:
            return _start_once(workdir, timeout=timeout, database_url=database_url)
        except _PortTaken as exc:
            last_error = ServiceStartError(str(exc))
    assert last_error is not None
    raise last_error


class _PortTaken(ServiceStartError):
    pass


def _start_once(workdir: Path, *, timeout: float, database_url: str | None) -> PrefectServer:
    port = free_port()
    home = workdir / f"prefect-home-{port}"
    home.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"prefect-server-{port}.log"
    env = isolated_env(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_DATABASE_CONNECTION_URL=database_url
        or f"sqlite+aiosqlite:///{home}/prefect.db",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_UI_ENABLED="false",
        PREFECT_SERVER_LOGGING_LEVEL="WARNING",
        PREFECT_LOGGING_LEVEL="WARNING",
    )
    command = [
        venv_bin("prefect"),
        "server",
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-services",  # no scheduler: no flow runs appear behind the tests' back
        "--no-ui",
        "--analytics-off",
    ]
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pidfile: Path | None = None
    piddir = os.environ.get(PIDDIR_ENV)
    if piddir:
        pidfile = Path(piddir) / f"prefect-server-{process.pid}.pgid"
        pidfile.write_text(f"{process.pid}\n")
    server = PrefectServer(
        api_url=f"http://127.0.0.1:{port}/api",
        port=port,
        home=home,
        log_path=log_path,
        process=process,
        pidfile=pidfile,
    )
    try:
        _wait_healthy(server, started, timeout)
    except BaseException:
        tail = server.log_tail()
        server.stop()
        if "address already in use" in tail.lower():
            raise _PortTaken(f"{SERVICE_NAME}: port {port} was taken; retrying") from None
        raise
    server.started_in = time.monotonic() - started
    return server


def _wait_healthy(server: PrefectServer, started: float, timeout: float) -> None:
    deadline = started + timeout
    with httpx.Client(base_url=server.api_url, timeout=2.0) as client:
        while True:
            code = server.process.poll()
            if code is not None:
                raise ServiceStartError(
                    f"{SERVICE_NAME} exited with code {code} before it was ready "
                    f"(log {server.log_path}):\n{server.log_tail()}\n\n"
                    f"{_how_to_start(server.port, server.home)}"
                )
            try:
                health = client.get("/health")
                # Core block types are registered at startup; tests use `secret`.
                if health.status_code == 200 and (
                    client.get("/block_types/slug/secret").status_code == 200
                ):
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise ServiceStartError(
                    f"{SERVICE_NAME} did not answer {server.api_url}/health within "
                    f"{timeout:.0f}s (log {server.log_path}):\n"
                    f"{server.log_tail()}\n\n{_how_to_start(server.port, server.home)}"
                )
            time.sleep(0.2)


# --------------------------------------------------------------------------------------------
# REST helpers


def api_client(api_url: str, timeout: float = 30.0) -> httpx.Client:
    return httpx.Client(base_url=api_url.rstrip("/") + "/", timeout=timeout)


def request(
    client: httpx.Client, method: str, path: str, *, json_body: Any = None, retries: int = 5
) -> httpx.Response:
    """One REST call; retries SQLite's occasional 503 under concurrent writes, raises on error."""
    for attempt in range(retries):
        response = client.request(method, path.lstrip("/"), json=json_body)
        if response.status_code != 503 or attempt == retries - 1:
            break
        time.sleep(0.2 * (attempt + 1))
    if response.is_error:
        raise AssertionError(f"{method} {path} -> {response.status_code}: {response.text[:2000]}")
    return response


def paged(client: httpx.Client, path: str, body: dict[str, Any] | None = None) -> list[Any]:
    """Every item of a `/filter` endpoint, paging with offset/limit."""
    items: list[Any] = []
    limit = 200
    while True:
        page = request(
            client, "POST", path, json_body={**(body or {}), "limit": limit, "offset": len(items)}
        ).json()
        items.extend(page)
        if len(page) < limit:
            return items


def reset_server_state(api_url: str) -> None:
    """Delete everything a test may have created, leaving a server as fresh as a new one
    (core block types and schemas stay: the server registers them at startup)."""
    with api_client(api_url) as client:
        for automation in paged(client, "automations/filter"):
            request(client, "DELETE", f"automations/{automation['id']}")
        while request(client, "POST", "deployments/bulk_delete", json_body={}).json()["deleted"]:
            pass
        while request(client, "POST", "flows/bulk_delete", json_body={}).json()["deleted"]:
            pass
        for run in paged(client, "flow_runs/filter"):
            request(client, "DELETE", f"flow_runs/{run['id']}")
        for pool in paged(client, "work_pools/filter"):
            request(client, "DELETE", f"work_pools/{pool['name']}")
        for queue in paged(client, "work_queues/filter"):
            request(client, "DELETE", f"work_queues/{queue['id']}")
        for variable in paged(client, "variables/filter"):
            request(client, "DELETE", f"variables/{variable['id']}")
        for document in paged(
            client, "block_documents/filter", {"block_documents": {"is_anonymous": None}}
        ):
            request(client, "DELETE", f"block_documents/{document['id']}")
        for limit in paged(client, "v2/concurrency_limits/filter"):
            request(client, "DELETE", f"v2/concurrency_limits/{limit['id']}")
        for limit in paged(client, "concurrency_limits/filter"):
            request(client, "DELETE", f"concurrency_limits/{limit['id']}")


def server_is_empty(api_url: str) -> dict[str, int]:
    """Counts of what `reset_server_state` removes (all zero on a fresh server)."""
    with api_client(api_url) as client:
        counts = {
            "automations": len(paged(client, "automations/filter")),
            "deployments": len(paged(client, "deployments/filter")),
            "flows": len(paged(client, "flows/filter")),
            "work_pools": len(paged(client, "work_pools/filter")),
            "variables": len(paged(client, "variables/filter")),
            "block_documents": len(
                paged(client, "block_documents/filter", {"block_documents": {"is_anonymous": None}})
            ),
            "global_concurrency_limits": len(paged(client, "v2/concurrency_limits/filter")),
        }
    return counts


PoolKind = Literal["process", "docker"]


def _worker_metadata() -> dict[str, Any]:
    """Prefect ships its workers' default job templates (docker included) as JSON."""
    spec = importlib.util.find_spec("prefect")
    assert spec is not None and spec.origin is not None, "prefect is not installed"
    path = (
        Path(spec.origin).parent
        / "server/api/collections_data/views/aggregate-worker-metadata.json"
    )
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def default_job_template(kind: PoolKind) -> dict[str, Any]:
    """The real default base_job_template of the `process` or `docker` worker.

    The `docker` one has `variables.properties.image` (type string), which is what makes a pool
    "Docker-based" for `prefect deploy` and flowdeploy. prefect-docker need not be installed:
    the server accepts any pool type string.
    """
    metadata = _worker_metadata()
    package = "prefect" if kind == "process" else "prefect-docker"
    template: dict[str, Any] = metadata[package][kind]["default_base_job_configuration"]
    assert kind != "docker" or "image" in template["variables"]["properties"]
    return template


def create_work_pool(
    api_url: str,
    name: str,
    kind: PoolKind = "process",
    *,
    base_job_template: dict[str, Any] | None = None,
) -> dict[str, Any]:
    with api_client(api_url) as client:
        body = {
            "name": name,
            "type": kind,
            "base_job_template": base_job_template or default_job_template(kind),
        }
        created: dict[str, Any] = request(client, "POST", "work_pools/", json_body=body).json()
        return created


def create_variable(api_url: str, name: str, value: Any, tags: list[str] | None = None) -> None:
    with api_client(api_url) as client:
        request(
            client,
            "POST",
            "variables/",
            json_body={"name": name, "value": value, "tags": tags or []},
        )


def create_block(
    api_url: str, block_type_slug: str, name: str, data: dict[str, Any]
) -> dict[str, Any]:
    """A block document of an already registered type (e.g. `secret`, `local-file-system`)."""
    with api_client(api_url) as client:
        block_type = request(client, "GET", f"block_types/slug/{block_type_slug}").json()
        schemas = request(
            client,
            "POST",
            "block_schemas/filter",
            json_body={"block_schemas": {"block_type_id": {"any_": [block_type["id"]]}}},
        ).json()
        assert schemas, f"no block schema registered for block type {block_type_slug!r}"
        created: dict[str, Any] = request(
            client,
            "POST",
            "block_documents/",
            json_body={
                "name": name,
                "data": data,
                "block_schema_id": schemas[0]["id"],
                "block_type_id": block_type["id"],
            },
        ).json()
        return created
