import json

from flowdeploy.pipeline import Outcome, Results, Status
from flowdeploy.plan import Action, FieldChange, Plan, PlannedDeployment
from flowdeploy.report import next_steps, render_json, render_markdown, render_plan_text

PLAN = Plan(
    items=(
        PlannedDeployment(name="etl/a", action=Action.CREATE),
        PlannedDeployment(
            name="etl/b",
            action=Action.UPDATE,
            changes={"parameters": FieldChange(old={"n": 1}, new={"n": 2})},
        ),
        PlannedDeployment(name="etl/c", action=Action.UNCHANGED),
        PlannedDeployment(name="etl/d", action=Action.ORPHANED, reasons=("gone from the file",)),
    )
)


def test_json_document_shape() -> None:
    doc = json.loads(render_json(PLAN))
    assert doc["deployments"][1] == {
        "name": "etl/b",
        "action": "update",
        "changes": {"parameters": {"from": {"n": 1}, "to": {"n": 2}}},
        "reasons": [],
    }
    assert doc["summary"] == {"create": 1, "update": 1, "unchanged": 1, "orphaned": 1}


def test_text_and_markdown_show_the_diff() -> None:
    text = render_plan_text(PLAN)
    assert 'parameters: {"n": 1} → {"n": 2}' in text
    assert "1 create, 1 update, 1 unchanged, 1 orphaned" in text
    md = render_markdown(PLAN)
    assert "| `etl/d` | orphaned | gone from the file |" in md


def test_failed_status_and_detail_in_markdown() -> None:
    results = Results(outcomes=(Outcome(name="etl/a", status=Status.FAILED, detail="a | b"),))
    md = render_markdown(PLAN, results)
    assert "| `etl/a` | failed | a \\| b |" in md


def test_next_steps_skip_push_pools_and_link_the_ui() -> None:
    outcomes = [
        Outcome(name="etl/a", status=Status.CREATED, deployment_id="42", work_pool_name="proc"),
        Outcome(name="etl/b", status=Status.CREATED, work_pool_name="cloud-run"),
    ]
    text = next_steps(outcomes, "http://ui", frozenset({"cloud-run"}))
    assert "prefect worker start --pool 'proc'" in text
    assert "cloud-run" not in text
    assert "prefect deployment run 'etl/a'" in text
    assert "http://ui/deployments/deployment/42" in text
    assert next_steps([Outcome(name="x/y", status=Status.FAILED)], None, frozenset()) == ""
