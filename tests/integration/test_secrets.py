"""No secret in any byte flowdeploy writes: stdout, stderr, the JSON document, the job summary
and the outputs file, for each secret and each form it takes (raw, the base64 of the Basic
header, JSON-escaped, each line of a multi-line one), on success and on failure paths (a
server that refuses and echoes the Authorization header, a crash inside flowdeploy)."""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from flowdeploy import run as run_module
from flowdeploy.action import run_action
from flowdeploy.cli import main
from support.proxy import RecordingProxy
from support.server import create_block, create_work_pool

API_KEY = "pnu_Sup3rS3cretKey0123456789"
AUTH = 'admin:p@ss"w0rd\\x'
BLOCK = '-----BEGIN KEY-----\nline-two-"quoted"-secret\n-----END KEY-----'
URL_PASSWORD = "urlpassw0rd"
FLOW = "from prefect import flow\n\n\n@flow\ndef etl(token: str = '') -> str:\n    return token\n"


def forms() -> list[str]:
    found = [API_KEY, AUTH, URL_PASSWORD, base64.b64encode(AUTH.encode()).decode()]
    for secret in (API_KEY, AUTH, BLOCK):
        found.append(json.dumps(secret)[1:-1])
    found += [line for line in BLOCK.splitlines() if "KEY" not in line]
    return found


def leaks(*texts: str) -> list[str]:
    shown = "\n".join(
        line for text in texts for line in text.splitlines() if not line.startswith("::add-mask::")
    )
    return [form for form in forms() if form in shown]


@pytest.fixture
def repo(tmp_path: Path, recording_proxy: RecordingProxy) -> Path:
    create_work_pool(recording_proxy.api_url, "pool", "process")
    create_block(recording_proxy.api_url, "secret", "deploy-key", {"value": BLOCK})
    root = tmp_path / "repo"
    (root / "flows").mkdir(parents=True)
    (root / "flows" / "etl.py").write_text(FLOW)
    (root / "prefect.yaml").write_text(
        "deployments:\n- name: nightly\n  entrypoint: flows/etl.py:etl\n"
        "  parameters: {token: '{{ prefect.blocks.secret.deploy-key }}'}\n"
        "  work_pool: {name: pool}\n"
    )
    return root


def with_credentials(url: str) -> str:
    return url.replace("http://", f"http://user:{URL_PASSWORD}@", 1)


def environ(monkeypatch: pytest.MonkeyPatch, api_url: str) -> None:
    for key in ("GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("PREFECT_API_URL", with_credentials(api_url))
    monkeypatch.setenv("PREFECT_API_KEY", API_KEY)
    monkeypatch.setenv("PREFECT_API_AUTH_STRING", AUTH)


def test_success_paths_show_no_secret(
    repo: Path,
    recording_proxy: RecordingProxy,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    environ(monkeypatch, recording_proxy.api_url)
    for command in ("plan", "apply", "plan"):
        for fmt in ("json", "text", "markdown"):
            code = main([command, "--all", "--project-dir", str(repo), "--format", fmt])
            out, err = capsys.readouterr()
            assert code == 0, err
            assert leaks(out, err) == [], (command, fmt)
            assert err.startswith("::add-mask::")
    # A rotation (another block): the plan shows neither the old nor the new value.
    create_block(recording_proxy.api_url, "secret", "deploy-key-2", {"value": BLOCK + "-rotated"})
    text = (repo / "prefect.yaml").read_text().replace("deploy-key", "deploy-key-2")
    (repo / "prefect.yaml").write_text(text)
    assert main(["plan", "--all", "--project-dir", str(repo), "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert leaks(out, err) == [] and "(secret changed)" in out
    # The action: summary and outputs files too.
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs"
    stream = io.StringIO()
    code = run_action(
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": "workflow_dispatch",
            "GITHUB_WORKSPACE": str(repo),
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_OUTPUT": str(outputs),
            "INPUT_MODE": "apply",
            "INPUT_PREFECT-API-URL": with_credentials(recording_proxy.api_url),
            "INPUT_PREFECT-API-KEY": API_KEY,
            "INPUT_PREFECT-API-AUTH-STRING": AUTH,
        },
        stream,
    )
    monkeypatch.chdir(tmp_path)
    assert code == 0, stream.getvalue()
    assert leaks(stream.getvalue(), summary.read_text(), outputs.read_text()) == []


class _Echo(BaseHTTPRequestHandler):
    """A server that refuses every request and quotes the credentials it was sent."""

    def _answer(self) -> None:
        body = json.dumps({"detail": f"bad credentials: {self.headers.get('Authorization')}"})
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def echo() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api"
    server.shutdown()


@pytest.mark.parametrize("credential", ["key", "auth"])
def test_a_server_that_echoes_the_header_shows_no_secret(
    repo: Path,
    echo: str,
    credential: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    environ(monkeypatch, echo)
    if credential == "auth":
        monkeypatch.delenv("PREFECT_API_KEY")
    for fmt in ("json", "text"):
        code = main(["apply", "--all", "--project-dir", str(repo), "--format", fmt])
        out, err = capsys.readouterr()
        assert code != 0
        assert leaks(out, err) == [], fmt


def test_a_crash_inside_flowdeploy_shows_no_secret(
    repo: Path,
    recording_proxy: RecordingProxy,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    environ(monkeypatch, recording_proxy.api_url)

    def explode(*_: object, **__: object) -> None:
        raise RuntimeError(f"boom with {API_KEY} and {AUTH} at {with_credentials('http://x')}")

    monkeypatch.setattr(run_module, "read_plan", explode)
    code = main(["plan", "--all", "--project-dir", str(repo), "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 1
    assert leaks(out, err) == []
    assert "Traceback" in err and "RuntimeError" in err
    assert json.loads(out)["errors"][0]["message"].startswith("internal error: RuntimeError")


def test_an_unreachable_server_shows_no_secret(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/api"
    environ(monkeypatch, url)
    code = main(["plan", "--all", "--project-dir", str(repo), "--format", "json"])
    out, err = capsys.readouterr()
    assert code != 0 and json.loads(out)["errors"]
    assert leaks(out, err) == []
