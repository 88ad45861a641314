"""Snapshot tests for the job summary and the PR comment (pure renderers).

The expected Markdown lives in tests/unit/snapshots/; after an intended change, regenerate it
with `UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/unit/test_summary.py` and review
the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flowdeploy import github
from flowdeploy.errors import ConfigError, ConfigWarning, Location
from flowdeploy.image import ImageSpec
from flowdeploy.pipeline import ImageJob, Outcome, Results, Status
from flowdeploy.plan import Action, FieldChange, Plan, PlannedDeployment
from flowdeploy.project import DeploymentSpec
from flowdeploy.run import RunResult
from flowdeploy.runner import Deployment
from flowdeploy.settings import Settings
from flowdeploy.summary import COMMENT_MARKER, SummaryContext, job_summary, pr_comment

SNAPSHOTS = Path(__file__).parent / "snapshots"
SHA = "5d6e7f8a9b0c1d2e3f405162738495a6b7c8d9e0"
CONTEXT = SummaryContext(
    event_name="pull_request",
    sha=SHA,
    repository="org/flows",
    run_id="4242",
    pr_number=7,
)
CRON = {
    "schedule": {"cron": "0 2 * * *", "timezone": "Europe/Berlin", "day_or": True},
    "active": True,
}
BIG_VARS = {f"VAR_{i:02d}": f"value-{i}" for i in range(40)}


def spec(name: str, flow: str = "etl", **fields: object) -> DeploymentSpec:
    dep = Deployment(name=name, flow_name=flow, entrypoint=f"flows/{flow}.py:{flow}", **fields)
    return DeploymentSpec(deployment=dep, where=Location("prefect.yaml", 3))


def plan() -> Plan:
    nightly = spec("nightly", schedules=[CRON], work_pool_name="docker-pool")
    hourly = spec(
        "hourly",
        schedules=[{"schedule": {"interval": 3600.0, "timezone": "UTC"}, "active": True}],
        work_pool_name="docker-pool",
        job_variables={"env": {**BIG_VARS, "VAR_07": "changed"}},
    )
    return Plan(
        items=(
            PlannedDeployment(
                name="etl/nightly",
                action=Action.CREATE,
                spec=nightly,
                reasons=("flows/etl.py changed",),
            ),
            PlannedDeployment(
                name="etl/hourly",
                action=Action.UPDATE,
                spec=hourly,
                deployment_id="2b7c-hourly",
                reasons=("lib/db.py changed (imported by flows/etl.py)",),
                changes={
                    "job_variables": FieldChange(
                        old={"env": BIG_VARS}, new={"env": {**BIG_VARS, "VAR_07": "changed"}}
                    ),
                    "parameters": FieldChange(old={"source": "orders"}, new={"source": "a|b"}),
                },
            ),
            PlannedDeployment(
                name="etl/weekly",
                action=Action.UNCHANGED,
                spec=spec("weekly", work_pool_name="process-pool"),
                deployment_id="9f00-weekly",
            ),
            PlannedDeployment(
                name="old/gone",
                action=Action.ORPHANED,
                deployment_id="dead-beef",
                reasons=("removed from prefect.yaml",),
            ),
        )
    )


def settings() -> Settings:
    return Settings(prefect_files=(Path("prefect.yaml"),), api_url="http://127.0.0.1:4200/api")


def image(exists: bool | None, digest: str | None = None) -> ImageJob:
    build = ImageSpec(name="ghcr.io/org/flows", tag=SHA, context=Path("."))
    return ImageJob(
        reference=f"ghcr.io/org/flows:{SHA}", spec=build, used=True, exists=exists, digest=digest
    )


def check(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no snapshot {path}: run with UPDATE_SNAPSHOTS=1"
    assert text == path.read_text(encoding="utf-8")


def test_plan_summary_snapshot() -> None:
    result = RunResult(
        command="plan",
        settings=settings(),
        plan=plan(),
        images=(image(exists=False),),
        warnings=(ConfigWarning("Prefect ignores 'shedules'", Location("prefect.yaml", 9)),),
    )
    text = job_summary(result, CONTEXT)
    check("plan_summary.md", text)
    # Only the key that changed in a 40-key value is shown, not the value cut off.
    assert "job_variables.env.VAR_07" in text and "VAR_08" not in text
    assert "every day at 02:00 Europe/Berlin" in text
    assert "http://127.0.0.1:4200/deployments/deployment/2b7c-hourly" in text
    assert "a&#124;b" in text  # a pipe cannot break the table


def test_apply_summary_snapshot() -> None:
    results = Results(
        outcomes=(
            Outcome(
                name="etl/nightly",
                status=Status.CREATED,
                deployment_id="1a2b-nightly",
                work_pool_name="docker-pool",
            ),
            Outcome(name="etl/hourly", status=Status.FAILED, detail="Invalid job variables"),
            Outcome(name="etl/weekly", status=Status.UNCHANGED, deployment_id="9f00-weekly"),
            Outcome(name="old/gone", status=Status.ORPHANED, deployment_id="dead-beef"),
        )
    )
    push = CONTEXT.model_copy(update={"event_name": "push", "pr_number": None})
    result = RunResult(
        command="apply",
        settings=settings(),
        plan=plan(),
        images=(image(exists=True, digest="sha256:abc123"),),
        results=results,
    )
    text = job_summary(result, push)
    check("apply_summary.md", text)
    assert "built and pushed (sha256:abc123)" in text
    assert "Invalid job variables" in text and "Re-run the job" in text


def test_error_summary_lists_what_why_fix_and_where() -> None:
    error = ConfigError(
        "unknown key 'shedules'",
        why="Prefect would ignore it",
        fix="did you mean 'schedules'?",
        where=Location("prefect.yaml", 12),
    )
    text = job_summary(RunResult(command="apply", errors=(error,)), CONTEXT)
    check("error_summary.md", text)
    assert "prefect.yaml:12" in text and "fix: did you mean" in text


def test_comment_snapshot_has_the_marker_and_a_link_to_the_run() -> None:
    result = RunResult(command="plan", settings=settings(), plan=plan())
    text = pr_comment(result, CONTEXT)
    check("pr_comment.md", text)
    assert text.startswith(COMMENT_MARKER)
    assert "https://github.com/org/flows/actions/runs/4242" in text


@pytest.mark.parametrize("count", [5_000])
def test_a_huge_plan_fits_the_comment_limit(count: int) -> None:
    items = tuple(
        PlannedDeployment(
            name=f"etl/deployment-{i:05d}",
            action=Action.CREATE,
            spec=spec(f"deployment-{i:05d}", schedules=[CRON], work_pool_name="docker-pool"),
            reasons=(f"flows/etl_{i}.py changed",),
        )
        for i in range(count)
    )
    result = RunResult(command="plan", settings=settings(), plan=Plan(items=items))
    text = pr_comment(result, CONTEXT)
    assert len(text) <= github.COMMENT_LIMIT
    assert text.startswith(COMMENT_MARKER)
    assert "truncated" in text and "actions/runs/4242" in text.split("truncated", 1)[1]
    # The summary has room for all of them.
    assert "deployment-04999" in job_summary(result, CONTEXT)


# -- links only to a UI that exists; next steps only after a change ---------------------------


def test_no_link_column_when_the_server_has_no_ui() -> None:
    result = RunResult(command="plan", settings=settings(), plan=plan(), ui_served=False)
    text = job_summary(result, CONTEXT)
    assert "deployments/deployment" not in text
    assert "| Deployment | Action | Why | Schedule | Work pool |\n" in text
    # The same table as with a UI, less the last column.
    with_ui = job_summary(result.model_copy(update={"ui_served": True}), CONTEXT)
    assert "| Work pool | Prefect |" in with_ui


def test_next_steps_only_for_what_changed() -> None:
    unchanged = Results(
        outcomes=(
            Outcome(
                name="etl/weekly",
                status=Status.UNCHANGED,
                deployment_id="9f00-weekly",
                work_pool_name="process-pool",
            ),
        )
    )
    weekly = Plan(items=(plan().items[2],))
    push = CONTEXT.model_copy(update={"event_name": "push", "pr_number": None})
    result = RunResult(command="apply", settings=settings(), plan=weekly, results=unchanged)
    text = job_summary(result, push)
    assert "Next steps" not in text and "prefect worker start" not in text
    created = Results(
        outcomes=(
            *unchanged.outcomes,
            Outcome(
                name="etl/nightly",
                status=Status.CREATED,
                deployment_id="1a2b",
                work_pool_name="docker-pool",
            ),
        )
    )
    result = result.model_copy(update={"results": created, "ui_served": False})
    text = job_summary(result, push)
    assert "prefect worker start --pool 'docker-pool'" in text
    assert "process-pool'" not in text.split("Next steps", 1)[1]
    assert "View it in the UI" not in text


def test_the_header_says_what_was_selected_and_why_nothing_is_planned() -> None:
    from flowdeploy.scope import Scope

    names = settings().model_copy(update={"names": ("etl/*",)})
    result = RunResult(
        command="plan", settings=names, scope=Scope(projects=()), plan=Plan(items=())
    )
    text = job_summary(result, CONTEXT)
    assert "_deployments matching etl/*_" in text
    assert "Nothing to do: no deployment matches etl/*." in text
