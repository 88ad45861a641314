"""The action's own image, built from the real Dockerfile and run the way GitHub's runner runs it.

No image can be pulled here and no package index is reachable from inside a container, so:

- `python_base_image` makes a Debian bookworm base with Python, git and `python3 -m venv`
  (debootstrap --variant=minbase, ~40 s once; the rootfs tarball is cached) and imports it into
  the test engine as `local/python-base:bookworm`;
- `host_wheels` builds every wheel flowdeploy needs on the host (`pip wheel`), cached by the
  contents of pyproject.toml, README.md and src/ (the host's Python has the minor version of
  bookworm's python3, so compiled wheels such as pydantic-core fit);
- `build_action_image` runs `docker build --build-arg BASE=local/python-base:bookworm
  --build-arg WHEELS=1` on a context with the real Dockerfile and .dockerignore;
- `run_action` runs the image with the mounts, working directory, environment and files that
  the runner gives a Docker action (actions/runner ContainerActionHandler and
  DockerCommandManager.DockerRun), with `--network host` instead of the job's bridge network.

The docker CLI is run with DOCKER_HOST set to the test engine and DOCKER_CONFIG set to an empty
directory (never `~/.docker`), with the legacy builder (DOCKER_BUILDKIT=0: Debian's docker.io
has no buildx); GitHub builds with BuildKit, which the Dockerfile also suits.

Cache: `$FLOWDEPLOY_TEST_CACHE`, else `~/.cache/flowdeploy-tests` (`default_cache_dir()`).
Everything is written under a temporary name and renamed, under a lock file, so a killed run
leaves no half tarball and two xdist workers do not build the same thing twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.docker import DockerEngine

CACHE_ENV = "FLOWDEPLOY_TEST_CACHE"
PYTHON_BASE_TAG = "local/python-base:bookworm"
ACTION_IMAGE_TAG = "local/flowdeploy-action:test"
SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "git", "ca-certificates")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
ROOTFS_FORMAT = "2"
"""Bump when the way the rootfs is made or trimmed changes: a new cache key."""
ROOTFS_LABEL = "org.flowdeploy.test.rootfs"
TRIMMED = (
    "var/cache/apt",
    "var/lib/apt/lists",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
)
"""What the base rootfs leaves out (apt's caches and lists, docs, translations): ~170 of its
~390 MB. vfs copies every layer in full, so this is paid for in every build step."""
RUNNER_UID = 1001
"""The `runner` user of GitHub's hosted runners, who owns the checkout."""

timings: dict[str, float] = {}
"""Seconds spent in the last `debootstrap`, rootfs `tar`, `docker import`, `pip wheel`, `docker
build` of this process (for reports; keys as named)."""


class ActionImageError(RuntimeError):
    """Making the base, the wheels or the image failed: the message says what to install/fix."""


def default_cache_dir() -> Path:
    """`$FLOWDEPLOY_TEST_CACHE` or `~/.cache/flowdeploy-tests` (created)."""
    configured = os.environ.get(CACHE_ENV)
    path = Path(configured) if configured else Path.home() / ".cache" / "flowdeploy-tests"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive flock on `path` (created) for the duration."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------------------------
# The Debian base with Python


def debian_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    """The main Debian archive URI this machine's apt uses (deb822 `.sources` first, then
    one-line `.list` files), not the security archive; deb.debian.org when there is none."""
    sources = sorted((apt_dir / "sources.list.d").glob("*.sources"))
    for path in sources:
        with contextlib.suppress(OSError):
            for stanza in re.split(r"\n\s*\n", path.read_text()):
                fields: dict[str, str] = {}
                for line in stanza.splitlines():
                    if line.startswith("#") or ":" not in line:
                        continue
                    key, _, value = line.partition(":")
                    fields[key.strip().lower()] = value.strip()
                suites = fields.get("suites", "").split()
                if "deb" in fields.get("types", "deb").split() and SUITE in suites:
                    for uri in fields.get("uris", "").split():
                        if "security" not in uri:
                            return uri.rstrip("/")
    lists = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]
    for path in lists:
        with contextlib.suppress(OSError):
            for line in path.read_text().splitlines():
                words = [w for w in line.split() if not w.startswith("[")]
                if (
                    len(words) >= 3
                    and words[0] == "deb"
                    and words[2] == SUITE
                    and "security" not in words[1]
                ):
                    return words[1].rstrip("/")
    return DEFAULT_MIRROR


def _debootstrap() -> str:
    for candidate in (shutil.which("debootstrap"), "/usr/sbin/debootstrap"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise ActionImageError(
        "debootstrap is missing: install it (Debian package debootstrap) with "
        "`bash scripts/setup.sh` (needs root)"
    )


def _rootfs_key() -> str:
    return hashlib.sha256(
        json.dumps([ROOTFS_FORMAT, SUITE, sorted(BASE_PACKAGES), TRIMMED]).encode()
    ).hexdigest()[:16]


def rootfs_tarball(cache_dir: Path) -> Path:
    """The cached rootfs tarball of the base (made with debootstrap when missing)."""
    key = _rootfs_key()
    tarball = cache_dir / f"python-base-{SUITE}-{key}.tar"
    with _locked(cache_dir / "python-base.lock"):
        if tarball.is_file():
            return tarball
        debootstrap = _debootstrap()
        if os.geteuid() != 0:
            raise ActionImageError("debootstrap needs root: run the tests as root")
        mirror = debian_mirror()
        work = Path(tempfile.mkdtemp(prefix=".debootstrap-", dir=cache_dir))
        try:
            rootfs = work / "rootfs"
            log_path = work / "debootstrap.log"
            command = [
                debootstrap,
                "--variant=minbase",
                f"--include={','.join(BASE_PACKAGES)}",
                SUITE,
                str(rootfs),
                mirror,
            ]
            started = time.monotonic()
            with log_path.open("wb") as log:
                done = subprocess.run(
                    command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
                )
            timings["debootstrap"] = time.monotonic() - started
            if done.returncode != 0:
                raise ActionImageError(
                    f"`{' '.join(command)}` failed with code {done.returncode}:\n"
                    f"{_tail(log_path.read_text(errors='replace'))}\n"
                    f"(needs root and the Debian mirror {mirror})"
                )
            for relative in TRIMMED:
                target = rootfs / relative
                if target.is_dir():
                    for child in target.iterdir():
                        if child.is_dir() and not child.is_symlink():
                            shutil.rmtree(child)
                        else:
                            child.unlink()
            partial = work / "rootfs.tar"
            started = time.monotonic()
            subprocess.run(
                [
                    "tar",
                    "--numeric-owner",
                    "--create",
                    f"--file={partial}",
                    f"--directory={rootfs}",
                    # the engine mounts its own /dev, /proc and /sys
                    "--exclude=./dev/*",
                    "--exclude=./proc/*",
                    "--exclude=./sys/*",
                    ".",
                ],
                check=True,
                capture_output=True,
            )
            timings["rootfs tar"] = time.monotonic() - started
            os.replace(partial, tarball)  # same filesystem: atomic
        finally:
            shutil.rmtree(work, ignore_errors=True)
        for stale in cache_dir.glob(f"python-base-{SUITE}-*.tar"):
            if stale != tarball:
                stale.unlink(missing_ok=True)
    return tarball


def python_base_image(engine: DockerEngine, cache_dir: Path, tag: str = PYTHON_BASE_TAG) -> str:
    """`local/python-base:bookworm` in `engine`: Debian bookworm minbase with python3, venv,
    git and CA certificates, imported from the cached rootfs tarball; returns `tag`.

    Checks that `python3 -m venv` works in it and that its Python has the host's minor version
    (the wheels of `host_wheels` are built for the host's). Raises ActionImageError.
    """
    tarball = rootfs_tarball(cache_dir)
    key = _rootfs_key()
    repository, _, version = tag.rpartition(":")
    client = engine.client(timeout=600)
    try:
        existing: Any = None
        with contextlib.suppress(Exception):
            existing = client.images.get(tag)
        if existing is None or (existing.labels or {}).get(ROOTFS_LABEL) != key:
            started = time.monotonic()
            answer = client.api.import_image_from_file(
                str(tarball),
                repository=repository,
                tag=version,
                changes=[
                    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "ENV LANG=C.UTF-8",
                    f"LABEL {ROOTFS_LABEL}={key}",
                    'CMD ["bash"]',
                ],
            )
            timings["docker import"] = time.monotonic() - started
            if "error" in str(answer).lower():
                raise ActionImageError(f"docker import of {tarball} failed: {answer}")
        probe = (
            "set -e; python3 -m venv /tmp/venv; "
            "/tmp/venv/bin/python -c 'import sys; print(\"%d.%d\" % sys.version_info[:2])'"
        )
        try:
            output = client.containers.run(
                tag, ["sh", "-c", probe], network_mode="none", remove=True, stderr=True
            )
        except Exception as exc:
            raise ActionImageError(f"`python3 -m venv` does not work in {tag}: {exc}") from exc
    finally:
        client.close()
    inside = output.decode().strip().splitlines()[-1]
    host = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if inside != host:
        raise ActionImageError(
            f"{tag} has Python {inside} but the host (which builds the wheels) has {host}: "
            "run the tests with a Python of the base's minor version"
        )
    return tag


# --------------------------------------------------------------------------------------------
# Wheels


def _source_files(repo_root: Path) -> list[Path]:
    """pyproject.toml, README.md and src/ (no byte code, no egg-info): what a wheel is built from,
    relative to `repo_root`, sorted."""
    files = [Path("pyproject.toml"), Path("README.md")]
    for path in sorted((repo_root / "src").rglob("*")):
        relative = path.relative_to(repo_root)
        if any(part == "__pycache__" or part.endswith(".egg-info") for part in relative.parts):
            continue
        if path.is_file() and path.suffix not in (".pyc", ".pyo"):
            files.append(relative)
    return files


def source_hash(repo_root: Path) -> str:
    """A hash of what flowdeploy's wheel is built from, and of the host's Python tag."""
    digest = hashlib.sha256(f"cp{sys.version_info[0]}{sys.version_info[1]}\n".encode())
    for relative in _source_files(repo_root):
        digest.update(f"{relative.as_posix()}\n".encode())
        digest.update(hashlib.sha256((repo_root / relative).read_bytes()).digest())
    return digest.hexdigest()[:16]


def _copy_sources(repo_root: Path, destination: Path) -> None:
    for relative in _source_files(repo_root):
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo_root / relative, target)


def host_wheels(repo_root: Path, cache_dir: Path, *, keep: int = 3) -> Path:
    """A directory with flowdeploy's wheel and the wheels of all its dependencies, built with
    the host venv's pip (`pip wheel`); cached per `source_hash`, so flowdeploy's own wheel is
    rebuilt whenever pyproject.toml, README.md or src/ change. Third-party wheels are kept in
    `<cache>/wheels/third-party` and offered to later builds (`--find-links`). The newest `keep`
    wheel sets are kept."""
    root = cache_dir / "wheels"
    third_party = root / "third-party"
    third_party.mkdir(parents=True, exist_ok=True)
    wanted = root / source_hash(repo_root)
    with _locked(root / "wheels.lock"):
        if (wanted / ".complete").is_file():
            os.utime(wanted)
            return wanted
        work = Path(tempfile.mkdtemp(prefix=".build-", dir=root))
        try:
            source = work / "source"
            out = work / "wheels"
            _copy_sources(repo_root, source)  # so that the build writes nothing into the repo
            command = [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--disable-pip-version-check",
                "--no-cache-dir",
                f"--find-links={third_party}",
                f"--wheel-dir={out}",
                str(source),
            ]
            started = time.monotonic()
            done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True)
            timings["pip wheel"] = time.monotonic() - started
            if done.returncode != 0:
                raise ActionImageError(
                    f"`{' '.join(command)}` failed with code {done.returncode}:\n"
                    f"{_tail(done.stdout + done.stderr)}"
                )
            names = [wheel.name for wheel in out.glob("*.whl")]
            if not any(name.startswith("flowdeploy-") for name in names):
                raise ActionImageError(f"pip wheel made no flowdeploy wheel: {names}")
            for wheel in out.glob("*.whl"):
                if (
                    not wheel.name.startswith("flowdeploy-")
                    and not (third_party / wheel.name).exists()
                ):
                    shutil.copy2(wheel, third_party / wheel.name)
            (out / ".complete").write_text(f"{source_hash(repo_root)}\n")
            shutil.rmtree(wanted, ignore_errors=True)
            os.replace(out, wanted)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        sets = sorted(
            (path for path in root.iterdir() if path.is_dir() and (path / ".complete").exists()),
            key=lambda path: path.stat().st_mtime,
            reverse=True,
        )
        for stale in sets[keep:]:
            if stale != wanted:
                shutil.rmtree(stale, ignore_errors=True)
    return wanted


# --------------------------------------------------------------------------------------------
# The docker CLI on the test engine


def _docker_cli() -> str:
    found = shutil.which("docker")
    if found is None:
        raise ActionImageError(
            "the docker CLI is missing: install Debian docker.io with `bash scripts/setup.sh`"
        )
    return found


@contextlib.contextmanager
def docker_cli_env(engine: DockerEngine) -> Iterator[dict[str, str]]:
    """os.environ for a `docker` command on `engine`: DOCKER_HOST, an empty DOCKER_CONFIG (no
    `~/.docker`), the legacy builder, and no other DOCKER_* settings of the caller's."""
    with tempfile.TemporaryDirectory(prefix="docker-config-") as config:
        env = {key: value for key, value in os.environ.items() if not key.startswith("DOCKER_")}
        env.update(
            DOCKER_HOST=engine.host,
            DOCKER_CONFIG=config,
            DOCKER_BUILDKIT="0",
            DOCKER_CLI_HINTS="false",
        )
        yield env


def engine_socket(engine: DockerEngine) -> Path:
    """The engine's unix socket on the host (what the runner mounts at /var/run/docker.sock)."""
    if not engine.host.startswith("unix://"):
        raise ValueError(f"not a unix socket engine: {engine.host}")
    return Path(engine.host.removeprefix("unix://"))


def docker_cli(
    engine: DockerEngine, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`docker ARGS...` on `engine` (see `docker_cli_env`); never raises on a non-zero exit."""
    with docker_cli_env(engine) as env:
        return subprocess.run(
            [_docker_cli(), *args],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


# --------------------------------------------------------------------------------------------
# The action image


def build_context(repo_root: Path, wheels: Path | None, destination: Path) -> Path:
    """A build context like the action checkout GitHub builds from: the real Dockerfile and
    .dockerignore, pyproject.toml, README.md and src/, and `wheels` as wheels/ (when given)."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in ("Dockerfile", ".dockerignore"):
        if not (repo_root / name).is_file():
            raise ActionImageError(f"{repo_root / name} is missing")
        shutil.copy2(repo_root / name, destination / name)
    _copy_sources(repo_root, destination)
    if wheels is not None:
        (destination / "wheels").mkdir()
        for wheel in wheels.glob("*.whl"):
            shutil.copy2(wheel, destination / "wheels" / wheel.name)
    return destination


def build_action_image(
    engine: DockerEngine,
    repo_root: Path,
    base: str,
    wheels: Path,
    *,
    tag: str = ACTION_IMAGE_TAG,
    timeout: float = 900,
) -> tuple[str, float, int]:
    """`docker build --network host --build-arg BASE=<base> --build-arg WHEELS=1 -t <tag>` of
    the real Dockerfile on `engine`; returns (tag, seconds the build took, image size in bytes).

    The context is made anew each call from the same files with the same mtimes, so a second
    build of unchanged sources hits the build cache. Raises ActionImageError with the build's
    output on failure.
    """
    docker = _docker_cli()
    with tempfile.TemporaryDirectory(prefix="action-context-") as directory:
        context = build_context(repo_root, wheels, Path(directory) / "context")
        command = [
            docker,
            "build",
            "--network",
            "host",
            "--build-arg",
            f"BASE={base}",
            "--build-arg",
            "WHEELS=1",
            "--tag",
            tag,
            str(context),
        ]
        with docker_cli_env(engine) as env:
            started = time.monotonic()
            try:
                done = subprocess.run(
                    command,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                )
            except subprocess.TimeoutExpired as exc:
                raise ActionImageError(f"`docker build` took over {timeout:.0f}s") from exc
            seconds = time.monotonic() - started
    timings["docker build"] = seconds
    if done.returncode != 0:
        raise ActionImageError(
            f"`{' '.join(command)}` failed with code {done.returncode}:\n"
            f"{_tail(done.stdout + done.stderr, 60)}\n"
            f"(engine log:\n{engine.log_tail(20)})"
        )
    client = engine.client()
    try:
        size = int(client.images.get(tag).attrs["Size"])
    finally:
        client.close()
    return tag, seconds, size


REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class BuiltImage:
    """The action image in a test engine, and what it was built from."""

    tag: str
    image_id: str
    base: str
    wheels: Path
    build_seconds: float
    """The first `docker build` of this process (on a fresh engine: a cold build cache)."""
    size: int


_built: dict[tuple[str, str], BuiltImage] = {}


def prepare_action_image(
    engine: DockerEngine, repo_root: Path = REPO_ROOT, cache_dir: Path | None = None
) -> BuiltImage:
    """The base, the wheels and the action image for `engine`, built once per engine and
    source state in this process (a module-scoped fixture of another test module reuses it).
    Raises ActionImageError (the caller turns it into a test failure)."""
    cache = default_cache_dir() if cache_dir is None else cache_dir
    key = (engine.host, source_hash(repo_root))
    if key not in _built:
        base = python_base_image(engine, cache)
        wheels = host_wheels(repo_root, cache)
        tag, seconds, size = build_action_image(engine, repo_root, base, wheels)
        client = engine.client()
        try:
            image_id = str(client.images.get(tag).id)
        finally:
            client.close()
        _built[key] = BuiltImage(tag, image_id, base, wheels, seconds, size)
    return _built[key]


# --------------------------------------------------------------------------------------------
# Running it as the runner does


@dataclass(frozen=True)
class RunResult:
    exit_code: int
    stdout: str
    stderr: str
    output_file_text: str
    """What the action wrote to $GITHUB_OUTPUT."""
    summary_text: str
    """What the action wrote to $GITHUB_STEP_SUMMARY."""
    command: tuple[str, ...] = ()
    """The `docker run` command line (values of -e are in its environment, as with the runner)."""


CONTAINER_WORKSPACE = "/github/workspace"
_RESERVED_ENV = ("DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_BUILDKIT", "DOCKER_CLI_HINTS")


def run_action(
    engine: DockerEngine,
    image: str,
    *,
    workspace: Path,
    env: Mapping[str, str],
    event: Mapping[str, Any] | None,
    runner_temp: Path,
    network: str = "host",
    args: Sequence[str] = (),
    entrypoint: str | None = None,
    volumes: Sequence[tuple[Path | str, str]] = (),
    timeout: float = 600,
) -> RunResult:
    """`docker run` the action image as GitHub's runner runs a Docker action.

    Like the runner: `--workdir /github/workspace --rm`; mounts the engine's socket at
    /var/run/docker.sock, `<runner_temp>/_github_home` at /github/home, `_github_workflow`
    (with `event.json`) at /github/workflow, `_runner_file_commands` (with fresh
    `set_output_<uuid>`, `step_summary_<uuid>`, `set_env_<uuid>`, `add_path_<uuid>`,
    `save_state_<uuid>`) at /github/file_commands, and `workspace` at /github/workspace; every
    variable is passed as a bare `-e NAME` with its value in the CLI's environment; HOME,
    GITHUB_WORKSPACE, GITHUB_EVENT_PATH and the file command variables as container paths,
    RUNNER_TEMP as the host path (the runner translates only paths under a mount, and its temp
    dir is the mounts' parent: RUNNER_TEMP does not exist inside the container),
    GITHUB_ACTIONS=true, CI=true unless `env` sets CI. `env` adds the rest (GITHUB_EVENT_NAME,
    GITHUB_SHA, GITHUB_REF, GITHUB_REPOSITORY, INPUT_<NAME> ...) and wins over these.
    Unlike the runner: `--network host` (the test engine has no bridge) instead of the job's
    network, so the container reaches services on the host's 127.0.0.1; and `volumes`, extra
    (host path, container path) mounts after the runner's (e.g. a local "remote" repository at
    its own path, which a real job reaches over the network). `args` and `entrypoint` are what
    action.yml's `args`/`entrypoint` give the runner.
    """
    docker = _docker_cli()
    for reserved in _RESERVED_ENV:
        if reserved in env:
            raise ValueError(f"{reserved} is the docker CLI's own setting here")
    home = runner_temp / "_github_home"
    workflow = runner_temp / "_github_workflow"
    file_commands = runner_temp / "_runner_file_commands"
    for directory in (home, workflow, file_commands):
        directory.mkdir(parents=True, exist_ok=True)
    (workflow / "event.json").write_text(json.dumps(dict(event or {})))
    suffix = str(uuid.uuid4())
    files = {
        "GITHUB_OUTPUT": f"set_output_{suffix}",
        "GITHUB_STEP_SUMMARY": f"step_summary_{suffix}",
        "GITHUB_ENV": f"set_env_{suffix}",
        "GITHUB_PATH": f"add_path_{suffix}",
        "GITHUB_STATE": f"save_state_{suffix}",
    }
    for name in files.values():
        (file_commands / name).write_text("")
    container_env: dict[str, str] = {
        "HOME": "/github/home",
        "GITHUB_WORKSPACE": CONTAINER_WORKSPACE,
        "GITHUB_EVENT_PATH": "/github/workflow/event.json",
        "RUNNER_TEMP": str(runner_temp),
        **{variable: f"/github/file_commands/{name}" for variable, name in files.items()},
        **env,
    }
    name = f"flowdeploy-action-{uuid.uuid4().hex[:12]}"
    command = [docker, "run", "--name", name, "--label", "flowdeploy-test-action"]
    command += ["--workdir", CONTAINER_WORKSPACE, "--rm"]
    for key in container_env:
        command += ["-e", key]
    command += ["-e", "GITHUB_ACTIONS=true"]
    if "CI" not in container_env:
        command += ["-e", "CI=true"]
    if entrypoint is not None:
        command += ["--entrypoint", entrypoint]
    command += ["--network", network]
    for source, target in (
        (engine_socket(engine), "/var/run/docker.sock"),
        (home, "/github/home"),
        (workflow, "/github/workflow"),
        (file_commands, "/github/file_commands"),
        (workspace, CONTAINER_WORKSPACE),
        *volumes,
    ):
        command += ["-v", f"{source}:{target}"]
    command += [image, *args]
    with docker_cli_env(engine) as cli_env:
        cli_env.update(container_env)
        try:
            done = subprocess.run(
                command,
                env=cli_env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            subprocess.run(
                [docker, "rm", "--force", name], env=cli_env, capture_output=True, check=False
            )
            raise AssertionError(f"the action container ran over {timeout:.0f}s") from exc
    return RunResult(
        exit_code=done.returncode,
        stdout=done.stdout,
        stderr=done.stderr,
        output_file_text=(file_commands / files["GITHUB_OUTPUT"]).read_text(),
        summary_text=(file_commands / files["GITHUB_STEP_SUMMARY"]).read_text(),
        command=tuple(command),
    )


def chown_tree(path: Path, uid: int = RUNNER_UID, gid: int = RUNNER_UID) -> None:
    """Give `path` and everything below it (symlinks themselves, not their targets) to
    uid/gid, as the runner's checkout belongs to its `runner` user while the action's
    container runs as root."""
    os.lchown(path, uid, gid)
    for directory, dirnames, filenames in os.walk(path):
        for entry in (*dirnames, *filenames):
            os.lchown(os.path.join(directory, entry), uid, gid)
