"""The only module that talks to Docker (docker-py) or to a registry (its HTTP API).

One image per commit: before building, the registry is asked whether ``name:tag`` exists
(a manifest HEAD with the user's credentials); when it does, nothing is built or pushed.
An image the project does not push is looked for in the local engine instead.
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from flowdeploy.errors import EXIT_CONFIG, ConfigError, FlowdeployError, Location

Log = Callable[[str], None]


class _Docker:
    """docker-py, imported on first use: a run whose image is already published, or that
    has none, never pays for it (start-up is measured: benchmarks/)."""

    def __getattr__(self, name: str) -> Any:
        import docker
        import docker.auth
        import docker.errors

        return getattr(docker, name)


docker: Any = _Docker()

DEFAULT_PREFECT_VERSION = "3.9.1"
LOG_TAIL = 20
_MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
_DOCKER_HUB = "registry-1.docker.io"


class ImageError(FlowdeployError):
    """Building or pushing the image failed: nothing that uses it is registered (exit 1)."""

    def __init__(
        self,
        what: str,
        *,
        why: str = "",
        fix: str = "",
        where: Location | None = None,
        step: str = "",
        log_tail: tuple[str, ...] = (),
    ) -> None:
        self.step = step
        self.log_tail = log_tail
        if step == "connect":
            # No engine is a setup problem, like no Prefect server: said before any write.
            self.exit_code = EXIT_CONFIG
        tail = "\n".join(f"    | {line}" for line in log_tail)
        super().__init__(
            what, why=f"{why}\n  last lines:\n{tail}" if tail else why, fix=fix, where=where
        )


class RegistryAuth(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    username: str
    password: SecretStr

    def docker(self) -> dict[str, str]:
        return {"username": self.username, "password": self.password.get_secret_value()}


class ImageSpec(BaseModel):
    """What to build: the reference ``name:tag`` and how."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    tag: str
    context: Path
    dockerfile: str = "auto"
    """A path relative to the context, or ``auto`` for the default Dockerfile."""
    buildargs: dict[str, str] = {}
    platform: str | None = None
    target: str | None = None
    labels: dict[str, str] = {}
    additional_tags: tuple[str, ...] = ()
    build_kwargs: dict[str, Any] = {}
    prefect_version: str = DEFAULT_PREFECT_VERSION
    python_version: str = f"{sys.version_info.major}.{sys.version_info.minor}"
    push: bool = True
    """Pushed to its registry; False: built into the local engine only (a Docker build step
    without a Docker push step), so no registry is asked or written to."""

    @property
    def reference(self) -> str:
        return f"{self.name}:{self.tag}"


class Reference(BaseModel):
    """``registry/repository:tag`` split as Docker splits it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    registry: str
    repository: str
    tag: str | None = None


def parse_reference(reference: str) -> Reference:
    """Docker's rule: the first path part is a registry when it has a dot or a port, or is
    ``localhost``; otherwise the image is on Docker Hub (``library/`` for one part)."""
    name, tag = split_tag(reference)
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return Reference(registry=first, repository=rest, tag=tag)
    repository = name if "/" in name else f"library/{name}"
    return Reference(registry=_DOCKER_HUB, repository=repository, tag=tag)


def split_tag(reference: str) -> tuple[str, str | None]:
    """``name:tag`` -> (name, tag); a ``:`` in the registry's port is not a tag."""
    name = reference.partition("@")[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :]
    return name, None


_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def check_tag(tag: str) -> str:
    if not _TAG.match(tag):
        raise ConfigError(
            f"{tag!r} is not a valid image tag",
            why="a tag is 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'",
            fix="change the tag template",
        )
    return tag


# -- the registry ---------------------------------------------------------------------------


def _scheme(registry: str) -> str:
    """Docker talks plain HTTP to registries on the loopback interface, HTTPS elsewhere."""
    host = registry.rsplit(":", 1)[0] if not registry.startswith("[") else registry
    loopback = host in ("localhost", "[::1]") or host.startswith("127.")
    return "http" if loopback else "https"


def image_exists(
    reference: str,
    auth: RegistryAuth | None,
    *,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 20.0,
) -> bool:
    """Whether the registry has ``reference`` (a manifest HEAD, with Basic or token auth)."""
    ref = parse_reference(reference)
    tag = ref.tag or "latest"
    base = f"{_scheme(ref.registry)}://{ref.registry}"
    url = f"{base}/v2/{ref.repository}/manifests/{tag}"
    headers = {"Accept": _MANIFEST_TYPES}
    basic = (auth.username, auth.password.get_secret_value()) if auth else None
    try:
        with httpx.Client(transport=transport, timeout=timeout) as client:
            response = client.head(url, headers=headers)
            if response.status_code == 401:
                challenge = response.headers.get("www-authenticate", "")
                if challenge.lower().startswith("bearer"):
                    token = _token(client, challenge, basic, ref)
                    headers["Authorization"] = f"Bearer {token}"
                    response = client.head(url, headers=headers)
                elif basic:
                    response = client.head(url, headers=headers, auth=basic)
    except httpx.HTTPError as exc:
        raise ImageError(
            f"cannot reach the registry {ref.registry}",
            why=f"{type(exc).__name__}: {exc}",
            fix="check the image name's registry and the network; re-run when it is back",
            step="check",
        ) from None
    if response.status_code == 200:
        return True
    if response.status_code == 404:
        return False
    if response.status_code in (401, 403):
        raise ImageError(
            f"the registry {ref.registry} refused to say whether {reference} exists",
            why=f"HTTP {response.status_code}: "
            + ("no credentials were given" if auth is None else "the credentials were refused"),
            fix="pass --registry-username/--registry-password, or log in with docker login",
            step="check",
        )
    raise ImageError(
        f"the registry {ref.registry} answered HTTP {response.status_code} for {reference}",
        fix="re-run; if it persists, check the registry",
        step="check",
    )


def _token(
    client: httpx.Client, challenge: str, basic: tuple[str, str] | None, ref: Reference
) -> str:
    params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    realm = params.pop("realm", "")
    params.setdefault("scope", f"repository:{ref.repository}:pull")
    response = (
        client.get(realm, params=params, auth=basic) if basic else client.get(realm, params=params)
    )
    if response.status_code != 200:
        raise ImageError(
            f"the registry {ref.registry} refused a token",
            why=f"HTTP {response.status_code} from its token service",
            fix="check --registry-username/--registry-password (or docker login)",
            step="check",
        )
    body = response.json()
    return str(body.get("token") or body.get("access_token") or "")


def docker_config_auth(registry: str) -> RegistryAuth | None:
    """Credentials for ``registry`` from the user's docker config (helpers included)."""
    try:
        found = docker.auth.load_config().resolve_authconfig(registry) or {}
    except docker.errors.DockerException:
        return None
    username, password = (
        found.get("username") or found.get("Username"),
        found.get("password") or found.get("Password"),
    )
    if username and password:
        return RegistryAuth(username=username, password=SecretStr(password))
    return None


# -- the engine -----------------------------------------------------------------------------


def default_dockerfile(context: Path, prefect_version: str, python_version: str) -> str:
    """The Dockerfile ``DockerImage(dockerfile="auto")`` generates: the Prefect image for
    these versions, the requirements installed, the project copied to /opt/prefect/<dir>."""
    dir_name = context.resolve().name
    lines = [f"FROM prefecthq/prefect:{prefect_version}-python{python_version}"]
    if (context / "requirements.txt").exists():
        lines.append(f"COPY requirements.txt /opt/prefect/{dir_name}/requirements.txt")
        lines.append(f"RUN uv pip install -r /opt/prefect/{dir_name}/requirements.txt")
    lines.append(f"COPY . /opt/prefect/{dir_name}/")
    lines.append(f"WORKDIR /opt/prefect/{dir_name}/")
    return "\n".join(lines) + "\n"


class Engine:
    """A Docker engine, reached through docker-py's low-level client."""

    def __init__(self, base_url: str | None = None) -> None:
        self.base_url = base_url
        try:
            if base_url:
                self.api = docker.APIClient(base_url=base_url, version="auto")
            else:
                self.api = docker.from_env(version="auto").api
        except docker.errors.DockerException as exc:
            raise ImageError(
                f"the Docker engine is not reachable{f' at {base_url}' if base_url else ''}",
                why=str(exc),
                fix="start Docker (or set DOCKER_HOST), or pass --image with an existing image",
                step="connect",
            ) from None

    def close(self) -> None:
        self.api.close()

    def has_image(self, reference: str) -> bool:
        """Whether the engine holds ``reference`` (an image that is built, never pushed)."""
        try:
            self.api.inspect_image(reference)
        except docker.errors.NotFound:
            # Any 404 here: docker-py calls it ImageNotFound only for some engines' wording.
            return False
        except docker.errors.APIError as exc:
            raise ImageError(
                f"the Docker engine could not say whether it holds {reference}",
                why=_api_message(exc),
                fix="re-run; if it persists, check the Docker engine",
                step="check",
            ) from None
        except docker.errors.DockerException as exc:
            raise _engine_down(self.base_url, exc) from None
        return True

    def build(self, spec: ImageSpec, log: Log) -> str:
        """Build ``spec``; the image id. The last lines of the log go into the error."""
        context = spec.context
        if not context.is_dir():
            raise ConfigError(
                f"build context {context} is not a directory",
                fix="point the build step's context (or DeploymentImage(context=…)) at the "
                "directory that holds the Dockerfile's files",
            )
        with tempfile.TemporaryDirectory(prefix="flowdeploy-dockerfile-") as tmp:
            dockerfile = self._dockerfile(spec, Path(tmp))
            kwargs: dict[str, Any] = {
                "rm": True,
                "pull": True,  # as the reference does: the newest base image
                **spec.build_kwargs,
                "path": str(context),
                "dockerfile": dockerfile,
                "tag": spec.reference,
                "buildargs": spec.buildargs or None,
                "labels": spec.labels or None,
                "target": spec.target,
                "platform": spec.platform,
                "decode": True,
            }
            tail: deque[str] = deque(maxlen=LOG_TAIL)
            image_id = ""
            try:
                for event in self.api.build(**kwargs):
                    image_id = _build_event(event, log, tail) or image_id
            except (_BuildEventError, docker.errors.APIError) as exc:
                raise _build_failed(spec, _api_message(exc), tail) from None
            except docker.errors.DockerException as exc:
                raise _engine_down(self.base_url, exc) from None
        if not image_id:
            raise _build_failed(spec, "the engine reported no image", tail)
        for extra in spec.additional_tags:
            self.api.tag(image_id, spec.name, extra)
        return image_id

    def _dockerfile(self, spec: ImageSpec, tmp: Path) -> str:
        if spec.dockerfile != "auto":
            path = spec.context / spec.dockerfile
            if not path.is_file():
                raise ConfigError(
                    f"Dockerfile {spec.dockerfile} does not exist",
                    why=f"looked for {path}",
                    fix="fix the 'dockerfile' of the build step, or use dockerfile: auto",
                )
            return spec.dockerfile
        # Generated outside the repository: nothing to clean up in the user's tree, and
        # docker-py sends a Dockerfile from outside the context along with it.
        generated = tmp / "Dockerfile"
        generated.write_text(
            default_dockerfile(spec.context, spec.prefect_version, spec.python_version)
        )
        return str(generated)

    def push(self, spec: ImageSpec, auth: RegistryAuth | None, log: Log) -> str:
        """Push every tag of ``spec``; the digest of the main tag."""
        digest = ""
        for tag in (spec.tag, *spec.additional_tags):
            found = self._push_one(spec.name, tag, auth, log)
            digest = digest or found
        return digest

    def _push_one(self, name: str, tag: str, auth: RegistryAuth | None, log: Log) -> str:
        tail: deque[str] = deque(maxlen=LOG_TAIL)
        digest = ""
        try:
            events: Iterator[dict[str, Any]] = self.api.push(
                name,
                tag=tag,
                stream=True,
                decode=True,
                auth_config=auth.docker() if auth else None,
            )
            for event in events:
                if "error" in event:
                    raise ImageError(
                        f"pushing {name}:{tag} failed",
                        why=str(event["error"]),
                        fix=_push_fix(str(event["error"])),
                        step="push",
                        log_tail=tuple(tail),
                    )
                line = _status_line(event)
                if line:
                    tail.append(line)
                    log(line)
                aux = event.get("aux") or {}
                digest = str(aux.get("Digest") or digest)
        except docker.errors.APIError as exc:
            raise ImageError(
                f"pushing {name}:{tag} failed",
                why=_api_message(exc),
                fix=_push_fix(_api_message(exc)),
                step="push",
                log_tail=tuple(tail),
            ) from None
        except docker.errors.DockerException as exc:
            raise _engine_down(self.base_url, exc) from None
        return digest


def _build_event(event: Mapping[str, Any], log: Log, tail: deque[str]) -> str | None:
    if "error" in event or "errorDetail" in event:
        detail = event.get("errorDetail") or {}
        message = str(event.get("error") or detail.get("message") or "build failed")
        raise _BuildEventError(message)
    text = str(event.get("stream") or "")
    for line in text.splitlines():
        if line.strip():
            tail.append(line.rstrip())
            log(line.rstrip())
    aux = event.get("aux") or {}
    found = aux.get("ID") if isinstance(aux, dict) else None
    return str(found) if found else None


class _BuildEventError(Exception):
    """An ``error`` event in the build stream (a failing RUN, a syntax error...)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _api_message(exc: Exception) -> str:
    if isinstance(exc, _BuildEventError):
        return exc.message
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc)


def _build_failed(spec: ImageSpec, message: str, tail: deque[str]) -> ImageError:
    step = next((line for line in reversed(tail) if line.startswith("Step ")), "")
    return ImageError(
        f"building {spec.reference} failed" + (f" at {step}" if step else ""),
        why=message.strip(),
        fix="fix the Dockerfile or the build step; nothing was registered with this image",
        step="build",
        log_tail=tuple(tail),
    )


def _engine_down(base_url: str | None, exc: Exception) -> ImageError:
    return ImageError(
        f"the Docker engine is not reachable{f' at {base_url}' if base_url else ''}",
        why=str(exc),
        fix="start Docker (or set DOCKER_HOST), or pass --image with an existing image",
        step="connect",
    )


def _push_fix(message: str) -> str:
    lowered = message.lower()
    if "unauthorized" in lowered or "authentication" in lowered or "denied" in lowered:
        return (
            "check --registry-username/--registry-password (or docker login) and that the "
            "account may push to this repository"
        )
    if "connection refused" in lowered or "no such host" in lowered or "timeout" in lowered:
        return "check that the registry is up and reachable, then re-run"
    return "see the registry's message; re-run to retry"


def _status_line(event: Mapping[str, Any]) -> str:
    status = str(event.get("status") or "")
    if not status:
        return ""
    ident = event.get("id")
    return f"{ident}: {status}" if ident else status
