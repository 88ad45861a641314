"""Small hand-written repositories deployed twice: by `prefect --no-prompt deploy` (the
oracle) and by `flowdeploy apply`, each into a wiped server, read back and compared field by
field; then a second `flowdeploy apply` through a recording proxy must write nothing.

Each case is a pattern seen in a real public repository (issue 11). `compare_with_prefect`
does the whole dance; `deploy_with_prefect` / `run_flowdeploy` are the halves, for cases where
Prefect itself fails and flowdeploy's documented behaviour is tested instead.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.gitrepo import Files, GitRepo, init_repo
from support.oracle import diff_deployments, prefect_deploy, read_deployments
from support.proxy import RecordingProxy
from support.server import create_work_pool, isolated_env, reset_server_state, venv_bin

POOL = "process-pool"
TIMEOUT = 300.0


def completed(cp: subprocess.CompletedProcess[str]) -> str:
    """A CompletedProcess as assertion text."""
    return (
        f"exit code {cp.returncode}\n--- stdout ---\n{cp.stdout[-6000:]}\n"
        f"--- stderr ---\n{cp.stderr[-6000:]}"
    )


def make_case_repo(path: Path, files: Files, *, origin: str | None = None) -> GitRepo:
    """A git repository with one commit of ``files``; ``origin`` adds that remote URL
    (never fetched: Prefect and flowdeploy only read it)."""
    repo = init_repo(path, files)
    if origin:
        repo.git("remote", "add", "origin", origin)
    return repo


def _pythonpath(repo: Path, paths: Sequence[str]) -> dict[str, str]:
    # Stands for an installed path dependency: Prefect imports the flow, so the package must
    # be importable; flowdeploy must find it from the repository's own declarations instead.
    if not paths:
        return {}
    return {"PYTHONPATH": os.pathsep.join(str(repo / p) for p in paths)}


def deploy_with_prefect(
    repo: Path,
    api_url: str,
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    pythonpath: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """`prefect --no-prompt deploy <args>` (default ``--all``) run in ``cwd`` (default the
    repository), with its own PREFECT_HOME and no inherited PREFECT_* variables."""
    return prefect_deploy(
        cwd or repo,
        api_url,
        args or ("--all",),
        {**(env or {}), **_pythonpath(repo, pythonpath)},
        timeout=TIMEOUT,
    )


def run_flowdeploy(
    *args: str,
    cwd: Path,
    api_url: str | None,
    env: Mapping[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """The installed `flowdeploy` console script, run in ``cwd`` as a user would run it."""
    full_env = isolated_env(None, NO_COLOR="1", COLUMNS="200")
    if api_url:
        full_env["PREFECT_API_URL"] = api_url
    full_env.update(env or {})
    return subprocess.run(
        [venv_bin("flowdeploy"), *args],
        cwd=cwd,
        env=full_env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def fresh_server(api_url: str, pools: Sequence[str] = (POOL,)) -> None:
    reset_server_state(api_url)
    for pool in pools:
        create_work_pool(api_url, pool, "process")


@dataclass(frozen=True)
class Compared:
    expected: dict[str, dict[str, Any]]
    actual: dict[str, dict[str, Any]]
    first: subprocess.CompletedProcess[str]
    second: subprocess.CompletedProcess[str]


def compare_with_prefect(
    api_url: str,
    repo: Path,
    *,
    prefect_args: Sequence[str] = (),
    flowdeploy_args: Sequence[str] = ("apply", "--all"),
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    pythonpath: Sequence[str] = (),
    pools: Sequence[str] = (POOL,),
    allow: Sequence[str] = (),
) -> Compared:
    """Deploy with Prefect, then with flowdeploy, each into a fresh server; assert equal
    field by field (except the leaf paths listed in ``allow``, the README's intended
    differences); apply again and assert that nothing was written."""
    fresh_server(api_url, pools)
    reference = deploy_with_prefect(
        repo, api_url, *prefect_args, cwd=cwd, env=env, pythonpath=pythonpath
    )
    assert reference.returncode == 0, f"prefect deploy failed:\n{completed(reference)}"
    expected = read_deployments(api_url)
    assert expected, f"prefect deploy registered nothing:\n{completed(reference)}"

    fresh_server(api_url, pools)
    first = run_flowdeploy(*flowdeploy_args, cwd=cwd or repo, api_url=api_url, env=env)
    assert first.returncode == 0, f"flowdeploy failed:\n{completed(first)}"
    actual = read_deployments(api_url)
    diff = [
        line
        for line in diff_deployments(expected, actual)
        if not any(f": {path}\n" in line for path in allow)
    ]
    assert not diff, "flowdeploy registered something else than prefect deploy:\n" + "\n".join(diff)

    with RecordingProxy(api_url) as proxy:
        second = run_flowdeploy(*flowdeploy_args, cwd=cwd or repo, api_url=proxy.api_url, env=env)
        assert second.returncode == 0, f"second flowdeploy apply failed:\n{completed(second)}"
        writes = proxy.writes()
    assert not writes, "a second apply wrote:\n" + "\n".join(str(w) for w in writes)
    return Compared(expected=expected, actual=actual, first=first, second=second)
