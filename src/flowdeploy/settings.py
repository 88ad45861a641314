"""Inputs -> one frozen Settings object. The environment is read here and nowhere else."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from flowdeploy.api import Connection
from flowdeploy.errors import ConfigError


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    project_dir: Path
    prefect_file: Path
    names: tuple[str, ...] = ()
    image: str | None = None
    build: bool = True
    api_url: str
    api_key: str | None = None
    auth_string: str | None = None
    environ: dict[str, str] = {}

    @property
    def connection(self) -> Connection:
        return Connection(self.api_url, self.api_key, self.auth_string)

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.api_key, self.auth_string) if s)


def connection_from_env(environ: Mapping[str, str]) -> Connection:
    url = environ.get("PREFECT_API_URL", "").strip()
    if not url:
        raise ConfigError(
            "PREFECT_API_URL is not set",
            why="flowdeploy needs the Prefect API to read and register deployments",
            fix="export PREFECT_API_URL=http://127.0.0.1:4200/api (self-hosted) or your "
            "Prefect Cloud workspace URL, with PREFECT_API_KEY",
        )
    if not url.startswith(("http://", "https://")):
        raise ConfigError(
            f"PREFECT_API_URL {url!r} is not an http(s) URL",
            fix="use e.g. http://127.0.0.1:4200/api",
        )
    return Connection(
        url, environ.get("PREFECT_API_KEY") or None, environ.get("PREFECT_API_AUTH_STRING") or None
    )


def load_settings(
    environ: Mapping[str, str],
    *,
    project_dir: str | None = None,
    prefect_file: str | None = None,
    names: tuple[str, ...] = (),
    all_: bool = False,
    image: str | None = None,
    build: bool = True,
) -> Settings:
    root = Path(project_dir or ".")
    file = Path(prefect_file) if prefect_file else root / "prefect.yaml"
    if prefect_file and not Path(prefect_file).is_absolute() and project_dir:
        candidate = root / prefect_file
        file = candidate if candidate.exists() else Path(prefect_file)
    if all_ and names:
        raise ConfigError(
            "--all and --name cannot be used together",
            fix="use --all for every deployment, or --name for some",
        )
    connection = connection_from_env(environ)
    return Settings(
        project_dir=root,
        prefect_file=file,
        names=names,
        image=image,
        build=build,
        api_url=connection.api_url,
        api_key=connection.api_key,
        auth_string=connection.auth_string,
        environ=dict(environ),
    )
