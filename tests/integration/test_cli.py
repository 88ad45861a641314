"""The CLI against a real Prefect server, every request seen by a recording proxy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flowdeploy.cli import main
from support.faultproxy import FaultProxy, Rule, endpoint
from support.proxy import RecordingProxy
from support.server import create_work_pool

EXAMPLE = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    dest = tmp_path / "example"
    shutil.copytree(EXAMPLE, dest)
    return dest


@pytest.fixture
def api(recording_proxy: RecordingProxy, monkeypatch: pytest.MonkeyPatch) -> RecordingProxy:
    # a run inside GitHub Actions must not turn these tests into change-detection runs
    for var in list(os.environ):
        if var.startswith(("GITHUB_", "PREFECT_API_KEY", "PREFECT_API_AUTH")):
            monkeypatch.delenv(var)
    monkeypatch.setenv("PREFECT_API_URL", recording_proxy.api_url)
    create_work_pool(recording_proxy.api_url, "demo-pool", "process")
    recording_proxy.clear()
    return recording_proxy


def api_deployments(api_url: str) -> list[dict[str, object]]:
    import httpx

    rows: list[dict[str, object]] = httpx.post(f"{api_url}/deployments/filter", json={}).json()
    return rows


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def plan_json(capsys: pytest.CaptureFixture[str], repo: Path) -> dict[str, object]:
    code, out, err = run(capsys, "plan", "--project-dir", str(repo), "--format", "json")
    assert code == 0, err
    doc: dict[str, object] = json.loads(out)
    return doc


def actions(doc: dict[str, object]) -> dict[str, str]:
    return {d["name"]: d["action"] for d in doc["deployments"]}  # type: ignore[attr-defined]


def test_a_run_outside_github_does_not_load_the_action(api: RecordingProxy, repo: Path) -> None:
    """The Action's modules (inputs, job summary, PR comment, annotations) serve runs in
    GitHub Actions and errors to annotate: a CLI run that succeeds skips them (5 ms of an
    unchanged re-run)."""
    code = (
        "import sys\n"
        "from flowdeploy.cli import main\n"
        f"code = main(['plan', '--all', '--project-dir', {str(repo)!r}])\n"
        "heavy = ('flowdeploy.action', 'flowdeploy.summary')\n"
        "print(code, [m for m in heavy if m in sys.modules])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ)
    )
    assert done.stdout.splitlines()[-1] == "0 []", done.stdout + done.stderr


def test_plan_apply_and_rerun_without_writes(
    api: RecordingProxy, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert set(actions(plan_json(capsys, repo)).values()) == {"create"}
    assert api.writes() == []

    code, out, err = run(capsys, "apply", "--project-dir", str(repo), "--all")
    assert code == 0, out + err
    assert "etl/orders-nightly" in out and "created" in out
    assert "prefect worker start --pool 'demo-pool'" in out
    # One flow upsert per distinct flow (3), one deployment create per deployment (4);
    # a 503 from SQLite under concurrent writes is retried and not counted.
    writes = [w for w in api.writes() if w.status < 500]
    assert len([w for w in writes if w.path == "/api/flows/"]) == 3
    assert len([w for w in writes if w.path == "/api/deployments/"]) == 4

    api.clear()
    code, out, err = run(capsys, "apply", "--project-dir", str(repo), "--all")
    assert code == 0, out + err
    assert api.writes() == []
    assert set(actions(plan_json(capsys, repo)).values()) == {"unchanged"}


def test_editing_one_parameter_plans_exactly_one_update(
    api: RecordingProxy, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "apply", "--project-dir", str(repo), "--all")[0] == 0
    text = (repo / "prefect.yaml").read_text()
    (repo / "prefect.yaml").write_text(text.replace("source: customers", "source: clients"))
    api.clear()
    doc = plan_json(capsys, repo)
    updates = [d for d in doc["deployments"] if d["action"] == "update"]  # type: ignore[attr-defined]
    assert [u["name"] for u in updates] == ["etl/customers-hourly"]
    assert updates[0]["changes"] == {
        "parameters": {"from": {"source": "customers"}, "to": {"source": "clients"}}
    }
    assert api.writes() == []
    assert run(capsys, "apply", "--project-dir", str(repo), "--all")[0] == 0
    writes = [w for w in api.writes() if w.status < 500]
    assert [w.method for w in writes] == ["PATCH"]
    assert set(actions(plan_json(capsys, repo)).values()) == {"unchanged"}


ORDERS = "  - name: orders-nightly\n    entrypoint: flows/etl.py:etl\n"


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        (
            "    tags: [etl, orders]",
            "    tags: [etl, orders]\n    shedules: []",
            "did you mean 'schedules'?",
        ),
        ('cron: "0 2 * * *"', 'cron: "0 25 * * *"', "cron expression '0 25 * * *' is not valid"),
        ("timezone: Europe/Berlin", "timezone: Europe/Atlantis", "not an IANA time zone"),
        ('rrule: "FREQ=WEEKLY;BYDAY=MO;BYHOUR=7"', 'rrule: "FREQ=WEEKLY;BYDAY=XX"', "rrule"),
        (
            "      - interval: 3600\n",
            "      - interval: 3600\n        cron: '0 1 * * *'\n",
            "more than one of 'cron', 'interval', 'rrule'",
        ),
        ("name: demo-pool", "name: ghost-pool", "work pool 'ghost-pool'"),
        (
            "entrypoint: flows/cleanup.py:cleanup",
            "entrypoint: flows/nothing.py:cleanup",
            "flows/nothing.py",
        ),
        (
            "entrypoint: flows/cleanup.py:cleanup",
            "entrypoint: flows/cleanup.py:cleanupp",
            "'cleanupp'",
        ),
        (
            "  - name: cleanup\n",
            "  - name: weekly\n    entrypoint: flows/report.py:weekly_report\n"
            "    work_pool: {name: demo-pool}\n  - name: cleanup\n",
            "defined twice",
        ),
        (
            "source: customers",
            "source: '{{ $FLOWDEPLOY_UNSET_VAR }}'",
            "environment variable FLOWDEPLOY_UNSET_VAR is not set",
        ),
        (
            "source: customers",
            "source: '{{ prefect.variables.nope }}'",
            "Prefect variable 'nope' does not exist",
        ),
        (
            "      work_queue_name: hourly",
            "      work_queue_name: hourly\n      name: ''",
            "no work pool",
        ),
    ],
)
def test_invalid_configuration_exits_2_and_writes_nothing(
    api: RecordingProxy,
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    old: str,
    new: str,
    fragment: str,
) -> None:
    text = (repo / "prefect.yaml").read_text()
    assert old in text
    (repo / "prefect.yaml").write_text(text.replace(old, new, 1))
    code, out, err = run(capsys, "apply", "--project-dir", str(repo), "--all")
    assert code == 2, out + err
    assert fragment in err
    assert "prefect.yaml:" in err
    assert api.writes() == []


def test_image_goes_only_to_pools_that_run_images(
    api: RecordingProxy, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys,
        "apply",
        "--project-dir",
        str(repo),
        "--all",
        "--image",
        "registry.test/flows:abc",
        "--format",
        "json",
    )
    assert code == 0, out + err
    assert "registry.test" not in json.dumps(api_deployments(api.api_url))


def test_docker_build_step_needs_a_pool_that_runs_images(
    api: RecordingProxy, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        (repo / "prefect.yaml")
        .read_text()
        .replace(
            "pull:\n",
            (
                "build:\n  - prefect_docker.deployments.steps.build_docker_image:\n"
                "      id: build-image\n      image_name: registry.test/flows\n"
                "      dockerfile: Dockerfile\npull:\n"
            ),
            1,
        )
    )
    (repo / "prefect.yaml").write_text(text)
    code, _, err = run(
        capsys, "apply", "--project-dir", str(repo), "--all", "--image", "registry.test/flows:abc"
    )
    assert code == 2
    assert "work pool 'demo-pool' (type 'process') cannot run an image" in err
    assert api.writes() == []
    # no --image: the step's image would be built, tagged with the commit -- there is none
    code, _, err = run(capsys, "apply", "--project-dir", str(repo), "--all")
    assert code == 2
    assert "cannot tell which commit to build the image from" in err
    assert api.writes() == []


def test_image_goes_into_job_variables_on_a_docker_pool(
    api: RecordingProxy, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    create_work_pool(api.api_url, "docker-pool", "docker")
    text = (repo / "prefect.yaml").read_text().replace("name: demo-pool", "name: docker-pool")
    (repo / "prefect.yaml").write_text(text)
    code, out, err = run(
        capsys,
        "apply",
        "--project-dir",
        str(repo),
        "--all",
        "--image",
        "registry.test/flows:abc",
        "--format",
        "json",
    )
    assert code == 0, out + err
    doc = json.loads(out)
    assert {d["status"] for d in doc["deployments"]} == {"created"}
    code, out, _ = run(
        capsys,
        "plan",
        "--project-dir",
        str(repo),
        "--image",
        "registry.test/flows:abc",
        "--format",
        "json",
    )
    assert set(actions(json.loads(out)).values()) == {"unchanged"}


def test_one_failing_deployment_does_not_stop_the_others(
    api: RecordingProxy,
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Everything the server would refuse is refused before the first write (exit 2), so a
    # failure mid-apply comes from the server side: its first create answers 500, and no
    # retry mends that.
    rule = Rule({"500": 1.0}, match=endpoint("POST", "/deployments/"), limit=1)
    with FaultProxy(api.api_url, [rule]) as faulty:
        monkeypatch.setenv("PREFECT_API_URL", faulty.api_url)
        code, out, err = run(
            capsys, "apply", "--project-dir", str(repo), "--all", "--format", "json"
        )
    assert code == 1, out + err
    doc = json.loads(out)
    status = {d["name"]: d["status"] for d in doc["deployments"]}
    first = doc["deployments"][0]["name"]
    assert status.pop(first) == "failed"
    assert set(status.values()) == {"created"}
    # A re-run finishes the job and touches nothing else.
    monkeypatch.setenv("PREFECT_API_URL", api.api_url)
    doc = plan_json(capsys, repo)
    assert actions(doc)[first] == "create"
    assert sorted(set(actions(doc).values())) == ["create", "unchanged"]
    assert run(capsys, "apply", "--project-dir", str(repo), "--all")[0] == 0
    assert set(actions(plan_json(capsys, repo)).values()) == {"unchanged"}


def test_block_values_never_appear_in_output(
    api: RecordingProxy,
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from support.server import create_block

    create_block(api.api_url, "secret", "warehouse-token", {"value": "s3cr3t-token-value"})
    text = (
        (repo / "prefect.yaml")
        .read_text()
        .replace("source: customers", "source: '{{ prefect.blocks.secret.warehouse-token }}'")
    )
    (repo / "prefect.yaml").write_text(text)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    for fmt in ("json", "markdown", "text"):
        code, out, err = run(capsys, "apply", "--project-dir", str(repo), "--format", fmt)
        assert code == 0, out + err
        masks = err.splitlines()
        assert masks[0] == "::add-mask::s3cr3t-token-value"
        assert "s3cr3t-token-value" not in out + "\n".join(masks[1:])
    (repo / "prefect.yaml").write_text(text.replace("warehouse-token }}", "warehouse-token }}x"))
    code, out, _ = run(capsys, "plan", "--project-dir", str(repo), "--format", "json")
    assert code == 0
    doc = json.loads(out)
    change = next(d for d in doc["deployments"] if d["action"] == "update")
    # Neither side of a secret-bearing change is shown, not even masked.
    assert change["changes"]["parameters"]["from"] == {"source": "(secret changed)"}
    assert change["changes"]["parameters"]["to"] == {"source": "(secret changed)"}


def test_emptied_schedules_are_cleared_and_then_unchanged(
    api: RecordingProxy, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "apply", "--project-dir", str(repo))[0] == 0
    text = (repo / "prefect.yaml").read_text()
    (repo / "prefect.yaml").write_text(
        text.replace("    schedules:\n      - *nightly\n", "    schedules: []\n", 1)
    )
    doc = plan_json(capsys, repo)
    assert actions(doc)["etl/orders-nightly"] == "update"
    assert run(capsys, "apply", "--project-dir", str(repo))[0] == 0
    stored = {d["name"]: d for d in api_deployments(api.api_url)}
    assert stored["orders-nightly"]["schedules"] == []
    assert set(actions(plan_json(capsys, repo)).values()) == {"unchanged"}
