"""The first hour, tried as a new user would (issue 11): the installed `flowdeploy` run as a
process, against no server, a server found through a Prefect profile, and a server that
answers 503 for a while."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from support.conformance import POOL, completed, make_case_repo, run_flowdeploy
from support.faultproxy import FaultProxy, Rule
from support.server import PrefectServer, create_work_pool, isolated_env, venv_bin

pytestmark = pytest.mark.integration

FILES = {
    "prefect.yaml": (
        "name: first-hour\n"
        "deployments:\n"
        "  - name: nightly\n"
        "    entrypoint: flows/etl.py:etl\n"
        f"    work_pool: {{name: {POOL}}}\n"
    ),
    "flows/etl.py": "from prefect import flow\n\n\n@flow\ndef etl() -> None:\n    pass\n",
}


def closed_port() -> int:
    """A port that was bound a moment ago and is closed now: connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_closed_port_fails_at_once_with_the_good_message(tmp_path: Path) -> None:
    repo = make_case_repo(tmp_path / "repo", FILES).path
    url = f"http://127.0.0.1:{closed_port()}/api"
    started = time.monotonic()
    done = run_flowdeploy(
        "plan", "--all", cwd=repo, api_url=url, env={"PREFECT_HOME": str(tmp_path / "home")}
    )
    took = time.monotonic() - started
    print(f"\nrefused port: exit {done.returncode} after {took:.2f} s")
    assert took < 2.0, completed(done)
    assert done.returncode == 2, completed(done)
    assert f"error: cannot reach the Prefect API at {url} to check its health" in done.stderr
    assert "Connection refused" in done.stderr
    assert "fix: check PREFECT_API_URL and that the server is running" in done.stderr
    assert "retry:" not in done.stderr and done.stdout == ""


def test_the_url_and_key_of_a_prefect_profile_are_used(
    clean_api: PrefectServer, tmp_path: Path
) -> None:
    """What `prefect config set PREFECT_API_URL=...` leaves behind, with no PREFECT_API_URL
    in the environment."""
    create_work_pool(clean_api.api_url, POOL, "process")
    repo = make_case_repo(tmp_path / "repo", FILES).path
    home = tmp_path / "prefect-home"
    home.mkdir()
    (home / "profiles.toml").write_text(
        'active = "ephemeral"\n\n'
        "[profiles.ephemeral]\n"
        'PREFECT_SERVER_EPHEMERAL_ENABLED = "true"\n'
        f'PREFECT_API_URL = "{clean_api.api_url}"\n',
        encoding="utf-8",
    )
    env = {"PREFECT_HOME": str(home)}
    plan = run_flowdeploy("plan", "--all", cwd=repo, api_url=None, env=env)
    assert plan.returncode == 0, completed(plan)
    assert "etl/nightly" in plan.stdout and "create" in plan.stdout
    applied = run_flowdeploy("apply", "--all", cwd=repo, api_url=None, env=env)
    assert applied.returncode == 0, completed(applied)
    assert "created" in applied.stdout
    assert f"prefect worker start --pool '{POOL}'" in applied.stdout
    # The test server runs with its UI turned off: no link that would not open.
    assert "View it in the UI" not in applied.stdout
    again = run_flowdeploy("plan", "--all", cwd=repo, api_url=None, env=env)
    assert "Nothing to do: every deployment is up to date." in again.stdout, completed(again)
    # Without the profile, the message says where it looked.
    (home / "profiles.toml").unlink()
    missing = run_flowdeploy("plan", "--all", cwd=repo, api_url=None, env=env)
    assert missing.returncode == 2, completed(missing)
    assert "PREFECT_API_URL is not set" in missing.stderr
    assert str(home / "profiles.toml") in missing.stderr


def test_a_server_answering_503_is_said_at_the_first_retry(
    clean_api: PrefectServer, tmp_path: Path
) -> None:
    """Not 15 s of silence before the message: the first retry is a line on stderr at once,
    and the run goes on once the server answers."""
    create_work_pool(clean_api.api_url, POOL, "process")
    repo = make_case_repo(tmp_path / "repo", FILES).path
    # Five 503s in a row: about 4-8 s of backoff before the server answers.
    with FaultProxy(clean_api.api_url, [Rule({"503": 1.0}, limit=5)]) as proxy:
        env = isolated_env(
            None, NO_COLOR="1", PREFECT_API_URL=proxy.api_url, PREFECT_HOME=str(tmp_path)
        )
        started = time.monotonic()
        process = subprocess.Popen(
            [venv_bin("flowdeploy"), "plan", "--all"],
            cwd=repo,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: list[tuple[float, str]] = []
        printed: list[str] = []

        def read_stderr() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                lines.append((time.monotonic() - started, line.rstrip("\n")))

        def read_stdout() -> None:
            assert process.stdout is not None
            printed.append(process.stdout.read())

        readers = [threading.Thread(target=f, daemon=True) for f in (read_stderr, read_stdout)]
        for reader in readers:
            reader.start()
        process.wait(timeout=120)
        ended = time.monotonic() - started
        for reader in readers:
            reader.join(timeout=10)
        out = "".join(printed)
    retries = [(at, line) for at, line in lines if line.startswith("retry:")]
    shown = "\n".join(f"{at:6.2f} {line}" for at, line in lines)
    print(f"\n{shown}\nexit {process.returncode} after {ended:.2f} s")
    assert process.returncode == 0, shown + out
    assert len(retries) == 5, shown
    first_at, first = retries[0]
    assert first.startswith("retry: check its health: HTTP 503; next attempt (2 of 11) in ")
    assert first_at < 3.0, shown
    assert ended - first_at > 2.0, "the first retry was only said near the end:\n" + shown
    assert "etl/nightly" in out
