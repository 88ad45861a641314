"""Inputs -> one frozen Settings object. The environment is read here and nowhere else."""

from __future__ import annotations

import glob
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr

from flowdeploy import github
from flowdeploy import profiles as prof
from flowdeploy.api import CONCURRENCY_ENV, Connection
from flowdeploy.errors import ConfigError, outside_repository
from flowdeploy.masking import strip_userinfo, url_secrets


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    prefect_files: tuple[Path, ...]
    project_dir: Path | None = None
    """Where the entrypoints of a single --prefect-file are resolved, as ``prefect deploy
    --prefect-file`` resolves them: the directory it runs in (--project-dir). None: each
    file's own folder (no --prefect-file, or a glob matching one file per project)."""
    names: tuple[str, ...] = ()
    everything: bool = False
    """--all: every deployment, whatever changed."""
    image: str | None = None
    """An existing image (--image): used as is, never built."""
    image_name: str | None = None
    """--image-name: the image to build (else a Docker build step's image_name)."""
    tags: tuple[str, ...] = ()
    """Extra tag templates ({sha}, {short_sha}, {branch}); the commit SHA is always a tag."""
    registry_username: str | None = None
    registry_password: SecretStr | None = None
    docker_host: str | None = None
    build: bool = True
    prune: bool = False
    range: github.RangeRequest | None = None
    """What to compare (--base/--head or the GitHub event); None: every deployment."""
    workflow: str | None = None
    """Repository path of the GitHub workflow file running flowdeploy."""
    api_url: str | None = None
    """None: not configured; ``connection`` says so when a server is needed."""
    api_key: str | None = None
    auth_string: str | None = None
    prefect: prof.PrefectSettings = prof.PrefectSettings()
    """The PREFECT_* variables as read: the environment, then the active Prefect profile."""
    environ: dict[str, str] = {}

    def directory_of(self, prefect_file: Path) -> Path:
        """The project directory of one of ``prefect_files``: entrypoints, the default pull
        step, the image's build context and change detection are relative to it."""
        return self.project_dir or prefect_file.parent

    @property
    def connection(self) -> Connection:
        if not self.api_url:
            raise _no_api_url(self.prefect)
        found = _connection(self.api_url, self.api_key, self.auth_string, self.prefect)
        return replace(found, concurrency=self.environ.get(CONCURRENCY_ENV))

    @property
    def secrets(self) -> tuple[str, ...]:
        password = self.registry_password.get_secret_value() if self.registry_password else None
        given = tuple(s for s in (self.api_key, self.auth_string, password) if s)
        return given + url_secrets(self.api_url)


def _no_api_url(prefect: prof.PrefectSettings) -> ConfigError:
    return ConfigError(
        "PREFECT_API_URL is not set",
        why="flowdeploy needs the Prefect API to read and register deployments; "
        + prefect.lacks(prof.API_URL),
        fix="export PREFECT_API_URL=http://127.0.0.1:4200/api (self-hosted) or your "
        "Prefect Cloud workspace URL, with PREFECT_API_KEY; or keep them in your Prefect "
        "profile (prefect config set PREFECT_API_URL=..., or prefect cloud login)",
    )


def connection_from_env(environ: Mapping[str, str]) -> Connection:
    prefect = prof.prefect_settings(environ)
    url = _api_url(prefect)
    if url is None:
        raise _no_api_url(prefect)
    found = _connection(url, prefect.get(prof.API_KEY), prefect.get(prof.AUTH_STRING), prefect)
    return replace(found, concurrency=environ.get(CONCURRENCY_ENV))


def _connection(
    url: str, key: str | None, auth_string: str | None, prefect: prof.PrefectSettings
) -> Connection:
    origins = tuple((v, prefect.origin(v)) for v in prof.VARIABLES if prefect.origin(v))
    return Connection(
        url,
        key,
        auth_string,
        prefect.get(prof.REQUEST_TIMEOUT),
        ui=prefect.get(prof.UI_URL),
        origins=origins,
    )


def _api_url(prefect: prof.PrefectSettings) -> str | None:
    url = (prefect.get(prof.API_URL) or "").strip()
    if not url:
        return None
    if not url.startswith(("http://", "https://")):
        origin = prefect.origin(prof.API_URL)
        raise ConfigError(
            f"PREFECT_API_URL {strip_userinfo(url)!r} is not an http(s) URL",
            why=f"it comes {origin}" if origin else "",
            fix="use e.g. http://127.0.0.1:4200/api",
        )
    return url


def prefect_files(project_dir: str | None, prefect_file: str | None) -> tuple[Path, ...]:
    """The prefect.yaml files to read: one path, or every match of a glob such as
    ``projects/*/prefect.yaml`` (relative to --project-dir when given).

    Each must resolve (symlinks followed) inside the repository: the git working tree of
    --project-dir when it is in one, else the file's own repository or directory.
    """
    root = Path(project_dir or ".")
    if not prefect_file:
        return _inside_repository((root / "prefect.yaml",), project_dir)
    given = Path(prefect_file)
    if glob.has_magic(prefect_file):
        pattern = prefect_file if given.is_absolute() else str(root / prefect_file)
        found = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
        if not found:
            raise ConfigError(
                f"--prefect-file {prefect_file!r} matches no file",
                why=f"looked for {pattern}",
                fix="check the pattern, e.g. 'projects/*/prefect.yaml'",
            )
        return _inside_repository(tuple(found), project_dir)
    if not given.is_absolute() and project_dir:
        candidate = root / prefect_file
        return _inside_repository((candidate if candidate.exists() else given,), project_dir)
    return _inside_repository((given,), project_dir)


def _inside_repository(files: tuple[Path, ...], project_dir: str | None) -> tuple[Path, ...]:
    from flowdeploy.git import repo_root  # imported when files are checked

    anchor = Path(project_dir) if project_dir else None
    repo = repo_root(anchor) if anchor is not None and anchor.is_dir() else None
    for file in files:
        parent = file.absolute().parent
        root = repo or (repo_root(parent) if parent.is_dir() else None) or parent
        resolved = file.resolve()
        if not resolved.is_relative_to(root.resolve()):
            raise outside_repository(file, resolved, root.resolve())
    return files


def _workflow_path(environ: Mapping[str, str]) -> str | None:
    """``owner/repo/.github/workflows/deploy.yml@refs/heads/main`` -> the file's path."""
    ref = environ.get("GITHUB_WORKFLOW_REF", "")
    path = ref.split("@", 1)[0].split("/", 2)[-1] if ref.count("/") >= 2 else ""
    return path or None


def load_settings(
    environ: Mapping[str, str],
    *,
    project_dir: str | None = None,
    prefect_file: str | None = None,
    names: tuple[str, ...] = (),
    all_: bool = False,
    image: str | None = None,
    build: bool = True,
    prune: bool = False,
    base: str | None = None,
    head: str | None = None,
    image_name: str | None = None,
    tags: tuple[str, ...] = (),
    registry_username: str | None = None,
    registry_password: str | None = None,
) -> Settings:
    if all_ and names:
        raise ConfigError(
            "--all and --name cannot be used together",
            fix="use --all for every deployment, or --name for some",
        )
    if image and image_name:
        raise ConfigError(
            "--image and --image-name cannot be used together",
            why="--image names an existing image; --image-name one to build",
            fix="drop one of them",
        )
    username = registry_username or environ.get("FLOWDEPLOY_REGISTRY_USERNAME") or None
    password = registry_password or environ.get("FLOWDEPLOY_REGISTRY_PASSWORD") or None
    if bool(username) != bool(password):
        raise ConfigError(
            "a registry username needs a password, and a password a username",
            fix="pass both --registry-username and --registry-password (or neither, to use "
            "your docker login)",
        )
    if all_ and (base or head):
        raise ConfigError(
            "--all and --base/--head cannot be used together",
            why="--all plans every deployment; --base plans those the changes affect",
            fix="drop one of them",
        )
    files = prefect_files(project_dir, prefect_file)
    prefect = prof.prefect_settings(environ)
    event_name = environ.get("GITHUB_EVENT_NAME") or None
    event: dict[str, Any] | None = None
    if event_name and not base and not all_ and environ.get("GITHUB_EVENT_PATH"):
        event = github.load_event(Path(environ["GITHUB_EVENT_PATH"]))
    request = None
    if not all_:
        request = github.range_request(
            base=base,
            head=head,
            event_name=event_name if event is not None else None,
            event=event,
            sha=environ.get("GITHUB_SHA") or None,
        )
    explicit = prefect_file and not glob.has_magic(prefect_file)
    return Settings(
        prefect_files=files,
        project_dir=Path(project_dir or ".") if explicit else None,
        names=names,
        everything=all_,
        image=image,
        image_name=image_name,
        tags=tags,
        registry_username=username,
        registry_password=SecretStr(password) if password else None,
        docker_host=environ.get("DOCKER_HOST") or None,
        build=build,
        prune=prune,
        range=request,
        workflow=_workflow_path(environ),
        api_url=_api_url(prefect),
        api_key=prefect.get(prof.API_KEY),
        auth_string=prefect.get(prof.AUTH_STRING),
        prefect=prefect,
        environ=dict(environ),
    )
