"""Prefect's profiles: where ``prefect config set`` and ``prefect cloud login`` keep the API
URL and key, read as Prefect 3.9.1 reads them (``prefect/settings/sources.py``,
``ProfileSettingsTomlLoader`` and ``_get_profiles_path``).

- The file is ``PREFECT_PROFILES_PATH``, else ``$PREFECT_HOME/profiles.toml``, else
  ``~/.prefect/profiles.toml``.
- The active profile is ``PREFECT_PROFILE``, else the file's ``active``. No file, no name, or
  a name the file does not have: Prefect uses the default profile of its own bundled file,
  "ephemeral", which sets no API URL.
- Keys are the variable names (``PREFECT_API_URL = "…"`` under ``[profiles.<name>]``).

The environment wins, variable by variable, as in Prefect (the environment is its first
source, the profile its last). Prefect's other sources (``.env``, ``prefect.toml`` and
``pyproject.toml`` in the working directory) are not read: the working directory is the
repository, and a file there must not choose where the API key is sent.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowdeploy.errors import ConfigError, Location
from flowdeploy.masking import url_secrets
from flowdeploy.readfile import NotRegular, TooLarge, read_bounded

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, as a package
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

API_URL = "PREFECT_API_URL"
API_KEY = "PREFECT_API_KEY"
AUTH_STRING = "PREFECT_API_AUTH_STRING"
REQUEST_TIMEOUT = "PREFECT_API_REQUEST_TIMEOUT"
UI_URL = "PREFECT_UI_URL"
VARIABLES = (API_URL, API_KEY, AUTH_STRING, REQUEST_TIMEOUT, UI_URL)
"""The Prefect settings flowdeploy uses: the connection, and where the UI is for links."""
SECRET_VARIABLES = (API_KEY, AUTH_STRING)
DEFAULT_PROFILE = "ephemeral"
"""The ``active`` of Prefect 3.9.1's bundled profiles.toml; it sets no API URL."""
_LIMIT = 1024 * 1024
_AT_LINE = re.compile(r"at line (\d+)")


@dataclass(frozen=True)
class ActiveProfile:
    """The profile Prefect would use, and how it was chosen (for messages)."""

    path: Path
    exists: bool
    requested: str | None = None
    """The name asked for: PREFECT_PROFILE, else the file's ``active``."""
    by_env: bool = False
    """Whether PREFECT_PROFILE asked for it."""
    found: bool = False
    """Whether the file has that profile (else Prefect uses its default, which sets none)."""
    values: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Not in the repr: the key is among them."""

    @property
    def label(self) -> str:
        return f"profile {self.requested!r} in {self.path}"

    def lacks(self, variable: str) -> str:
        """Why the profile gives no ``variable``: said where the environment has none."""
        if not self.exists:
            return (
                f"there is no Prefect profiles file at {self.path} (where `prefect config set` "
                "and `prefect cloud login` keep it)"
            )
        if self.requested is None:
            return (
                f"{self.path} names no active profile (Prefect then uses its default "
                f"profile {DEFAULT_PROFILE!r}, which sets none)"
            )
        if not self.found:
            asked = "PREFECT_PROFILE" if self.by_env else "its 'active' key"
            return (
                f"{asked} names profile {self.requested!r}, which {self.path} does not have "
                f"(Prefect then uses its default profile {DEFAULT_PROFILE!r}, which sets none)"
            )
        chosen = "chosen by PREFECT_PROFILE" if self.by_env else "the active one"
        return f"{self.label} ({chosen}) has no {variable}"


@dataclass(frozen=True)
class PrefectSettings:
    """The variables of ``VARIABLES`` that are set, from the environment or the profile."""

    values: Mapping[str, str] = field(default_factory=dict, repr=False)
    from_profile: frozenset[str] = frozenset()
    profile: ActiveProfile | None = None
    """None when every variable was in the environment (the file was not read)."""

    def get(self, variable: str) -> str | None:
        return self.values.get(variable)

    def origin(self, variable: str) -> str:
        """Where a value came from, for messages: empty for the environment."""
        if variable in self.from_profile and self.profile is not None:
            return f"from {self.profile.label}"
        return ""

    def lacks(self, variable: str) -> str:
        """Why ``variable`` is not set: neither the environment nor the profile has it."""
        where = self.profile.lacks(variable) if self.profile is not None else ""
        return f"it is not in the environment, and {where}" if where else "it is not set"

    @property
    def secrets(self) -> tuple[str, ...]:
        found = tuple(v for k in SECRET_VARIABLES if (v := self.values.get(k)))
        return found + url_secrets(self.values.get(API_URL))


def profiles_path(environ: Mapping[str, str]) -> Path | None:
    """Where Prefect 3.9.1 looks for profiles (without its test mode and project files).
    Only the given environment decides: without HOME (a bare mapping) there is none."""
    if given := environ.get("PREFECT_PROFILES_PATH"):
        return Path(given)
    if home := environ.get("PREFECT_HOME"):
        return Path(home) / "profiles.toml"
    user_home = environ.get("HOME")
    return Path(user_home) / ".prefect" / "profiles.toml" if user_home else None


def active_profile(environ: Mapping[str, str]) -> ActiveProfile:
    """The profile Prefect would use. Raises ConfigError when the file cannot be read."""
    path = profiles_path(environ)
    data = _read(path) if path is not None else None
    if path is None or data is None:
        return ActiveProfile(path=path or Path("~/.prefect/profiles.toml"), exists=False)
    by_env = bool(environ.get("PREFECT_PROFILE"))
    requested = environ.get("PREFECT_PROFILE") or data.get("active")
    if requested is not None and not isinstance(requested, str):
        raise _malformed(path, "its 'active' key is not a profile name (a string)")
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise _malformed(path, "'profiles' is not a table of [profiles.<name>] sections")
    chosen = profiles.get(requested) if requested else None
    if chosen is None:
        return ActiveProfile(path=path, exists=True, requested=requested, by_env=by_env)
    if not isinstance(chosen, dict):
        raise _malformed(path, f"profile {requested!r} is not a [profiles.{requested}] table")
    values = {}
    for variable in VARIABLES:
        value = chosen.get(variable)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            # The value is not quoted back: it may be the key.
            raise _malformed(path, f"{variable} in profile {requested!r} is not a single value")
        if str(value).strip():  # empty counts as not set, as in the environment
            values[variable] = str(value)
    return ActiveProfile(
        path=path, exists=True, requested=requested, by_env=by_env, found=True, values=values
    )


def prefect_settings(environ: Mapping[str, str]) -> PrefectSettings:
    """The Prefect variables flowdeploy uses: each from the environment when set there
    (empty counts as not set), else from the active profile."""
    values = {k: environ[k] for k in VARIABLES if environ.get(k, "").strip()}
    if len(values) == len(VARIABLES):
        return PrefectSettings(values=values)
    try:
        profile = active_profile(environ)
    except ConfigError:
        if API_URL not in values:
            raise
        # The environment says where the server is; Prefect too only warns about a broken
        # profiles file then, and goes on without it.
        return PrefectSettings(values=values)
    taken = {k: v for k, v in profile.values.items() if k not in values}
    return PrefectSettings(
        values={**values, **taken}, from_profile=frozenset(taken), profile=profile
    )


def profile_secrets(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The active profile's secrets, for masking before anything is validated or printed;
    never fails (a file that cannot be read is reported later, by ``prefect_settings``)."""
    try:
        return prefect_settings(environ).secrets
    except ConfigError:
        return ()


def _read(path: Path) -> dict[str, Any] | None:
    """The parsed file; None when there is none."""
    try:
        raw = read_bounded(path, _LIMIT)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except NotRegular:
        raise _malformed(path, "it is not a regular file") from None
    except TooLarge:
        raise _malformed(path, f"it is larger than {_LIMIT // 1024} KiB") from None
    except OSError as exc:
        raise ConfigError(
            "cannot read the Prefect profiles file",
            why=exc.strerror or type(exc).__name__,
            fix="make it readable, or point PREFECT_PROFILES_PATH at another file",
            where=Location(path),
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed(path, "it is not UTF-8 text") from None
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # The parser's message names the place, never the text (which may hold the key).
        line = _AT_LINE.search(str(exc))
        raise _malformed(
            path, f"it is not valid TOML: {exc}", line=int(line.group(1)) if line else None
        ) from None
    return data


def _malformed(path: Path, why: str, *, line: int | None = None) -> ConfigError:
    return ConfigError(
        "the Prefect profiles file cannot be used",
        why=why,
        fix="fix the file, or point PREFECT_PROFILES_PATH at another one; flowdeploy reads "
        "it for what the environment does not set (PREFECT_API_URL, PREFECT_API_KEY, ...)",
        where=Location(path, line),
    )
