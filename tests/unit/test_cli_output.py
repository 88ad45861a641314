"""The CLI's stdout contract: `--format json` is a JSON document on every path, errors too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rich.console import Console

from flowdeploy import cli
from flowdeploy.cli import main
from flowdeploy.plan import Action, Plan, PlannedDeployment
from flowdeploy.run import RunResult


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
    monkeypatch.delenv("PREFECT_PROFILES_PATH", raising=False)
    monkeypatch.delenv("GITHUB_EVENT_NAME", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))  # no profiles file
    (tmp_path / "prefect.yaml").write_text("deployments: []\n")
    code, doc = _json_run(capsys, "plan", "--project-dir", str(tmp_path), "--format", "json")
    assert code == 2
    [error] = doc["errors"]  # type: ignore[misc]
    assert error["message"] == "PREFECT_API_URL is not set" and "export" in error["fix"]
    assert str(tmp_path / "prefect-home" / "profiles.toml") in error["why"]


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


# -- --version -------------------------------------------------------------------------------


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"flowdeploy {version('flowdeploy')}\n"


def test_version_does_not_import_the_engine() -> None:
    """Start-up is measured: --version must not pay for docker, git or rich's progress."""
    code = (
        "import sys\n"
        "from flowdeploy.cli import main\n"
        "try:\n"
        "    main(['--version'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('docker', 'git', 'rich.progress', 'httpx', 'pydantic', 'flowdeploy.run')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    printed, imported = done.stdout.splitlines()
    assert printed.startswith("flowdeploy ") and imported == "[]"


def test_the_engine_imports_nothing_a_run_may_not_need() -> None:
    """A plan or apply with no image to build pays for neither docker-py nor jsonschema
    (loaded when a deployment is checked for writing), nor httpx's command-line client, nor
    the schedule and glob libraries a file with plain cron schedules and no commits to
    compare does not need (croniter alone runs `file` on the interpreter)."""
    code = (
        "import sys\n"
        "import flowdeploy.cli, flowdeploy.run, flowdeploy.pipeline, flowdeploy.report\n"
        "heavy = ('docker', 'git', 'rich.progress', 'jsonschema', 'click', 'pygments',\n"
        "         'croniter', 'dateutil', 'pathspec')\n"
        "print([m for m in heavy if sys.modules.get(m) is not None])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_console_script_flushes_its_output_and_keeps_the_exit_code(tmp_path: Path) -> None:
    """It leaves without the interpreter's teardown: what was printed must still arrive."""
    script = Path(sys.executable).with_name("flowdeploy")
    done = subprocess.run(
        [str(script), "plan", "--project-dir", str(tmp_path), "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PREFECT_API_URL": "http://127.0.0.1:9/api"},
    )
    assert done.returncode == 2, done.stderr
    assert json.loads(done.stdout)["exit_code"] == 2  # the whole document, piped
    assert done.stderr.startswith("error: cannot reach the Prefect API")


def test_the_console_script_has_version() -> None:
    script = Path(sys.executable).with_name("flowdeploy")
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("flowdeploy ") and done.stderr == ""


# -- colours ---------------------------------------------------------------------------------


def _render_plan(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    plan = Plan(items=(PlannedDeployment(name="etl/a", action=Action.CREATE),))
    output = cli._Output(Console(stderr=True), github=False, fmt="text")
    assert cli._render(RunResult(command="plan", plan=plan), "text", output) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize(
    ("environ", "coloured"),
    [
        ({}, False),  # captured: not a terminal
        ({"FORCE_COLOR": "1"}, True),  # as on a terminal
        ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),
    ],
)
def test_text_is_coloured_on_a_terminal_unless_no_color(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    environ: dict[str, str],
    coloured: bool,
) -> None:
    for name in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    out = _render_plan(monkeypatch, capsys)
    assert "create" in out
    assert ("\x1b[" in out) is coloured
    if coloured:
        assert "\x1b[32mcreate" in out


def test_a_stopped_server_is_said_without_loading_the_engine(tmp_path: Path) -> None:
    """The refused connection is the first thing a new user meets: it is said before docker,
    git's history code and the pipeline are imported (most of a second)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (tmp_path / "prefect.yaml").write_text("deployments: []\n")
    code = (
        "import sys\n"
        "from flowdeploy.cli import main\n"
        f"code = main(['plan', '--all', '--project-dir', {str(tmp_path)!r}])\n"
        "heavy = ('docker', 'flowdeploy.pipeline', 'flowdeploy.run', 'flowdeploy.action')\n"
        "print(code, [m for m in heavy if m in sys.modules])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "GITHUB_"))}
    env.update(PREFECT_API_URL=f"http://127.0.0.1:{port}/api", PREFECT_HOME=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout == "2 []\n"
    assert done.stderr.startswith(
        f"error: cannot reach the Prefect API at http://127.0.0.1:{port}/api to check its health"
    )
