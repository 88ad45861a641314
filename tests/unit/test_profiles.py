"""Prefect profiles: the API URL and key that `prefect config set` / `prefect cloud login`
keep, read when the environment does not set them (Prefect 3.9.1's rules)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from flowdeploy.cli import main
from flowdeploy.environ import raw_secrets
from flowdeploy.errors import EXIT_CONFIG, ConfigError
from flowdeploy.profiles import active_profile, prefect_settings, profiles_path
from flowdeploy.settings import connection_from_env, load_settings

KEY = "pnu_profile-secret-0123456789"
URL = "http://127.0.0.1:4200/api"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def profiles(home: Path, active: str | None = "local", **sections: dict[str, object]) -> Path:
    lines = [f'active = "{active}"'] if active else []
    for name, values in sections.items():
        lines.append(f"[profiles.{name}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    return write(home / "profiles.toml", "\n".join(lines) + "\n")


def settings(tmp_path: Path, environ: dict[str, str]):  # type: ignore[no-untyped-def]
    project = write(tmp_path / "project" / "prefect.yaml", "deployments: []\n")
    return load_settings(environ, prefect_file=str(project), all_=True)


def test_the_active_profile_gives_the_url_the_key_and_the_timeout(tmp_path: Path) -> None:
    profiles(
        tmp_path,
        local={
            "PREFECT_API_URL": URL,
            "PREFECT_API_KEY": KEY,
            "PREFECT_API_REQUEST_TIMEOUT": 30,
            "PREFECT_SERVER_EPHEMERAL_ENABLED": "true",  # Prefect's own keys are ignored
        },
    )
    found = settings(tmp_path, {"PREFECT_HOME": str(tmp_path)})
    assert (found.api_url, found.api_key) == (URL, KEY)
    connection = found.connection
    assert connection.timeout == 30.0
    where = f"from profile 'local' in {tmp_path / 'profiles.toml'}"
    assert connection.named("PREFECT_API_URL") == f"PREFECT_API_URL ({where})"


def test_the_environment_wins_variable_by_variable(tmp_path: Path) -> None:
    profiles(tmp_path, local={"PREFECT_API_URL": "http://profile:4200/api", "PREFECT_API_KEY": KEY})
    environ = {"PREFECT_HOME": str(tmp_path), "PREFECT_API_URL": URL}
    found = settings(tmp_path, environ)
    # As in Prefect: the URL from the environment, the key the environment lacks from the
    # profile.
    assert (found.api_url, found.api_key) == (URL, KEY)
    assert found.connection.named("PREFECT_API_URL") == "PREFECT_API_URL"
    assert "from profile 'local'" in found.connection.named("PREFECT_API_KEY")
    environ["PREFECT_API_KEY"] = "pnu_from-env"
    assert settings(tmp_path, environ).api_key == "pnu_from-env"


def test_an_empty_variable_counts_as_not_set(tmp_path: Path) -> None:
    profiles(tmp_path, local={"PREFECT_API_URL": URL})
    found = settings(tmp_path, {"PREFECT_HOME": str(tmp_path), "PREFECT_API_URL": " "})
    assert found.api_url == URL


def test_nothing_is_read_when_the_environment_sets_everything(tmp_path: Path) -> None:
    write(tmp_path / "profiles.toml", "this is [ not toml")
    environ = {
        "PREFECT_HOME": str(tmp_path),
        "PREFECT_API_URL": URL,
        "PREFECT_API_KEY": "k" * 8,
        "PREFECT_API_AUTH_STRING": "a:b",
        "PREFECT_API_REQUEST_TIMEOUT": "5",
        "PREFECT_UI_URL": "http://ui",
    }
    assert prefect_settings(environ).profile is None


def test_where_the_file_is(tmp_path: Path) -> None:
    given = tmp_path / "elsewhere.toml"
    assert profiles_path({"PREFECT_PROFILES_PATH": str(given), "PREFECT_HOME": "/x"}) == given
    assert profiles_path({"PREFECT_HOME": "/x"}) == Path("/x/profiles.toml")
    assert profiles_path({"HOME": "/home/u"}) == Path("/home/u/.prefect/profiles.toml")


def test_prefect_profiles_path_is_read(tmp_path: Path) -> None:
    path = write(
        tmp_path / "custom.toml", f'active = "cloud"\n[profiles.cloud]\nPREFECT_API_URL = "{URL}"\n'
    )
    profiles(tmp_path / "home", local={"PREFECT_API_URL": "http://home:4200/api"})
    environ = {"PREFECT_PROFILES_PATH": str(path), "PREFECT_HOME": str(tmp_path / "home")}
    assert settings(tmp_path, environ).api_url == URL


def test_the_default_home_is_under_home(tmp_path: Path) -> None:
    profiles(tmp_path / ".prefect", local={"PREFECT_API_URL": URL})
    assert settings(tmp_path, {"HOME": str(tmp_path)}).api_url == URL


def test_prefect_profile_chooses_over_the_files_active(tmp_path: Path) -> None:
    profiles(
        tmp_path,
        active="local",
        local={"PREFECT_API_URL": "http://local:4200/api"},
        staging={"PREFECT_API_URL": URL},
    )
    environ = {"PREFECT_HOME": str(tmp_path), "PREFECT_PROFILE": "staging"}
    assert settings(tmp_path, environ).api_url == URL
    assert active_profile(environ).by_env


def test_a_missing_file_says_where_it_looked(tmp_path: Path) -> None:
    found = settings(tmp_path, {"PREFECT_HOME": str(tmp_path / "nowhere")})
    with pytest.raises(ConfigError) as info:
        _ = found.connection
    assert info.value.what == "PREFECT_API_URL is not set"
    assert str(tmp_path / "nowhere" / "profiles.toml") in info.value.why
    assert "prefect config set" in info.value.fix


@pytest.mark.parametrize(
    ("text", "environ", "why"),
    [
        # No name: Prefect uses its bundled default profile, "ephemeral", which sets no URL.
        ("[profiles.local]\nPREFECT_API_URL = 'http://x/api'\n", {}, "names no active profile"),
        ('active = "gone"\n[profiles.local]\n', {}, "its 'active' key names profile 'gone'"),
        ('active = "local"\n[profiles.local]\n', {"PREFECT_PROFILE": "x"}, "PREFECT_PROFILE names"),
        ('active = "local"\n[profiles.local]\n', {}, "profile 'local' in"),
    ],
)
def test_a_profile_without_a_url_says_which_and_why(
    tmp_path: Path, text: str, environ: dict[str, str], why: str
) -> None:
    write(tmp_path / "profiles.toml", text)
    with pytest.raises(ConfigError) as info:
        connection_from_env({"PREFECT_HOME": str(tmp_path), **environ})
    assert info.value.what == "PREFECT_API_URL is not set"
    assert why in info.value.why and str(tmp_path / "profiles.toml") in info.value.why


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (f'active = "local"\n[profiles.local\nPREFECT_API_KEY = "{KEY}"\n', 2),
        (f'active = "local"\n[profiles.local]\nPREFECT_API_KEY = "{KEY}\n', 3),
        (f'active = "local"\n[profiles.local]\nPREFECT_API_KEY = ["{KEY}"]\n', None),
        ('active = 3\n[profiles.local]\nPREFECT_API_URL = "http://x/api"\n', None),
        ('profiles = "none"\n', None),
    ],
)
def test_a_malformed_file_is_a_configuration_error_that_names_it(
    tmp_path: Path, text: str, line: int | None
) -> None:
    path = write(tmp_path / "profiles.toml", text)
    with pytest.raises(ConfigError) as info:
        settings(tmp_path, {"PREFECT_HOME": str(tmp_path)})
    error = info.value
    assert error.exit_code == EXIT_CONFIG
    assert error.where is not None and error.where.path == path and error.where.line == line
    assert str(path) in error.render() and KEY not in error.render()


def test_a_malformed_file_does_not_stop_a_run_whose_environment_names_the_server(
    tmp_path: Path,
) -> None:
    write(tmp_path / "profiles.toml", "active = [\n")
    found = settings(tmp_path, {"PREFECT_HOME": str(tmp_path), "PREFECT_API_URL": URL})
    assert found.api_url == URL


def test_no_home_no_profile(tmp_path: Path) -> None:
    """A bare environment (as unit tests pass) never reads the user's own profiles."""
    found = settings(tmp_path, {})
    assert found.api_url is None


def test_a_file_that_is_not_utf8_or_not_a_file(tmp_path: Path) -> None:
    write(tmp_path / "a" / "profiles.toml", "").write_bytes(b"active = '\xff'\n")
    (tmp_path / "b" / "profiles.toml").mkdir(parents=True)
    for home, why in (("a", "not UTF-8"), ("b", "not a regular file")):
        with pytest.raises(ConfigError) as info:
            connection_from_env({"PREFECT_HOME": str(tmp_path / home)})
        assert why in info.value.why


def test_a_bad_url_in_a_profile_says_where_it_is(tmp_path: Path) -> None:
    profiles(tmp_path, local={"PREFECT_API_URL": "127.0.0.1:4200/api"})
    with pytest.raises(ConfigError) as info:
        connection_from_env({"PREFECT_HOME": str(tmp_path)})
    assert "is not an http(s) URL" in info.value.what
    assert "profile 'local'" in info.value.why


def test_a_bad_timeout_in_a_profile_says_where_it_is(tmp_path: Path) -> None:
    profiles(tmp_path, local={"PREFECT_API_URL": URL, "PREFECT_API_REQUEST_TIMEOUT": "soon"})
    with pytest.raises(ConfigError) as info:
        _ = connection_from_env({"PREFECT_HOME": str(tmp_path)}).timeout
    assert "PREFECT_API_REQUEST_TIMEOUT (from profile 'local'" in info.value.what


def test_the_profiles_key_is_a_secret(tmp_path: Path) -> None:
    profiles(
        tmp_path,
        local={
            "PREFECT_API_URL": "http://bob:url-password@127.0.0.1:4200/api",
            "PREFECT_API_KEY": KEY,
        },
    )
    environ = {"PREFECT_HOME": str(tmp_path)}
    assert KEY in settings(tmp_path, environ).secrets
    assert "url-password" in settings(tmp_path, environ).secrets
    # Masked before anything is validated or printed, like the environment's key.
    assert KEY in raw_secrets(environ) and "url-password" in raw_secrets(environ)
    assert KEY not in repr(prefect_settings(environ))
    # A file that cannot be read has no secrets to give, and does not fail the masking.
    write(tmp_path / "bad" / "profiles.toml", "[")
    assert raw_secrets({"PREFECT_HOME": str(tmp_path / "bad")}) == ()


class _Echo(BaseHTTPRequestHandler):
    """A server that refuses the key and quotes it back."""

    def do_GET(self) -> None:
        body = json.dumps({"detail": f"bad key {self.headers.get('Authorization')}"}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def echo_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("github", [False, True])
def test_the_profiles_key_reaches_no_output(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    echo_server: str,
    fmt: str,
    github: bool,
) -> None:
    for name in ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE", "GITHUB_EVENT_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_ACTIONS", "true" if github else "false")
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    profiles(tmp_path, local={"PREFECT_API_URL": echo_server, "PREFECT_API_KEY": KEY})
    project = write(tmp_path / "project" / "prefect.yaml", "deployments: []\n")
    code = main(["plan", "--all", "--prefect-file", str(project), "--format", fmt])
    out, err = capsys.readouterr()
    assert code == EXIT_CONFIG
    assert "refused the credentials" in out + err
    assert f"PREFECT_API_KEY (from profile 'local' in {tmp_path / 'profiles.toml'})" in out + err
    if github:
        # The one place the runner must see it, to hide it everywhere.
        assert f"::add-mask::{KEY}" in err.splitlines()
    shown = [line for line in (out + err).splitlines() if not line.startswith("::add-mask::")]
    assert not [line for line in shown if KEY in line]
