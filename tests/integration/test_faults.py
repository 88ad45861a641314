"""Faults between flowdeploy and a real Prefect server: a seeded fault-injecting proxy (503, 429
with Retry-After, resets before and after the server handled a request, late answers), a
server killed and restarted mid-apply. Whatever happens on the way, the server ends with
exactly the deployments and automations a clean apply makes, field by field, and no report
says "failed" for a deployment the server holds."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from flowdeploy.api import Connection, PrefectApi
from flowdeploy.cli import main
from flowdeploy.pipeline import Status, apply_plan, read_plan
from flowdeploy.settings import load_settings
from support.faultproxy import FaultProxy, Record, Rule, endpoint, everything
from support.oracle import diff_deployments, read_deployments
from support.proxy import RecordingProxy
from support.server import (
    PrefectServer,
    api_client,
    create_work_pool,
    free_port,
    isolated_env,
    paged,
    reset_server_state,
    venv_bin,
)

COUNT = 20
FLOW = '''from prefect import flow


@flow
def etl(n: int = 1, source: str = "orders") -> int:
    """Load one source."""
    return n
'''
THIRTY_PERCENT = {
    "503": 0.07,
    "429": 0.04,
    "reset": 0.06,
    "reset_after": 0.07,
    "502_after": 0.03,
    "delay": 0.03,
}
RULES = [
    # The non-idempotent write meets lost answers more often than the rest.
    Rule(
        {"503": 0.05, "reset": 0.05, "reset_after": 0.12, "502_after": 0.05, "delay": 0.03},
        endpoint("POST", "/automations/"),
    ),
    Rule(THIRTY_PERCENT, everything),
]


def trigger(i: int, event: str = "done") -> str:
    return (
        "  triggers:\n"
        "    - type: event\n"
        f"      expect: [example.d{i:02d}.{event}]\n"
        '      match: {prefect.resource.id: "example.*"}\n'
        f"      parameters: {{n: {i}}}\n"
    )


def project(root: Path, count: int = COUNT, event: str = "done") -> Path:
    (root / "flows").mkdir(parents=True, exist_ok=True)
    (root / "flows" / "etl.py").write_text(FLOW)
    entries = "".join(
        f"- name: d{i:02d}\n"
        "  entrypoint: flows/etl.py:etl\n"
        "  work_pool: {name: pool}\n"
        f"  parameters: {{source: s{i}}}\n"
        "  schedules: [{interval: 3600, anchor_date: '2025-01-01T00:00:00', timezone: UTC}]\n"
        + trigger(i, event)
        for i in range(count)
    )
    (root / "prefect.yaml").write_text("deployments:\n" + entries)
    return root


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for var in list(os.environ):
        if var.startswith(("GITHUB_", "PREFECT_")):
            monkeypatch.delenv(var)
    return monkeypatch


def cli(
    capsys: pytest.CaptureFixture[str],
    env: pytest.MonkeyPatch,
    api_url: str,
    command: str,
    root: Path,
) -> tuple[int, dict[str, Any], str]:
    env.setenv("PREFECT_API_URL", api_url)
    code = main([command, "--all", "--project-dir", str(root), "--format", "json"])
    out, err = capsys.readouterr()
    doc: dict[str, Any] = json.loads(out)
    return code, doc, err


def statuses(doc: dict[str, Any]) -> dict[str, str]:
    return {d["name"]: d.get("status") or d["action"] for d in doc["deployments"]}


def automations(api_url: str) -> list[dict[str, Any]]:
    with api_client(api_url) as client:
        return paged(client, "automations/filter")


def assert_complete(api_url: str, count: int = COUNT) -> dict[str, dict[str, Any]]:
    """Exactly ``count`` deployments, each with exactly its one automation."""
    state = read_deployments(api_url)
    assert len(state) == count, sorted(state)
    assert len(automations(api_url)) == count
    for name, deployment in state.items():
        assert len(deployment["automations"]) == 1, (name, deployment["automations"])
    return state


@pytest.fixture
def clean_state(
    clean_api: PrefectServer,
    env: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> dict[str, dict[str, Any]]:
    """What a clean apply (through the plain recording proxy) registers; the server is wiped
    again afterwards, with the work pool left in place."""
    root = project(tmp_path / "repo")
    create_work_pool(clean_api.api_url, "pool")
    with RecordingProxy(clean_api.api_url) as proxy:
        code, _, err = cli(capsys, env, proxy.api_url, "apply", root)
    assert code == 0, err
    state = assert_complete(clean_api.api_url)
    reset_server_state(clean_api.api_url)
    create_work_pool(clean_api.api_url, "pool")
    return state


# More seeds: FLOWDEPLOY_FAULT_SEEDS=1,2,3,... (the normal run tries one).
SEEDS = [int(s) for s in os.environ.get("FLOWDEPLOY_FAULT_SEEDS", "1").split(",")]


@pytest.mark.parametrize("seed", SEEDS)
def test_thirty_percent_faults_end_equal_to_a_clean_apply(
    clean_api: PrefectServer,
    clean_state: dict[str, dict[str, Any]],
    env: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    seed: int,
) -> None:
    root = tmp_path / "repo"  # the clean apply's: the default pull step names the directory
    with FaultProxy(clean_api.api_url, RULES, seed=seed) as proxy:
        code, doc, err = cli(capsys, env, proxy.api_url, "apply", root)
        assert code == 0, err
        assert set(statuses(doc).values()) == {"created"}, doc
        done = proxy.summary()
        assert sum(n for fault, n in done.items() if fault != "none") >= 10, done

        state = assert_complete(clean_api.api_url)
        assert diff_deployments(clean_state, state) == []

        code, doc, err = cli(capsys, env, proxy.api_url, "plan", root)
        assert code == 0, err
        assert set(statuses(doc).values()) == {"unchanged"}


@pytest.mark.parametrize("fault", ["reset_after", "502_after"])
def test_every_automation_answer_lost_makes_no_duplicate(
    clean_api: PrefectServer,
    env: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fault: str,
) -> None:
    """Each POST /automations/ is handled by the server and its answer lost: each is read
    back and found, never sent twice."""
    create_work_pool(clean_api.api_url, "pool")
    root = project(tmp_path / "repo", count=5)
    rules = [Rule({fault: 1.0}, endpoint("POST", "/automations/"))]
    with FaultProxy(clean_api.api_url, rules) as proxy:
        code, doc, err = cli(capsys, env, proxy.api_url, "apply", root)
        creates = [r for r in proxy.records if r.path.endswith("/automations/")]
    assert code == 0, err
    assert set(statuses(doc).values()) == {"created"}
    assert len(creates) == 5 and all(r.forwarded and r.fault == fault for r in creates)
    assert_complete(clean_api.api_url, 5)


@pytest.mark.parametrize("fault", ["late", "delay"])
def test_a_slow_automation_create_makes_no_duplicate(
    clean_api: PrefectServer,
    env: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fault: str,
) -> None:
    """A create slower than PREFECT_API_REQUEST_TIMEOUT, handled after (``delay``) or before
    (``late``) the client gave up: read back, never created twice."""
    create_work_pool(clean_api.api_url, "pool")
    root = project(tmp_path / "repo", count=3)
    env.setenv("PREFECT_API_REQUEST_TIMEOUT", "1")
    rules = [Rule({fault: 1.0}, endpoint("POST", "/automations/"), limit=1, delay=1.6)]
    with FaultProxy(clean_api.api_url, rules) as proxy:
        code, doc, err = cli(capsys, env, proxy.api_url, "apply", root)
        slow = [r for r in proxy.records if r.fault]
    assert code == 0, err
    assert set(statuses(doc).values()) == {"created"}
    assert len(slow) == 1
    time.sleep(1.0)  # anything still in flight has landed
    assert_complete(clean_api.api_url, 3)


def test_a_failing_trigger_update_leaves_the_old_automation(
    clean_api: PrefectServer,
    env: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    create_work_pool(clean_api.api_url, "pool")
    # One write at a time: the order of the writes across deployments is what is checked.
    env.setenv("FLOWDEPLOY_CONCURRENCY", "1")
    root = project(tmp_path / "repo", count=3)
    with RecordingProxy(clean_api.api_url) as plain:
        assert cli(capsys, env, plain.api_url, "apply", root)[0] == 0
    before = read_deployments(clean_api.api_url)

    project(root, count=3, event="finished")  # every trigger changes
    rules = [Rule({"500": 1.0}, endpoint("POST", "/automations/"))]
    with FaultProxy(clean_api.api_url, rules) as proxy:
        code, doc, _ = cli(capsys, env, proxy.api_url, "apply", root)
        deletes = [r for r in proxy.records if r.method == "DELETE"]
    assert code == 1
    assert set(statuses(doc).values()) == {"failed"}
    assert deletes == []  # the old automations were never touched
    after = assert_complete(clean_api.api_url, 3)
    for name, deployment in after.items():
        assert deployment["automations"] == before[name]["automations"]
        assert deployment["automations"][0]["trigger"]["expect"][0].endswith(".done")

    with RecordingProxy(clean_api.api_url) as plain:
        code, doc, err = cli(capsys, env, plain.api_url, "apply", root)
        assert code == 0, err
        assert set(statuses(doc).values()) == {"updated"}
        methods = [(r.method, r.path.rsplit("/", 2)[-2]) for r in plain.writes()]
    # create first, then delete: per deployment, the POST comes before the DELETE
    order = [m for m, what in methods if what == "automations"]
    assert order == ["POST", "DELETE"] * 3, methods
    for deployment in assert_complete(clean_api.api_url, 3).values():
        assert deployment["automations"][0]["trigger"]["expect"][0].endswith(".finished")


# -- a server killed and restarted mid-apply -----------------------------------------------


def start_server(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = isolated_env(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{home}/prefect.db",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_UI_ENABLED="false",
        PREFECT_SERVER_LOGGING_LEVEL="WARNING",
        PREFECT_LOGGING_LEVEL="WARNING",
    )
    command = [venv_bin("prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with (home / "server.log").open("ab") as log:
        return subprocess.Popen(
            [*command, "--no-services", "--no-ui", "--analytics-off"],
            cwd=home,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_healthy(api_url: str, process: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the Prefect server exited"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError("the Prefect server did not come up")


def kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A server of its own (the test kills it), restartable on the same port and database."""
    home = tmp_path / "server"
    home.mkdir()
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    state: dict[str, Any] = {"process": start_server(home, port), "home": home, "port": port}
    state["api_url"] = api_url
    try:
        wait_healthy(api_url, state["process"])
        yield state
    finally:
        kill(state["process"])


def test_server_killed_and_restarted_mid_apply(
    own_server: dict[str, Any],
    env: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api_url = own_server["api_url"]
    create_work_pool(api_url, "pool")
    root = project(tmp_path / "repo", count=12)
    restarted = threading.Event()

    def restart() -> None:
        time.sleep(2.0)
        own_server["process"] = start_server(own_server["home"], own_server["port"])
        wait_healthy(api_url, own_server["process"])
        restarted.set()

    def on_forwarded(record: Record) -> str | None:
        # The 6th automation create reaches the server, which dies before its answer does.
        creates = [r for r in proxy.records if r.path.endswith("/automations/") and r.forwarded]
        if record.path.endswith("/automations/") and len(creates) == 6 and not restarted.is_set():
            kill(own_server["process"])
            threading.Thread(target=restart, daemon=True).start()
            return "reset_after"
        return None

    with FaultProxy(api_url, on_forwarded=on_forwarded) as proxy:
        code, doc, err = cli(capsys, env, proxy.api_url, "apply", root)
        assert restarted.wait(60)
        held = read_deployments(api_url)
        failed = [name for name, status in statuses(doc).items() if status == "failed"]
        # A deployment reported failed is not held as wanted (here: none is failed at all:
        # the writes wait for the server to come back).
        for name in failed:
            assert name not in held or len(held[name]["automations"]) != 1, (name, doc)
        assert code == 0, err
        # the server was down for a while: the proxy answered 502 for it
        assert any(r.status == 502 and not r.fault for r in proxy.records)
        code, doc, err = cli(capsys, env, proxy.api_url, "apply", root)
        assert code == 0, err
        code, doc, err = cli(capsys, env, proxy.api_url, "plan", root)
        assert set(statuses(doc).values()) == {"unchanged"}
    assert_complete(api_url, 12)


# -- read back before reporting ------------------------------------------------------------


def test_lost_deployment_answers_are_read_back_not_reported_failed(
    clean_api: PrefectServer, tmp_path: Path
) -> None:
    """Every create and update of a deployment, and every delete of an old automation, is
    handled and its answer lost, past the client's last retry: the deployments are read back,
    found as wanted, and reported created / updated, never failed."""
    create_work_pool(clean_api.api_url, "pool")
    root = project(tmp_path / "repo", count=3)
    lost = [
        Rule({"502_after": 1.0}, endpoint("POST", "/deployments/")),
        Rule({"502_after": 1.0}, lambda m, p: m in ("PATCH", "DELETE")),
    ]
    with FaultProxy(clean_api.api_url, lost) as proxy:
        environ = {"PREFECT_API_URL": proxy.api_url}
        settings = load_settings(environ, project_dir=str(root), all_=True)
        lines: list[str] = []
        # One write at a time: concurrent writes to SQLite get real 503s, which the proxy
        # would turn into lost answers on top of the ones this test counts.
        with PrefectApi(
            Connection(proxy.api_url), retries=1, on_retry=lines.append, concurrency=1
        ) as api:
            results = apply_plan(read_plan(settings, api).plan, api)
        assert [o.status for o in results.outcomes] == [Status.CREATED] * 3
        assert all("confirmed" not in o.detail for o in results.outcomes)
        assert any("502" in line for line in lines)

        project(root, count=3, event="finished")
        settings = load_settings(environ, project_dir=str(root), all_=True)
        with PrefectApi(Connection(proxy.api_url), retries=1, concurrency=1) as api:
            results = apply_plan(read_plan(settings, api).plan, api)
        assert [o.status for o in results.outcomes] == [Status.UPDATED] * 3
        # Each PATCH and each DELETE of the old automation was done, its answer lost twice;
        # the deployments are read back and found as wanted.
        assert all("confirmed by reading it back" in o.detail for o in results.outcomes)
        for method in ("PATCH", "DELETE"):
            sent = [r for r in proxy.records if r.method == method]
            assert len(sent) == 6 and all(r.forwarded for r in sent), sent
    assert_complete(clean_api.api_url, 3)
