#!/usr/bin/env python3
"""flowdeploy vs `prefect deploy --all` on generated monorepos, against a real Prefect server.

usage: .venv/bin/python benchmarks/apply_vs_prefect.py [N ...]     (default: 50 300)

For each N it generates a repository with N flows (each importing one of 10 shared modules,
typed parameters, cron/interval schedules, a work pool, a pull step), then times, each into a
wiped server: `prefect --no-prompt deploy --all`; the floor (two sequential REST calls per
deployment, nothing else); `flowdeploy apply --all` into the empty server; the same again on
the unchanged repository (a no-op); and `flowdeploy plan --format json`. Prints a table.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.oracle import prefect_deploy_all  # noqa: E402
from support.server import (  # noqa: E402
    create_work_pool,
    isolated_env,
    reset_server_state,
    start_prefect_server,
    venv_bin,
)

FLOW = '''\
from datetime import datetime
from typing import Optional

from prefect import flow, task

from lib.shared_{k} import helper_{k}


@task
def step(x: int) -> int:
    return helper_{k}(x)


@flow(name="flow-{i}", log_prints=True)
def flow_{i}(count: int = {i}, label: str = "run-{i}", when: Optional[datetime] = None,
             tags: list[str] = []):
    """Flow number {i}: sums its steps."""
    return sum(step(n) for n in range(count))
'''


def make_repo(root: Path, n: int, shared: int = 10) -> None:
    (root / "flows").mkdir(parents=True)
    (root / "lib").mkdir()
    (root / "lib" / "__init__.py").write_text("")
    for k in range(shared):
        (root / "lib" / f"shared_{k}.py").write_text(
            f"def helper_{k}(x: int) -> int:\n    return x + {k}\n"
        )
    deployments = []
    for i in range(n):
        (root / "flows" / f"flow_{i}.py").write_text(FLOW.format(i=i, k=i % shared))
        schedule = (
            f'      - cron: "{i % 60} * * * *"\n        timezone: "Europe/Berlin"\n'
            if i % 2 == 0
            else f'      - interval: {3600 + i}\n        anchor_date: "2025-01-01T00:00:00"\n'
        )
        deployments.append(
            f"  - name: dep-{i}\n    entrypoint: flows/flow_{i}.py:flow_{i}\n"
            f'    parameters:\n      count: {i % 7}\n    tags: ["team-{i % shared}"]\n'
            f"    schedules:\n{schedule}    work_pool:\n      name: default-pool\n"
        )
    (root / "prefect.yaml").write_text(
        "name: synthetic\nprefect-version: 3.9.1\n\npull:\n"
        "  - prefect.deployments.steps.set_working_directory:\n"
        "      directory: /opt/prefect/synthetic\n\ndeployments:\n" + "".join(deployments)
    )
    git = ["git", "-C", str(root), "-c", "user.email=b@x", "-c", "user.name=b"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "initial"], check=True)


def _post(client: httpx.Client, path: str, body: dict[str, object]) -> dict[str, object]:
    for attempt in range(10):
        response = client.post(path, json=body)
        if response.status_code < 500:
            break
        time.sleep(0.05 * (attempt + 1))
    response.raise_for_status()
    result: dict[str, object] = response.json()
    return result


def floor(api_url: str, n: int) -> float:
    """Two sequential REST calls per deployment: the least any tool can do."""
    start = time.perf_counter()
    with httpx.Client(base_url=api_url, timeout=30) as client:
        for i in range(n):
            flow_id = _post(client, "/flows/", {"name": f"flow-{i}"})["id"]
            _post(
                client,
                "/deployments/",
                {
                    "flow_id": flow_id,
                    "name": f"dep-{i}",
                    "work_pool_name": "default-pool",
                    "entrypoint": f"flows/flow_{i}.py:flow_{i}",
                },
            )
    return time.perf_counter() - start


def flowdeploy(repo: Path, api_url: str, *args: str) -> float:
    return run_flowdeploy(repo, api_url, *args)[0]


def run_flowdeploy(repo: Path, api_url: str, *args: str) -> tuple[float, str]:
    """Run the CLI on ``repo``: wall time from process start to exit, and its stdout."""
    env = isolated_env(None, PREFECT_API_URL=api_url)
    start = time.perf_counter()
    done = subprocess.run(
        [venv_bin("flowdeploy"), *args, "--project-dir", str(repo)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"flowdeploy {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed, done.stdout


def fresh(api_url: str) -> None:
    reset_server_state(api_url)
    create_work_pool(api_url, "default-pool", "process")


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [50, 300]
    with tempfile.TemporaryDirectory(prefix="flowdeploy-bench-") as tmp:
        server = start_prefect_server(Path(tmp) / "server")
        rows = []
        try:
            api = server.api_url
            for n in sizes:
                repo = Path(tmp) / f"repo-{n}"
                make_repo(repo, n)
                fresh(api)
                start = time.perf_counter()
                done = prefect_deploy_all(repo, api, timeout=3600)
                reference = time.perf_counter() - start
                if done.returncode != 0:
                    raise SystemExit(f"prefect deploy failed:\n{done.stdout}\n{done.stderr}")
                fresh(api)
                raw = floor(api, n)
                fresh(api)
                cold = flowdeploy(repo, api, "apply", "--all")
                rerun = flowdeploy(repo, api, "apply", "--all")
                plan = flowdeploy(repo, api, "plan", "--format", "json")
                rows.append((n, reference, raw, cold, rerun, plan))
        finally:
            server.stop()
    header = (
        "deployments",
        "prefect deploy --all",
        "floor (2 calls each)",
        "flowdeploy apply",
        "flowdeploy re-apply",
        "flowdeploy plan",
        "speed-up",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for n, reference, raw, cold, rerun, plan in rows:
        print(
            f"| {n} | {reference:.1f} s | {raw:.1f} s | {cold:.1f} s | {rerun:.1f} s | "
            f"{plan:.1f} s | {reference / cold:.1f}x |"
        )
    print(f"\nmachine: {os.cpu_count()} cores; server: SQLite, one process")


if __name__ == "__main__":
    main()
