#!/usr/bin/env python3
"""Change detection at scale: one shared module changes in a 1,000-flow repository.

usage: .venv/bin/python benchmarks/affected_plan.py [N_FLOWS] [N_SHARED]   (default: 1000 20)

Generates a repository with N flows, each importing one of N_SHARED shared modules, registers
every deployment in a real Prefect server (`flowdeploy apply --all`, not timed against the
goal), commits a change to one shared module, then times `flowdeploy plan --base HEAD~1
--format json` end to end (process start to exit, best and median of 5) and checks that it
lists exactly the flows importing that module. `plan --all` on the same commit is timed for
comparison. Goal: under 1.5 s for 1,000 flows and 20 shared modules.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from apply_vs_prefect import make_repo, run_flowdeploy  # noqa: E402

from support.server import (  # noqa: E402
    create_work_pool,
    start_prefect_server,
    venv_bin,
)

CHANGED = 7  # the shared module that changes (modulo N_SHARED)
RUNS = 5


def timed(repo: Path, api_url: str, *args: str) -> tuple[float, float, str]:
    times = []
    out = ""
    for _ in range(RUNS):
        elapsed, out = run_flowdeploy(repo, api_url, *args)
        times.append(elapsed)
    return min(times), statistics.median(times), out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    shared = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    changed = CHANGED % shared
    with tempfile.TemporaryDirectory(prefix="flowdeploy-bench-") as tmp:
        server = start_prefect_server(Path(tmp) / "server")
        try:
            api = server.api_url
            create_work_pool(api, "default-pool", "process")
            repo = Path(tmp) / "repo"
            make_repo(repo, n, shared)
            register, _ = run_flowdeploy(repo, api, "apply", "--all", "--format", "json")
            module = repo / "lib" / f"shared_{changed}.py"
            module.write_text(module.read_text() + "\nTIMEOUT = 30\n")
            git = ["git", "-C", str(repo), "-c", "user.email=b@x", "-c", "user.name=b"]
            subprocess.run([*git, "commit", "-qam", "change one shared module"], check=True)

            best, median, out = timed(repo, api, "plan", "--base", "HEAD~1", "--format", "json")
            listed = {d["name"] for d in json.loads(out)["deployments"]}
            expected = {f"flow-{i}/dep-{i}" for i in range(n) if i % shared == changed}
            if listed != expected:
                missing, extra = sorted(expected - listed)[:5], sorted(listed - expected)[:5]
                raise SystemExit(f"wrong plan: missing {missing}, extra {extra}")
            all_best, all_median, _ = timed(repo, api, "plan", "--all", "--format", "json")
            startup = min(_run([venv_bin("flowdeploy"), "--help"]) for _ in range(RUNS))
        finally:
            server.stop()
    print(
        f"{n} flows, {shared} shared modules; lib/shared_{changed}.py changed "
        f"({len(expected)} flows import it)\n"
    )
    print("| command | best | median |")
    print("|---|---|---|")
    print(f"| flowdeploy plan --base HEAD~1 --format json | {best:.2f} s | {median:.2f} s |")
    print(f"| flowdeploy plan --all --format json | {all_best:.2f} s | {all_median:.2f} s |")
    print(f"| flowdeploy --help (interpreter + imports) | {startup:.2f} s | |")
    print(f"\nregistering all {n} first (apply --all, one-off): {register:.1f} s")
    print(f"plan --base lists exactly the {len(expected)} importers: yes")
    print(f"goal: under 1.5 s -> {'met' if best < 1.5 else 'NOT met'}")
    print(f"machine: {os.cpu_count()} cores; server: SQLite, one process")


def _run(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=True)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
