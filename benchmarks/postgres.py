"""A throwaway PostgreSQL cluster for the benchmarks: its own data directory and a free port.

Debian's `postgresql` package (`apt-get install postgresql`) is enough: its binaries are
found in /usr/lib/postgresql/<version>/bin. PostgreSQL refuses to run as root; as root, the
cluster runs as the `postgres` user the package creates. The database is `prefect`, owned by
the role `prefect`, with trust authentication on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.server import free_port

INSTALL = "install it with `sudo apt-get install postgresql` (Debian/Ubuntu)"


@dataclass(frozen=True)
class Postgres:
    url: str
    """For Prefect: ``postgresql+asyncpg://prefect@127.0.0.1:<port>/prefect``."""
    version: str


def _bindir() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not versions:
        raise SystemExit(f"PostgreSQL is not installed: {INSTALL}")
    return versions[-1].parent


def _as_owner(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    if shutil.which("runuser") is None:
        raise SystemExit("as root, PostgreSQL must run as another user: runuser is missing")
    return ["runuser", "-u", "postgres", "--", *command]


@contextlib.contextmanager
def running_postgres() -> Iterator[Postgres]:
    """Start a cluster in a new temporary directory; stop it and delete it on exit."""
    bindir = _bindir()
    # Its own directory directly in the temporary folder: the cluster's user (postgres, when
    # run as root) must reach it, and cannot enter another user's private directory.
    workdir = Path(tempfile.mkdtemp(prefix="flowdeploy-pg-"))
    data = workdir / "pgdata"
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
    port = free_port()
    run = {"check": True, "capture_output": True, "text": True, "cwd": "/"}
    subprocess.run(
        _as_owner([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "prefect"]),
        **run,  # type: ignore[call-overload]
    )
    options = f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c max_connections=200"
    subprocess.run(
        _as_owner(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(workdir / "log"),
                "-w",
                "-o",
                options,
                "start",
            ]
        ),
        **run,  # type: ignore[call-overload]
    )
    try:
        subprocess.run(
            _as_owner(
                [
                    str(bindir / "createdb"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-U",
                    "prefect",
                    "prefect",
                ]
            ),
            **run,  # type: ignore[call-overload]
        )
        printed = subprocess.run(
            [str(bindir / "postgres"), "--version"],
            **run,  # type: ignore[call-overload]
        ).stdout
        version = re.search(r"\d+(?:\.\d+)+", printed)
        yield Postgres(
            f"postgresql+asyncpg://prefect@127.0.0.1:{port}/prefect",
            version.group() if version else printed.strip(),
        )
    finally:
        subprocess.run(
            _as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            check=False,
            capture_output=True,
            cwd="/",
        )
        shutil.rmtree(workdir, ignore_errors=True)
