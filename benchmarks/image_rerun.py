#!/usr/bin/env python3
"""The image step on a re-run: what a second `apply` on the same commit spends on the image.

usage: .venv/bin/python benchmarks/image_rerun.py

Starts a real Docker engine, a registry with htpasswd auth and a Prefect server (the test
suite's helpers), builds and pushes a project's image with `flowdeploy apply`, then times,
on the same commit: the registry check alone (the manifest HEAD flowdeploy makes; best and
median of 20) and the whole re-run of `flowdeploy apply` (process start to exit; 5 runs).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from pydantic import SecretStr  # noqa: E402

from flowdeploy.image import RegistryAuth, image_exists  # noqa: E402
from support.docker import start_docker_engine, start_registry  # noqa: E402
from support.server import create_work_pool, isolated_env, start_prefect_server, venv_bin  # noqa: E402

PREFECT_YAML = """\
build:
- prefect_docker.deployments.steps.build_docker_image:
    id: build-image
    image_name: {registry}/team/flows
    dockerfile: Dockerfile
    pull: false
push:
- prefect_docker.deployments.steps.push_docker_image:
    image_name: "{{{{ build-image.image_name }}}}"
    tag: "{{{{ build-image.tag }}}}"
deployments:
{deployments}"""
DEPLOYMENT = """\
- name: d{i}
  entrypoint: flows/f{i}.py:f{i}
  work_pool: {{name: docker-pool}}
"""
FLOW = "from prefect import flow\n\n\n@flow\ndef f{i}(n: int = {i}) -> int:\n    return n\n"


def main() -> None:
    n = 20
    with tempfile.TemporaryDirectory(prefix="flowdeploy-bench-") as tmp:
        work = Path(tmp)
        engine = start_docker_engine(work / "engine")
        registry = start_registry(work / "registry", username="bench", password="bench-pass")
        server = start_prefect_server(work / "server")
        try:
            create_work_pool(server.api_url, "docker-pool", "docker")
            repo = work / "repo"
            (repo / "flows").mkdir(parents=True)
            for i in range(n):
                (repo / "flows" / f"f{i}.py").write_text(FLOW.format(i=i))
            (repo / "Dockerfile").write_text("FROM scratch\nCOPY flows /flows\n")
            deployments = "".join(DEPLOYMENT.format(i=i) for i in range(n))
            (repo / "prefect.yaml").write_text(
                PREFECT_YAML.format(registry=registry.address, deployments=deployments)
            )
            git = ["git", "-C", str(repo), "-c", "user.email=b@x", "-c", "user.name=b"]
            subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
            subprocess.run([*git, "add", "-A"], check=True)
            subprocess.run([*git, "commit", "-qm", "initial"], check=True)
            sha = subprocess.run(
                [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
            ).stdout.strip()
            env = isolated_env(
                None,
                PREFECT_API_URL=server.api_url,
                DOCKER_HOST=engine.host,
                FLOWDEPLOY_REGISTRY_USERNAME="bench",
                FLOWDEPLOY_REGISTRY_PASSWORD="bench-pass",
            )
            command = [venv_bin("flowdeploy"), "apply", "--project-dir", str(repo)]
            start = time.perf_counter()
            subprocess.run(command, env=env, check=True, capture_output=True)
            first = time.perf_counter() - start

            auth = RegistryAuth(username="bench", password=SecretStr("bench-pass"))
            reference = f"{registry.address}/team/flows:{sha}"
            checks = []
            for _ in range(20):
                start = time.perf_counter()
                assert image_exists(reference, auth)
                checks.append(time.perf_counter() - start)
            reruns = []
            for _ in range(5):
                start = time.perf_counter()
                done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
                reruns.append(time.perf_counter() - start)
                assert "already in the registry" in done.stdout, done.stdout
        finally:
            server.stop()
            registry.stop()
            engine.stop()
    print(f"{n} deployments on one image, same commit re-run\n")
    print("| step | best | median |")
    print("|---|---|---|")
    print(
        f"| registry check (manifest HEAD, basic auth) | {min(checks) * 1000:.1f} ms | "
        f"{statistics.median(checks) * 1000:.1f} ms |"
    )
    print(
        f"| flowdeploy apply re-run (whole process) | {min(reruns):.2f} s | "
        f"{statistics.median(reruns):.2f} s |"
    )
    print(f"\nfirst apply (build + push + {n} creates): {first:.2f} s")
    print(f"machine: {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
