"""Cancellation as GitHub does it (SIGINT, then SIGTERM): the CLI stops starting writes, prints
what it wrote, exits 130 / 143 (never 2, which promises nothing was written), and a re-run
finishes the job without duplicates. Real server, real process, real signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from support.proxy import RecordingProxy
from support.server import create_work_pool

COUNT = 120
FLOW = "from prefect import flow\n\n\n@flow\ndef etl(n: int = 1) -> int:\n    return n\n"


def project(root: Path) -> Path:
    (root / "flows").mkdir(parents=True)
    (root / "flows" / "etl.py").write_text(FLOW)
    entries = "".join(
        f"- name: d{i:03d}\n  entrypoint: flows/etl.py:etl\n  work_pool: {{name: pool}}\n"
        for i in range(COUNT)
    )
    (root / "prefect.yaml").write_text("deployments:\n" + entries)
    return root


def start(proxy: RecordingProxy, root: Path, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PREFECT_"))}
    env["PREFECT_API_URL"] = proxy.api_url
    return subprocess.Popen(
        [sys.executable, "-m", "flowdeploy", "apply", "--all", "--project-dir", str(root), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def creates(proxy: RecordingProxy) -> int:
    """Deployments the server created: a 503 answered to concurrent writes is no create."""
    return len(
        [
            w
            for w in proxy.writes()
            if w.path.rstrip("/").endswith("/deployments") and w.status and w.status < 300
        ]
    )


def wait_for_writes(proxy: RecordingProxy, at_least: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while creates(proxy) < at_least:
        assert process.poll() is None, "the apply ended before it could be cancelled"
        assert time.monotonic() < deadline, "no writes seen"
        time.sleep(0.005)


def server_names(api_url: str) -> list[str]:
    found: list[str] = []
    offset = 0
    while True:
        page = httpx.post(
            f"{api_url}/deployments/filter", json={"limit": 200, "offset": offset}, timeout=30
        ).json()
        found += [d["name"] for d in page]
        if len(page) < 200:
            return sorted(found)
        offset += 200


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_cancel_mid_apply_reports_what_was_written_and_a_rerun_completes(
    tmp_path: Path, recording_proxy: RecordingProxy, signum: int, code: int
) -> None:
    create_work_pool(recording_proxy.api_url, "pool", "process")
    root = project(tmp_path / "repo")
    recording_proxy.clear()
    process = start(recording_proxy, root, "--format", "json")
    wait_for_writes(recording_proxy, 14, process)
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert "Traceback" not in err
    doc = json.loads(out)
    statuses = [d["status"] for d in doc["deployments"]]
    written = statuses.count("created")
    assert written >= 14 and statuses.count("skipped") == COUNT - written
    assert doc["errors"][0]["message"].startswith("cancelled (SIG")
    # What the report says was created is exactly what the server holds.
    held = server_names(recording_proxy.api_url)
    assert len(held) == written

    again = start(recording_proxy, root, "--format", "json")
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    doc = json.loads(out)
    assert [d["status"] for d in doc["deployments"]].count("unchanged") == written
    assert server_names(recording_proxy.api_url) == [f"d{i:03d}" for i in range(COUNT)]


def test_text_output_prints_the_partial_table(
    tmp_path: Path, recording_proxy: RecordingProxy
) -> None:
    create_work_pool(recording_proxy.api_url, "pool", "process")
    root = project(tmp_path / "repo")
    recording_proxy.clear()
    process = start(recording_proxy, root)
    wait_for_writes(recording_proxy, 5, process)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "created" in out and "skipped" in out
    assert "cancelled (SIGINT)" in err and "re-run" in err
