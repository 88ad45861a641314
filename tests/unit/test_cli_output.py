"""The CLI's stdout contract: `--format json` is a JSON document on every path, errors too."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from flowdeploy.cli import main


def _json_run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    code = main(list(args))
    out, _ = capsys.readouterr()
    return code, json.loads(out)


def test_bad_options_still_print_a_json_document(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    code, doc = _json_run(capsys, "plan", "--all", "--name", "x", "--format", "json")
    assert code == 2
    errors = doc["errors"]
    assert isinstance(errors, list) and len(errors) == 1
    assert errors[0]["message"] == "--all and --name cannot be used together"
    assert set(errors[0]) == {"message", "why", "fix", "file", "line"}
    assert doc["deployments"] == [] and doc["exit_code"] == 2


def test_missing_api_url_is_a_json_error_with_a_fix(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("GITHUB_EVENT_NAME", raising=False)
    (tmp_path / "prefect.yaml").write_text("deployments: []\n")
    code, doc = _json_run(capsys, "plan", "--project-dir", str(tmp_path), "--format", "json")
    assert code == 2
    [error] = doc["errors"]  # type: ignore[misc]
    assert error["message"] == "PREFECT_API_URL is not set" and "export" in error["fix"]


class _Refusing(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"detail": "Unauthorized"}')

    def log_message(self, *_: object) -> None:
        pass


def test_a_server_that_refuses_gives_json_without_url_credentials(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A server failure is reported the same way: JSON, exit code, no credentials shown."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    monkeypatch.setenv("PREFECT_API_URL", f"http://user:s3cr3t-pw@127.0.0.1:{port}/api")
    monkeypatch.delenv("GITHUB_EVENT_NAME", raising=False)
    (tmp_path / "prefect.yaml").write_text("deployments: []\n")
    code = main(["plan", "--all", "--project-dir", str(tmp_path), "--format", "json"])
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert code != 0 and doc["errors"] and doc["exit_code"] == code
    server.shutdown()
    assert "s3cr3t-pw" not in out + err


def test_the_public_model_does_not_import_the_orchestration() -> None:
    code = (
        "import sys, flowdeploy.runner; "
        "bad = [m for m in ('flowdeploy.pipeline', 'flowdeploy.run', 'flowdeploy.api') "
        "if m in sys.modules]; print(bad)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_public_names_resolve_to_the_api_whatever_was_imported_first() -> None:
    """A submodule of the same name must never shadow a public function."""
    code = (
        "import flowdeploy.run, flowdeploy.cli\n"
        "from flowdeploy import DeploymentImage, RunnerDeployment, deploy\n"
        "print(callable(deploy) and not isinstance(deploy, type(flowdeploy)))\n"
        "print(hasattr(RunnerDeployment, 'apply'), DeploymentImage.__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "True", "DeploymentImage"]
