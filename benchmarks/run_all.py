#!/usr/bin/env python3
"""Every speed target of flowdeploy, side by side with `prefect deploy`, from one run.

usage: .venv/bin/python benchmarks/run_all.py [--sizes 50 100 300 1000] [--prefect 300 1000]
                                              [--out benchmarks]

Starts its own services and stops them at the end: a Prefect server on SQLite, a throwaway
PostgreSQL cluster (Debian's `postgresql` package) and a Prefect server on it. Generates one
repository per size (N flows importing 10 shared modules, typed parameters, cron/interval
schedules, a work pool, a pull step; `benchmarks/apply_vs_prefect.py`'s generator), installs
flowdeploy as users get it (`pip install` of this checkout into a new virtualenv), and
measures each command as a whole process (start to exit, wall clock; peak memory from the
kernel's rusage of that process):

- `flowdeploy --version` and `--help` (median of 7);
- for each size, into a wiped SQLite server: the floor (a bare loop of the two REST calls
  each deployment needs, one after the other, sending the bodies `prefect deploy` and
  flowdeploy send), the same loop with minimal bodies (shown beside it: it registers
  less), `flowdeploy apply --all` into the empty server (the floor and the apply take
  turns, --rounds times, default 3; the median of each is reported), the same again on the
  unchanged repository (median of 7), and `flowdeploy plan --all` (median of 5);
- `prefect --no-prompt deploy --all` for the sizes given with --prefect;
- one changed flow in the largest repository: `flowdeploy apply --base HEAD~1` (median of 3
  commits, each changing that flow) against
  `prefect deploy -n <that deployment>`;
- on PostgreSQL, the largest size: the floor, and `flowdeploy apply --all` with 1, 2, 4 and
  8 writes in flight (FLOWDEPLOY_CONCURRENCY), and with the default.

Prints the tables, writes them to <out>/results.md and the per-deployment cost to
<out>/cost_per_deployment.png (needs matplotlib: `.venv/bin/pip install -e '.[bench]'`).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "src"))

from apply_vs_prefect import _post, make_repo  # noqa: E402
from postgres import running_postgres  # noqa: E402

from support.oracle import prefect_deploy  # noqa: E402
from support.server import (  # noqa: E402
    create_work_pool,
    isolated_env,
    reset_server_state,
    start_prefect_server,
    venv_bin,
)

POOL = "default-pool"
CONCURRENCIES = (1, 2, 4, 8)


@dataclass(frozen=True)
class Timed:
    seconds: float
    peak_mb: float
    stdout: str


def timed(command: Sequence[str], env: Mapping[str, str], cwd: Path | None = None) -> Timed:
    """Run ``command``; wall time from start to exit and the peak resident memory of that
    process (``ru_maxrss`` of its own rusage, not its children's)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(
            list(command),
            stdout=out,
            stderr=err,
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if process.returncode != 0:
        raise SystemExit(
            f"{' '.join(command)} exited with {process.returncode}:\n{stdout}\n{stderr}"
        )
    return Timed(elapsed, usage.ru_maxrss / 1024, stdout)


def median(command: Sequence[str], env: Mapping[str, str], runs: int) -> Timed:
    results = [timed(command, env) for _ in range(runs)]
    middle = statistics.median(r.seconds for r in results)
    return Timed(middle, max(r.peak_mb for r in results), results[-1].stdout)


INSTALLED: list[str] = []
"""The flowdeploy command under test: installed by ``install()``."""


def install(into: Path) -> None:
    """flowdeploy as users get it: ``pip install`` of this checkout into a new virtualenv,
    with only its own dependencies and its modules compiled to bytecode. The development
    venv's editable install would be measured with prefect's extras (h2, ...) loaded by
    httpx, and recompiles every module edited since its bytecode was written."""
    subprocess.run([sys.executable, "-m", "venv", str(into)], check=True)
    subprocess.run(
        [str(into / "bin" / "pip"), "install", "--quiet", "--no-warn-script-location", str(ROOT)],
        check=True,
    )
    INSTALLED[:] = [str(into / "bin" / "flowdeploy")]


def flowdeploy(repo: Path, *args: str) -> list[str]:
    return [*INSTALLED, *args, "--project-dir", str(repo)]


def env_for(api: str, **extra: str) -> dict[str, str]:
    return isolated_env(None, PREFECT_API_URL=api, **extra)


def fresh(api: str) -> None:
    reset_server_state(api)
    create_work_pool(api, POOL, "process")


def floor(api: str, n: int) -> float:
    """A bare sequential loop of the two REST calls each deployment needs (flow upsert,
    deployment upsert) with minimal bodies: no parameter schema, version info, pull steps
    or job variables, so the server does less than for what is actually registered."""
    start = time.perf_counter()
    with httpx.Client(base_url=api, timeout=60) as client:
        for i in range(n):
            flow_id = _post(client, "/flows/", {"name": f"flow-{i}"})["id"]
            _post(
                client,
                "/deployments/",
                {
                    "flow_id": flow_id,
                    "name": f"dep-{i}",
                    "work_pool_name": POOL,
                    "entrypoint": f"flows/flow_{i}.py:flow_{i}",
                    "parameters": {"count": i % 7},
                    "tags": [f"team-{i % 10}"],
                    "enforce_parameter_schema": True,
                    "schedules": [{"schedule": {"interval": 3600 + i}, "active": True}],
                },
            )
    return time.perf_counter() - start


def prefect_bodies(repo: Path, api: str) -> list[dict[str, Any]]:
    """The deployment bodies ``prefect deploy`` sends for ``repo`` (flowdeploy sends the
    same, field for field; the conformance tests hold it to that), with the flow's name in
    ``flow_id`` until the flow is registered."""
    from flowdeploy.api import Connection, PrefectApi
    from flowdeploy.pipeline import read_plan
    from flowdeploy.settings import load_settings

    settings = load_settings({"PREFECT_API_URL": api}, project_dir=str(repo), all_=True)
    with PrefectApi(Connection(api)) as client:
        plan = read_plan(settings, client).plan
    return [
        item.spec.deployment.create_body(item.spec.deployment.flow_name or "")
        for item in plan.items
        if item.spec is not None
    ]


def floor_as_prefect(api: str, bodies: list[dict[str, Any]]) -> float:
    """The floor: the least any tool can take to register these deployments, a bare
    sequential loop sending what ``prefect deploy`` registers (the parameter schema, version
    and version_info, pull steps, job variables, description, cron schedules; the server
    does more for each of them: a version record, a schema check)."""
    start = time.perf_counter()
    with httpx.Client(base_url=api, timeout=60) as client:
        for body in bodies:
            flow_id = _post(client, "/flows/", {"name": body["flow_id"]})["id"]
            _post(client, "/deployments/", {**body, "flow_id": flow_id})
    return time.perf_counter() - start


def calibrate() -> float:
    """Seconds a fixed pure-Python task takes now: how fast this shared machine is running."""
    start = time.perf_counter()
    total = 0
    for i in range(3_000_000):
        total += i * i % 7
    return time.perf_counter() - start


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.email=b@x", "-c", "user.name=b", *args],
        check=True,
        capture_output=True,
    )


def versions() -> str:
    prefect = subprocess.run(
        [venv_bin("prefect"), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    ours = subprocess.run(
        [*INSTALLED, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return f"{ours}; Prefect {prefect}; Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 300, 1000])
    parser.add_argument("--prefect", type=int, nargs="*", default=[300, 1000])
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of the floor and of the first apply"
    )
    args = parser.parse_args()
    sizes = sorted(args.sizes)
    largest = sizes[-1]
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="flowdeploy-bench-") as tmp_name:
        tmp = Path(tmp_name)
        install(tmp / "venv")
        repos = {}
        for n in sizes:
            repos[n] = tmp / f"repo-{n}"
            make_repo(repos[n], n)

        base_env = isolated_env(None)
        version = median([*INSTALLED, "--version"], base_env, 7)
        helped = median([*INSTALLED, "--help"], base_env, 7)

        rows: dict[int, dict[str, float]] = {}
        spread: dict[int, tuple[list[float], list[float]]] = {}
        """Each round of the floor and of the first apply, per size."""
        speed_before = calibrate()
        reference: dict[int, float] = {}
        server_cpu: dict[int, dict[str, float]] = {}
        """CPU seconds the SQLite server spent during the floor, the first apply and
        prefect deploy, per size."""
        server = start_prefect_server(tmp / "sqlite")
        try:
            api = server.api_url
            env = env_for(api)
            for n in sizes:
                print(f"N={n}: floor, apply, re-run, plan (SQLite)", file=sys.stderr)
                fresh(api)
                raw = floor(api, n)
                bodies = prefect_bodies(repos[n], api)
                # The floor and the first apply take turns, so a slower minute of this shared
                # machine falls on both; each figure is the median of its rounds.
                sames: list[float] = []
                colds: list[Timed] = []
                used: dict[str, list[float]] = {"same": [], "apply": []}
                for _ in range(args.rounds):
                    fresh(api)
                    before = server.cpu_seconds()
                    sames.append(floor_as_prefect(api, bodies))
                    used["same"].append(server.cpu_seconds() - before)
                    fresh(api)
                    before = server.cpu_seconds()
                    colds.append(timed(flowdeploy(repos[n], "apply", "--all"), env))
                    used["apply"].append(server.cpu_seconds() - before)
                server_cpu[n] = {k: statistics.median(v) for k, v in used.items()}
                rerun = median(flowdeploy(repos[n], "apply", "--all"), env, 7)
                plan = median(flowdeploy(repos[n], "plan", "--all", "--format", "json"), env, 5)
                spread[n] = (sames, [c.seconds for c in colds])
                rows[n] = {
                    "floor": raw,
                    "same": statistics.median(sames),
                    "apply": statistics.median(c.seconds for c in colds),
                    "rerun": rerun.seconds,
                    "plan": plan.seconds,
                    "peak": max(*(c.peak_mb for c in colds), rerun.peak_mb, plan.peak_mb),
                }
            sequential = {}
            for n in (s for s in (300, largest) if s in repos):
                fresh(api)
                sequential[n] = timed(
                    flowdeploy(repos[n], "apply", "--all"),
                    env_for(api, FLOWDEPLOY_CONCURRENCY="1"),
                ).seconds
            for n in args.prefect:
                if n not in repos:
                    continue
                print(f"N={n}: prefect deploy --all (SQLite)", file=sys.stderr)
                fresh(api)
                before = server.cpu_seconds()
                start = time.perf_counter()
                done = prefect_deploy(repos[n], api, ("--all",), timeout=7200)
                reference[n] = time.perf_counter() - start
                server_cpu[n]["prefect"] = server.cpu_seconds() - before
                if done.returncode != 0:
                    raise SystemExit(f"prefect deploy failed:\n{done.stdout}\n{done.stderr}")

            # One changed flow in the largest repository, registered and unchanged first.
            repo = repos[largest]
            fresh(api)
            timed(flowdeploy(repo, "apply", "--all"), env)
            # three commits, each changing the same flow's docstring: three timed runs that
            # each update one deployment (the median is reported)
            changed = repo / "flows" / "flow_7.py"
            ones: list[Timed] = []
            for attempt in range(3):
                changed.write_text(
                    changed.read_text().replace("sums its steps", f"sums its steps ({attempt})")
                )
                git(repo, "commit", "-qam", f"change one flow ({attempt})")
                one = timed(flowdeploy(repo, "apply", "--base", "HEAD~1"), env)
                if "1 updated" not in one.stdout and "dep-7" not in one.stdout:
                    raise SystemExit(f"expected one update of dep-7, got:\n{one.stdout}")
                ones.append(one)
            one = sorted(ones, key=lambda t: t.seconds)[1]
            start = time.perf_counter()
            done = prefect_deploy(repo, api, ("-n", "dep-7"), timeout=600)
            prefect_one = time.perf_counter() - start
            if done.returncode != 0:
                raise SystemExit(f"prefect deploy -n failed:\n{done.stdout}\n{done.stderr}")
        finally:
            server.stop()

        print(f"N={largest}: PostgreSQL", file=sys.stderr)
        with running_postgres() as pg:
            server = start_prefect_server(tmp / "pg-server", database_url=pg.url)
            try:
                api = server.api_url
                fresh(api)
                pg_floor = floor(api, largest)
                fresh(api)
                pg_same = floor_as_prefect(api, prefect_bodies(repos[largest], api))
                pg_runs: dict[str, float] = {}
                for c in (*CONCURRENCIES, None):
                    fresh(api)
                    extra = {"FLOWDEPLOY_CONCURRENCY": str(c)} if c else {}
                    pg_runs[str(c) if c else "default"] = timed(
                        flowdeploy(repos[largest], "apply", "--all"), env_for(api, **extra)
                    ).seconds
            finally:
                server.stop()
            pg_version = pg.version
        tools = versions()  # while the installed flowdeploy still exists
        speed_after = calibrate()

    say(f"# flowdeploy benchmarks ({time.strftime('%Y-%m-%d')})")
    say()
    say(
        f"Machine: {os.cpu_count()} cores, {platform.machine()}, {platform.system()}; "
        f"{tools}; PostgreSQL {pg_version}."
    )
    say(
        f"Command: `.venv/bin/python benchmarks/run_all.py --sizes {' '.join(map(str, sizes))}"
        f" --prefect {' '.join(map(str, args.prefect))}` ({(time.perf_counter() - began) / 60:.0f}"
        " min). Every figure is a whole process, start to exit, in one run on one machine."
    )
    say(
        f"Machine speed: a fixed CPU task took {speed_before:.2f} s at the start and "
        f"{speed_after:.2f} s at the end (this machine is shared; the first apply and its "
        f"floor are the median of {args.rounds} rounds taken in turn, the re-run the median "
        "of 7, plan --all of 5)."
    )
    say()
    say("## Targets")
    say()
    say("| work | target | measured | verdict |")
    say("|---|---|---|---|")

    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    start_up = max(version.seconds, helped.seconds)
    say(
        f"| `flowdeploy --version` / `--help` | < 0.2 s | {version.seconds:.3f} s / "
        f"{helped.seconds:.3f} s | {verdict(start_up < 0.2)} |"
    )
    if 300 in rows:
        r = rows[300]
        ratio = (
            f"; {reference[300] / r['rerun']:.0f}x faster than prefect deploy --all "
            f"({reference[300]:.1f} s)"
            if 300 in reference
            else ""
        )
        ok = r["rerun"] < 0.6 and (300 not in reference or reference[300] / r["rerun"] >= 100)
        say(
            f"| unchanged re-run, N = 300 | < 0.6 s; ≥ 100x prefect | {r['rerun']:.2f} s"
            f"{ratio} | {verdict(ok)} |"
        )
    # The floor is the same deployments registered by a bare loop, one request after the
    # other: the bodies prefect deploy (and flowdeploy) send. A loop sending minimal bodies
    # (no schema, version info, pull steps...) registers less, so it is shown beside it.
    for n in (s for s in (300, 1000) if s in rows):
        r = rows[n]
        extra = ""
        ok = r["apply"] <= 1.15 * r["same"]
        target = "; ≥ 10x prefect" if n == 1000 else ""
        if n in reference:
            extra = f"; {reference[n] / r['apply']:.1f}x faster than prefect ({reference[n]:.1f} s)"
            if n == 1000:
                ok = ok and reference[n] / r["apply"] >= 10
                extra += (
                    f", while the floor itself is {reference[n] / r['same']:.1f}x faster than "
                    f"prefect; 10x leaves {reference[n] / 10 / n * 1000:.0f} ms per deployment "
                    f"and the server alone spends {server_cpu[n]['same'] / n * 1000:.0f} ms of "
                    "CPU on each (see below)"
                )
        say(
            f"| first apply, N = {n}, SQLite | ≤ 1.15x floor{target}"
            f" | {r['apply']:.2f} s = {r['apply'] / r['same']:.2f}x the floor "
            f"({r['same']:.2f} s); {r['apply'] / r['floor']:.2f}x a floor with minimal bodies "
            f"({r['floor']:.2f} s){extra} | {verdict(ok)} |"
        )
    best = min(pg_runs.values())
    say(
        f"| first apply, N = {largest}, PostgreSQL | faster than the floor | "
        f"{pg_runs['default']:.2f} s (default) = {pg_runs['default'] / pg_same:.2f}x the floor "
        f"({pg_same:.2f} s); {pg_runs['default'] / pg_floor:.2f}x a floor with minimal bodies "
        f"({pg_floor:.2f} s) | {verdict(pg_runs['default'] < pg_same)} |"
    )
    say(
        f"| one changed flow of {largest}, `apply --base HEAD~1` | < 0.8 s; faster than "
        f"`prefect deploy -n` | {one.seconds:.2f} s (median of "
        f"{', '.join(f'{t.seconds:.2f}' for t in ones)}); prefect deploy -n dep-7: "
        f"{prefect_one:.1f} s"
        f" | {verdict(one.seconds < 0.8 and one.seconds < prefect_one)} |"
    )
    say(
        f"| `plan --all`, N = {largest} | < 1.5 s | {rows[largest]['plan']:.2f} s | "
        f"{verdict(rows[largest]['plan'] < 1.5)} |"
    )
    peak = rows[largest]["peak"]
    say(
        f"| peak memory, N = {largest} | < 200 MB | {peak:.0f} MB (apply, re-run, plan) | "
        f"{verdict(peak < 200)} |"
    )
    per = [rows[n]["apply"] / n * 1000 for n in sizes]
    floor_per = [rows[n]["same"] / n * 1000 for n in sizes]
    say(
        f"| how cost grows | flat from N = {sizes[0]} to {largest} | "
        f"{per[0]:.1f} → {per[-1]:.1f} ms per deployment (floor {floor_per[0]:.1f} → "
        f"{floor_per[-1]:.1f}) | see below |"
    )
    say()
    say("## By size (SQLite server)")
    say()
    say(
        "| N | floor | floor, minimal bodies | apply (empty server) | x floor | "
        "x floor, minimal bodies | per deployment | re-run | plan --all | peak memory | "
        "prefect deploy --all |"
    )
    say("|---|---|---|---|---|---|---|---|---|---|---|")
    for n in sizes:
        r = rows[n]
        ref = f"{reference[n]:.1f} s" if n in reference else "—"
        say(
            f"| {n} | {r['same']:.2f} s | {r['floor']:.2f} s | {r['apply']:.2f} s | "
            f"{r['apply'] / r['same']:.2f} | {r['apply'] / r['floor']:.2f} | "
            f"{r['apply'] / n * 1000:.1f} ms | {r['rerun']:.2f} s | {r['plan']:.2f} s | "
            f"{r['peak']:.0f} MB | {ref} |"
        )
    say()
    say("Rounds of the first apply and of its floor (seconds, in the order taken):")
    say()
    for n in sizes:
        sames, colds = spread[n]
        say(
            f"- N = {n}: floor {', '.join(f'{x:.2f}' for x in sames)}; "
            f"apply {', '.join(f'{x:.2f}' for x in colds)}"
        )
    say()
    say("## The server's share of a first apply (SQLite)")
    say()
    say(
        "Milliseconds per deployment: wall clock of the whole command, and the CPU time the "
        "Prefect server process spent meanwhile (it serves every request, SQLite included, "
        "in that one process; the floor and flowdeploy: medians of the rounds)."
    )
    say()
    say(
        "| N | floor: wall | floor: server CPU | flowdeploy: wall | flowdeploy: server CPU | "
        "prefect deploy --all: wall | prefect deploy --all: server CPU |"
    )
    say("|---|---|---|---|---|---|---|")
    for n in sizes:
        r, cpu = rows[n], server_cpu[n]
        theirs = (
            f"{reference[n] / n * 1000:.1f} | {cpu['prefect'] / n * 1000:.1f}"
            if n in reference
            else "— | —"
        )
        say(
            f"| {n} | {r['same'] / n * 1000:.1f} | {cpu['same'] / n * 1000:.1f} | "
            f"{r['apply'] / n * 1000:.1f} | {cpu['apply'] / n * 1000:.1f} | {theirs} |"
        )
    say()
    say("## Writes in flight (FLOWDEPLOY_CONCURRENCY)")
    say()
    say("| server | N | floor | floor, minimal bodies | 1 | 2 | 4 | 8 | default |")
    say("|---|---|---|---|---|---|---|---|---|")
    say(
        f"| PostgreSQL | {largest} | {pg_same:.2f} s | {pg_floor:.2f} s | "
        + " | ".join(f"{pg_runs[str(c)]:.2f} s" for c in CONCURRENCIES)
        + f" | {pg_runs['default']:.2f} s |"
    )
    for n, seconds in sequential.items():
        say(
            f"| SQLite | {n} | {rows[n]['same']:.2f} s | {rows[n]['floor']:.2f} s | "
            f"{seconds:.2f} s | | | | "
            f"{rows[n]['apply']:.2f} s |"
        )
    say()
    say(
        f"Best on PostgreSQL: {best:.2f} s = {best / pg_same:.2f}x the floor, "
        f"{best / pg_floor:.2f}x the floor with minimal bodies."
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.md").write_text("\n".join(lines) + "\n")
    plot(args.out / "cost_per_deployment.png", sizes, rows)


def plot(path: Path, sizes: list[int], rows: dict[int, dict[str, float]]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no plot: matplotlib is missing (.venv/bin/pip install -e '.[bench]')")
        return
    figure, axes = plt.subplots(figsize=(7, 4))
    for key, label in (
        ("apply", "flowdeploy apply (empty server)"),
        ("same", "floor: the same bodies, one request after another"),
        ("floor", "a floor with minimal bodies"),
        ("rerun", "flowdeploy re-run (unchanged)"),
    ):
        axes.plot(sizes, [rows[n][key] / n * 1000 for n in sizes], marker="o", label=label)
    axes.set_xscale("log")
    axes.set_xticks(sizes, [str(n) for n in sizes])
    axes.set_xlabel("deployments in the repository")
    axes.set_ylabel("ms per deployment")
    axes.set_ylim(bottom=0)
    axes.set_title("Cost per deployment (SQLite Prefect server)")
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    print(f"plot: {path}")


if __name__ == "__main__":
    main()
