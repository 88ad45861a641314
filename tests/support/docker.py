"""A real Docker engine and a real registry for the tests, and helpers to build images offline.

Engine: Debian `docker.io`'s `dockerd` in its own process group, with its own data root (under the
test's workdir), exec root and unix socket (under a short `/tmp/fd-XXXX` dir: unix socket paths
are limited to 108 bytes, and containerd puts its sockets inside the exec root), its own (empty)
daemon.json, no iptables and no bridge network, and the `vfs` storage driver (works anywhere,
no overlay mounts). dockerd starts its own containerd. Nothing here reads or writes
`~/.docker/config.json`: pass credentials explicitly (`auth_config=registry.auth_config()`).

Registry: Debian `docker-registry` (distribution 2.8) on 127.0.0.1:<free port>, filesystem
storage under the workdir, deletes enabled, htpasswd (bcrypt) auth when given a username and
password. Docker talks plain http to registries on 127.0.0.0/8 without any daemon setting.

With `--bridge=none` a container (or a `RUN` step) has no usable default network: build and run
with `network_mode="none"` (or `"host"` when a step really needs the network). No image can be
pulled here, so test images start `FROM scratch` or from `make_busybox_base`.

When FLOWDEPLOY_TEST_PIDDIR names a directory, each started daemon writes its process-group id
there (`dockerd-<pid>.pgid`, `docker-registry-<pid>.pgid`), and each engine also
`dockerd-<pid>.json` (its exec root, data root and runtime dir) so that `.ci/run` can remove what
a killed dockerd leaves behind (containerd, containerd-shim-runc-v2 and container processes, and
mounts): `python -m support.docker cleanup PIDDIR` (see `cleanup_recorded`). Files are removed on
a clean stop.

Measured on this machine: engine ready in ~0.2 s and stopped in ~1 s, registry ready in
~0.06 s, `make_busybox_base` ~0.2 s, a build with one `RUN` step ~0.8 s (vfs copies each layer
in full: keep test images small). A running container makes dockerd wait 10 s on SIGTERM, so
`DockerEngine.stop` (and `.ci/run`) kill container processes first.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import httpx
import yaml

from support.server import PIDDIR_ENV, ServiceStartError, free_port

ENGINE_SERVICE = "Docker engine"
REGISTRY_SERVICE = "Docker registry"
ENGINE_TIMEOUT_ENV = "FLOWDEPLOY_TEST_DOCKER_TIMEOUT"
DEFAULT_ENGINE_TIMEOUT = 60.0
REGISTRY_TIMEOUT = 20.0

BUSYBOX = Path("/bin/busybox")
BUSYBOX_BASE_TAG = "local/busybox:stand-in"
STAND_IN_DIR = "/stand-in"
"""Where the stand-in `uv`/`pip` of `make_busybox_base` append their arguments (`<name>.log`)."""

MANIFEST_MEDIA_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
)


def _daemon_env() -> dict[str, str]:
    """os.environ without DOCKER_* / REGISTRY_* (which the daemons read as settings)."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DOCKER_", "REGISTRY_"))
    }


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _stop_group(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM the process group led by `process`, SIGKILL it after `timeout`."""
    pgid = process.pid  # started with start_new_session=True: pid == pgid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        process.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def _record_pgid(name: str, process: subprocess.Popen[bytes]) -> Path | None:
    piddir = os.environ.get(PIDDIR_ENV)
    if not piddir:
        return None
    pidfile = Path(piddir) / f"{name}-{process.pid}.pgid"
    pidfile.write_text(f"{process.pid}\n")
    return pidfile


# --------------------------------------------------------------------------------------------
# Leftovers of a dockerd that did not stop cleanly


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (ppid, command line with spaces) of every process."""
    found: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        found[int(entry.name)] = (ppid, cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return found


def _kill_and_wait(pids: Iterable[int], timeout: float = 5.0) -> None:
    pending = set(pids)
    for pid in pending:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        pending = {pid for pid in pending if Path(f"/proc/{pid}").exists()}
        if pending:
            time.sleep(0.05)


def _unmount_under(roots: Iterable[Path]) -> None:
    """Lazily unmount every mount point at or below one of `roots` (deepest first)."""
    prefixes = [str(root).rstrip("/") for root in roots]
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return
    points = []
    for line in lines:
        point = line.split()[1].replace("\\040", " ")
        if any(point == prefix or point.startswith(prefix + "/") for prefix in prefixes):
            points.append(point)
    if not points:
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    mnt_detach = 2
    for point in sorted(points, key=len, reverse=True):
        libc.umount2(point.encode(), mnt_detach)


def sweep_engine_leftovers(
    exec_root: Path, data_root: Path | None = None, *, containers_only: bool = False
) -> list[int]:
    """Kill what a dockerd with this exec root left running; returns the pids killed.

    Container processes (the children of its containerd-shim-runc-v2; killing a container's
    init ends its whole pid namespace) first. Unless `containers_only`: then the shims and
    containerd, and unmount what is mounted under the exec root and data root. Matching is by
    the exec root in the command line, so no unrelated process is touched.
    """
    processes = _processes()
    shim_marker = f"-address {exec_root}/containerd/containerd.sock"
    shims = {
        pid
        for pid, (_, cmd) in processes.items()
        if "containerd-shim" in cmd and shim_marker in cmd
    }
    inits = {pid for pid, (ppid, _) in processes.items() if ppid in shims}
    _kill_and_wait(inits)
    if containers_only:
        return sorted(inits)
    containerd_marker = f"{exec_root}/containerd/containerd.toml"
    daemons = {
        pid
        for pid, (_, cmd) in processes.items()
        if cmd.startswith("containerd ") and containerd_marker in cmd
    }
    _kill_and_wait(shims | daemons)
    _unmount_under([exec_root] if data_root is None else [exec_root, data_root])
    return sorted(inits | shims | daemons)


def cleanup_recorded(piddir: Path, *, containers_only: bool = False) -> None:
    """For every engine recorded in `piddir`, `sweep_engine_leftovers` (for `.ci/run`).

    Run it with `containers_only=True` before stopping the daemons (dockerd then stops in ~2 s
    instead of waiting 10 s per running container), and without after they are gone. The full
    sweep also removes the engine's short runtime dir and its record.
    """
    for record in sorted(piddir.glob("dockerd-*.json")):
        try:
            info = json.loads(record.read_text())
        except (OSError, ValueError):
            continue
        exec_root = Path(info["exec_root"])
        killed = sweep_engine_leftovers(
            exec_root, Path(info["data_root"]), containers_only=containers_only
        )
        if killed:
            print(f"ci: killed leftovers of dockerd {exec_root}: {killed}", file=sys.stderr)
        if not containers_only:
            shutil.rmtree(info["runtime_dir"], ignore_errors=True)
            record.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# Engine


@dataclass
class DockerEngine:
    """A running `dockerd` (with its own containerd)."""

    host: str
    """`unix:///…/docker.sock`, for docker-py's base_url or DOCKER_HOST."""
    data_root: Path
    exec_root: Path
    runtime_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    pidfile: Path | None = None
    recordfile: Path | None = None
    started_in: float = 0.0
    _stopped: bool = field(default=False, repr=False)

    def client(self, timeout: int = 120) -> docker.DockerClient:
        """A new docker-py client for this engine (API version negotiated); `.close()` it."""
        return docker.DockerClient(base_url=self.host, timeout=timeout)

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines)

    def stop(self, timeout: float = 20.0) -> None:
        """Kill running containers, stop dockerd (and so containerd), sweep what is left.

        Safe to call more than once.
        """
        if self._stopped:
            return
        self._stopped = True
        sweep_engine_leftovers(self.exec_root, containers_only=True)
        _stop_group(self.process, timeout)
        sweep_engine_leftovers(self.exec_root, self.data_root)
        shutil.rmtree(self.runtime_dir, ignore_errors=True)
        for path in (self.pidfile, self.recordfile):
            if path is not None:
                path.unlink(missing_ok=True)


def _engine_command(
    data_root: Path, exec_root: Path, socket: Path, pidfile: Path, config: Path
) -> list[str]:
    return [
        "dockerd",
        f"--config-file={config}",
        "--iptables=false",
        "--ip6tables=false",
        "--bridge=none",
        "--storage-driver=vfs",
        f"--data-root={data_root}",
        f"--exec-root={exec_root}",
        f"--host=unix://{socket}",
        f"--pidfile={pidfile}",
    ]


def _engine_how_to_start(command: list[str], host: str) -> str:
    return (
        f"To start it by hand (as root): {' '.join(command)} ; then check "
        f"`DOCKER_HOST={host} docker version`. "
        "Install dockerd (Debian docker.io) with `bash scripts/setup.sh`."
    )


def start_docker_engine(workdir: Path, *, timeout: float | None = None) -> DockerEngine:
    """Start a dockerd whose data root is under `workdir` and wait until it answers a ping.

    Raises ServiceStartError with the daemon log and a how-to-start hint on failure.
    """
    if timeout is None:
        timeout = float(os.environ.get(ENGINE_TIMEOUT_ENV, DEFAULT_ENGINE_TIMEOUT))
    workdir.mkdir(parents=True, exist_ok=True)
    data_root = workdir / "data"
    config = workdir / "daemon.json"
    config.write_text("{}\n")  # not /etc/docker/daemon.json
    log_path = workdir / "dockerd.log"
    # Short: containerd's sockets live in the exec root (sun_path is 108 bytes).
    runtime_dir = Path(
        tempfile.mkdtemp(prefix="fd-", dir="/tmp" if Path("/tmp").is_dir() else None)
    )
    exec_root = runtime_dir / "exec"
    socket = runtime_dir / "docker.sock"
    command = _engine_command(data_root, exec_root, socket, runtime_dir / "docker.pid", config)
    started = time.monotonic()
    try:
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command,
                cwd=workdir,
                env=_daemon_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    except OSError as exc:
        shutil.rmtree(runtime_dir, ignore_errors=True)
        raise ServiceStartError(
            f"{ENGINE_SERVICE}: cannot run dockerd: {exc}\n\n"
            + _engine_how_to_start(command, f"unix://{socket}")
        ) from exc
    pidfile = _record_pgid("dockerd", process)
    recordfile = None
    if pidfile is not None:
        recordfile = pidfile.with_suffix(".json")
        recordfile.write_text(
            json.dumps(
                {
                    "exec_root": str(exec_root),
                    "data_root": str(data_root),
                    "runtime_dir": str(runtime_dir),
                }
            )
        )
    engine = DockerEngine(
        host=f"unix://{socket}",
        data_root=data_root,
        exec_root=exec_root,
        runtime_dir=runtime_dir,
        log_path=log_path,
        process=process,
        pidfile=pidfile,
        recordfile=recordfile,
    )
    try:
        _wait_engine(engine, socket, started, timeout, command)
    except BaseException:
        engine.stop()
        raise
    engine.started_in = time.monotonic() - started
    return engine


def _wait_engine(
    engine: DockerEngine, socket: Path, started: float, timeout: float, command: list[str]
) -> None:
    deadline = started + timeout
    while True:
        code = engine.process.poll()
        if code is not None:
            raise ServiceStartError(
                f"{ENGINE_SERVICE} (dockerd) exited with code {code} before it was ready "
                f"(log {engine.log_path}):\n{engine.log_tail()}\n\n"
                f"{_engine_how_to_start(command, engine.host)}"
            )
        if socket.exists():
            client = None
            try:
                client = docker.DockerClient(base_url=engine.host, timeout=5)
                if client.ping():
                    return
            except Exception:  # not up yet: connection refused, version probe failing, ...
                pass
            finally:
                if client is not None:
                    client.close()
        if time.monotonic() > deadline:
            raise ServiceStartError(
                f"{ENGINE_SERVICE} (dockerd) did not answer a ping on {engine.host} within "
                f"{timeout:.0f}s (log {engine.log_path}):\n{engine.log_tail()}\n\n"
                f"{_engine_how_to_start(command, engine.host)}"
            )
        time.sleep(0.1)


# --------------------------------------------------------------------------------------------
# Registry


@dataclass
class Registry:
    """A running `docker-registry serve` (distribution 2.8)."""

    address: str
    """`127.0.0.1:PORT`: the registry part of an image name."""
    port: int
    username: str | None
    password: str | None
    storage: Path
    config_path: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    pidfile: Path | None = None
    started_in: float = 0.0
    _stopped: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def auth_config(self) -> dict[str, str] | None:
        """Credentials in docker-py's `auth_config` form (None without auth)."""
        if self.username is None or self.password is None:
            return None
        return {"username": self.username, "password": self.password}

    def http(self, timeout: float = 10.0) -> httpx.Client:
        """An httpx client on the registry, with basic auth when the registry has auth."""
        auth = None if self.username is None else (self.username, self.password or "")
        return httpx.Client(base_url=self.url, auth=auth, timeout=timeout)

    def manifest_exists(self, repository: str, tag: str) -> bool:
        """Whether `repository:tag` (repository without the registry address) has a manifest.

        Raises AssertionError on an answer other than 200/404 (e.g. 401: wrong credentials).
        """
        with self.http() as client:
            response = client.head(
                f"/v2/{repository}/manifests/{tag}",
                headers={"Accept": ", ".join(MANIFEST_MEDIA_TYPES)},
            )
        if response.status_code == 200:
            return True
        if response.status_code == 404:
            return False
        raise AssertionError(
            f"HEAD {self.url}/v2/{repository}/manifests/{tag} -> {response.status_code}"
        )

    def repositories(self) -> list[str]:
        """The registry's catalog (repositories with at least one pushed blob or manifest)."""
        with self.http() as client:
            response = client.get("/v2/_catalog", params={"n": 1000})
        if response.status_code != 200:
            raise AssertionError(f"GET {self.url}/v2/_catalog -> {response.status_code}")
        names: list[str] = response.json().get("repositories") or []
        return names

    def tags(self, repository: str) -> list[str]:
        """The tags of `repository` ([] when it does not exist)."""
        with self.http() as client:
            response = client.get(f"/v2/{repository}/tags/list")
        if response.status_code == 404:
            return []
        if response.status_code != 200:
            raise AssertionError(f"GET tags of {repository} -> {response.status_code}")
        tags: list[str] = response.json().get("tags") or []
        return sorted(tags)

    def delete_all(self) -> None:
        """Remove every repository, manifest and blob.

        The registry runs without a blob descriptor cache, so removing the storage on disk is a
        complete wipe that the running registry sees at once (checked by reading the catalog);
        a docker engine that pushed before pushes every layer again afterwards.
        """
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self.storage / "docker")
        left = self.repositories()
        if left:
            raise AssertionError(f"{REGISTRY_SERVICE}: repositories left after wipe: {left}")

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the registry's process group. Safe to call more than once."""
        if self._stopped:
            return
        self._stopped = True
        _stop_group(self.process, timeout)
        if self.pidfile is not None:
            self.pidfile.unlink(missing_ok=True)


class _PortTaken(ServiceStartError):
    pass


def start_registry(
    workdir: Path,
    *,
    username: str | None = None,
    password: str | None = None,
    timeout: float = REGISTRY_TIMEOUT,
) -> Registry:
    """Start a registry storing under `workdir`, with htpasswd auth when given credentials.

    Waits until `GET /v2/` answers (200, or 401 with auth). Raises ServiceStartError with the
    registry log and a how-to-start hint on failure.
    """
    if (username is None) != (password is None):
        raise ValueError("give both username and password, or neither")
    workdir.mkdir(parents=True, exist_ok=True)
    htpasswd_path: Path | None = None
    if username is not None and password is not None:
        htpasswd_path = workdir / "htpasswd"
        try:
            hashed = subprocess.run(
                ["htpasswd", "-Bbn", username, password],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        except (OSError, subprocess.CalledProcessError) as exc:
            raise ServiceStartError(
                f"{REGISTRY_SERVICE}: `htpasswd -Bbn` failed: {exc}. Install it (Debian "
                "apache2-utils) with `bash scripts/setup.sh`."
            ) from exc
        htpasswd_path.write_text(hashed.strip() + "\n")
    last_error: ServiceStartError | None = None
    for _attempt in range(3):  # again only if the free port was taken meanwhile
        try:
            return _start_registry_once(
                workdir, username, password, htpasswd_path, free_port(), timeout
            )
        except _PortTaken as exc:
            last_error = ServiceStartError(str(exc))
    assert last_error is not None
    raise last_error


def _start_registry_once(
    workdir: Path,
    username: str | None,
    password: str | None,
    htpasswd_path: Path | None,
    port: int,
    timeout: float,
) -> Registry:
    storage = workdir / "storage"
    storage.mkdir(exist_ok=True)
    config: dict[str, Any] = {
        "version": "0.1",
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(storage)},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
            # no "cache": nothing the registry keeps in memory outlives `delete_all`
        },
        "http": {"addr": f"127.0.0.1:{port}", "secret": os.urandom(16).hex()},
    }
    if htpasswd_path is not None:
        config["auth"] = {"htpasswd": {"realm": "flowdeploy-tests", "path": str(htpasswd_path)}}
    config_path = workdir / f"registry-{port}.yml"
    config_path.write_text(yaml.safe_dump(config))
    log_path = workdir / f"registry-{port}.log"
    command = ["docker-registry", "serve", str(config_path)]
    how_to = (
        f"To start it by hand: {' '.join(command)} ; then check http://127.0.0.1:{port}/v2/ "
        "(200, or 401 with auth). Install it (Debian docker-registry) with "
        "`bash scripts/setup.sh`."
    )
    started = time.monotonic()
    try:
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command,
                cwd=workdir,
                env=_daemon_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    except OSError as exc:
        raise ServiceStartError(
            f"{REGISTRY_SERVICE}: cannot run docker-registry: {exc}\n\n{how_to}"
        ) from exc
    registry = Registry(
        address=f"127.0.0.1:{port}",
        port=port,
        username=username,
        password=password,
        storage=storage,
        config_path=config_path,
        log_path=log_path,
        process=process,
        pidfile=_record_pgid("docker-registry", process),
    )
    want = 200 if htpasswd_path is None else 401
    deadline = started + timeout
    try:
        with httpx.Client(timeout=2.0) as client:
            while True:
                code = process.poll()
                if code is not None:
                    tail = registry.log_tail()
                    if "address already in use" in tail.lower():
                        raise _PortTaken(f"{REGISTRY_SERVICE}: port {port} was taken; retrying")
                    raise ServiceStartError(
                        f"{REGISTRY_SERVICE} exited with code {code} before it was ready "
                        f"(log {log_path}):\n{tail}\n\n{how_to}"
                    )
                try:
                    status = client.get(f"{registry.url}/v2/").status_code
                except httpx.HTTPError:
                    status = None
                if status == want:
                    break
                if status is not None and status not in (200, 401):
                    raise ServiceStartError(
                        f"{REGISTRY_SERVICE}: GET /v2/ answered {status} (log {log_path}):\n"
                        f"{registry.log_tail()}\n\n{how_to}"
                    )
                if time.monotonic() > deadline:
                    raise ServiceStartError(
                        f"{REGISTRY_SERVICE} did not answer {registry.url}/v2/ with {want} within "
                        f"{timeout:.0f}s (log {log_path}):\n{registry.log_tail()}\n\n{how_to}"
                    )
                time.sleep(0.02)
    except BaseException:
        registry.stop()
        raise
    registry.started_in = time.monotonic() - started
    return registry


# --------------------------------------------------------------------------------------------
# Images


def context_tar(
    files: Mapping[str, bytes | str], *, modes: Mapping[str, int] | None = None
) -> bytes:
    """A build context as a tar: relative path -> content; `modes` overrides 0o644."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = (modes or {}).get(name, 0o644)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def build_from_files(
    client: docker.DockerClient,
    files: Mapping[str, bytes | str],
    tag: str,
    *,
    modes: Mapping[str, int] | None = None,
    network_mode: str = "none",
    **kwargs: Any,
) -> tuple[Any, list[dict[str, Any]]]:
    """`client.images.build` from in-memory files (must include `Dockerfile`).

    Returns (Image, build log chunks); raises docker.errors.BuildError when a step fails.
    """
    return client.images.build(  # type: ignore[no-any-return]
        fileobj=io.BytesIO(context_tar(files, modes=modes)),
        custom_context=True,
        tag=tag,
        network_mode=network_mode,
        rm=True,
        forcerm=True,
        **kwargs,
    )


def _stand_in_script(name: str) -> str:
    return (
        "#!/bin/sh\n"
        f"# flowdeploy test stand-in for `{name}`: records its arguments, does nothing else.\n"
        f"mkdir -p {STAND_IN_DIR}\n"
        f'echo "$*" >> {STAND_IN_DIR}/{name}.log\n'
    )


def make_busybox_base(
    engine: DockerEngine,
    tag: str = BUSYBOX_BASE_TAG,
    *,
    stand_ins: Iterable[str] = ("uv", "pip"),
) -> str:
    """Make (no network, no container run) a one-layer base image with a shell; returns `tag`.

    Contents: Debian busybox-static as /bin/busybox with every applet as a /bin symlink (so
    /bin/sh), /tmp, /root, a minimal /etc/passwd and /etc/group, and for each name in
    `stand_ins` an executable /usr/local/bin/<name> that appends its arguments as one line to
    /stand-in/<name>.log. PATH=/usr/local/bin:/usr/bin:/bin, CMD ["/bin/sh"]. `RUN` steps on it
    work with `network_mode="none"`.

    The rootfs tar is imported (`docker import`, ~0.2 s) rather than built `FROM scratch` with a
    `COPY` (~1.7 s on vfs): the same single layer, without build history.
    """
    if not BUSYBOX.is_file():
        raise ServiceStartError(
            f"{BUSYBOX} is missing: install Debian busybox-static (`bash scripts/setup.sh`)"
        )
    applets = subprocess.run(
        [str(BUSYBOX), "--list"], check=True, capture_output=True, text=True
    ).stdout.split()
    buffer = io.BytesIO()

    def add(name: str, *, data: bytes | None = None, mode: int = 0o644, link: str = "") -> None:
        info = tarfile.TarInfo(name)
        info.mtime = 0
        info.mode = mode
        if link:
            info.type = tarfile.SYMTYPE
            info.linkname = link
            tar.addfile(info)
        elif data is None:
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        else:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory, mode in (
            ("bin", 0o755),
            ("etc", 0o755),
            ("root", 0o700),
            ("tmp", 0o1777),
            ("usr", 0o755),
            ("usr/bin", 0o755),
            ("usr/local", 0o755),
            ("usr/local/bin", 0o755),
            (STAND_IN_DIR.lstrip("/"), 0o777),
        ):
            add(directory, mode=mode)
        add("bin/busybox", data=BUSYBOX.read_bytes(), mode=0o755)
        for applet in applets:
            if applet != "busybox":
                add(f"bin/{applet}", link="busybox", mode=0o777)
        add(
            "etc/passwd",
            data=b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        )
        add("etc/group", data=b"root:x:0:\nnogroup:x:65534:\n")
        for name in stand_ins:
            add(f"usr/local/bin/{name}", data=_stand_in_script(name).encode(), mode=0o755)
    repository, _, version = tag.rpartition(":")
    if not repository or "/" in version:
        repository, version = tag, "latest"
    client = engine.client()
    try:
        answer = client.api.import_image_from_data(
            buffer.getvalue(),
            repository=repository,
            tag=version,
            changes=["ENV PATH=/usr/local/bin:/usr/bin:/bin", 'CMD ["/bin/sh"]'],
        )
        if "error" in str(answer).lower():
            raise RuntimeError(f"docker import of the busybox base failed: {answer}")
    finally:
        client.close()
    return tag


def push_events(
    client: docker.DockerClient,
    repository: str,
    tag: str,
    auth_config: Mapping[str, str] | None,
) -> list[dict[str, Any]]:
    """`docker push` through docker-py with explicit credentials; every decoded event."""
    stream: Iterator[dict[str, Any]] = client.api.push(
        repository,
        tag=tag,
        auth_config=dict(auth_config) if auth_config is not None else None,
        stream=True,
        decode=True,
    )
    return list(stream)


def push_errors(events: Iterable[Mapping[str, Any]]) -> list[str]:
    """The error messages among push (or pull) events."""
    return [
        str(event.get("error") or event.get("errorDetail", {}).get("message"))
        for event in events
        if "error" in event or "errorDetail" in event
    ]


def main(argv: list[str]) -> int:
    """`python -m support.docker cleanup PIDDIR [--containers-only]` (run by `.ci/run`)."""
    if len(argv) < 2 or argv[0] != "cleanup":
        print(__doc__ or "", file=sys.stderr)
        print("usage: python -m support.docker cleanup PIDDIR [--containers-only]", file=sys.stderr)
        return 2
    cleanup_recorded(Path(argv[1]), containers_only="--containers-only" in argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
