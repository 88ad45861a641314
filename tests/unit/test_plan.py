from pathlib import Path
from typing import Any

from flowdeploy import schedules as sched
from flowdeploy.errors import Location
from flowdeploy.plan import Action, make_plan
from flowdeploy.project import DeploymentSpec
from flowdeploy.runner import Deployment


def spec(**fields: Any) -> DeploymentSpec:
    base: dict[str, Any] = {
        "name": "daily",
        "flow_name": "etl",
        "entrypoint": "f.py:etl",
        "work_pool_name": "pool",
        "version": "v1",
        "pull_steps": [{"step": {"directory": "/x"}}],
    }
    base.update(fields)
    return DeploymentSpec(
        deployment=Deployment(**base),
        where=Location("prefect.yaml", 3),
        flow_file=Path("f.py"),
    )


def stored(dep: Deployment, **overrides: Any) -> dict[str, Any]:
    """What a Prefect server returns for ``dep`` after creating it."""
    body = dep.create_body("flow-1")
    server = {
        **body,
        "id": "dep-1",
        "flow_id": "flow-1",
        "global_concurrency_limit": None,
        "concurrency_limit": None,
        "work_queue_name": body["work_queue_name"] or "default",
        "schedules": [{**s, "id": "s1", "deployment_id": "dep-1"} for s in body["schedules"]],
    }
    server.update(overrides)
    return server


def test_new_deployment_is_create() -> None:
    plan = make_plan([spec()], [], {}, [])
    assert [(i.name, i.action) for i in plan.items] == [("etl/daily", Action.CREATE)]


def test_same_state_is_unchanged() -> None:
    s = spec(
        schedules=[
            sched.build_schedule({"interval": 60}),
            sched.build_schedule({"rrule": "FREQ=DAILY"}),
        ],
        tags=["a"],
        parameters={"n": 1},
    )
    current = stored(s.deployment)
    current["schedules"][1]["schedule"]["rrule"] = "DTSTART:20200101T000000\nFREQ=DAILY"
    plan = make_plan([s], [current], {"flow-1": "etl"}, [])
    assert plan.items[0].action is Action.UNCHANGED, plan.items[0].changes


def test_parameter_edit_is_one_update_with_old_and_new() -> None:
    old = spec(parameters={"n": 1})
    new = spec(parameters={"n": 2})
    plan = make_plan([new], [stored(old.deployment)], {"flow-1": "etl"}, [])
    item = plan.items[0]
    assert item.action is Action.UPDATE
    assert {k: (c.old, c.new) for k, c in item.changes.items()} == {
        "parameters": ({"n": 1}, {"n": 2})
    }


def test_orphan_only_for_project_flows() -> None:
    current = [
        stored(spec(name="gone").deployment, id="d2"),
        stored(spec(name="other", flow_name="x").deployment, id="d3", flow_id="flow-2"),
    ]
    plan = make_plan(
        [spec()], current, {"flow-1": "etl", "flow-2": "x"}, [], project_flows=frozenset({"etl"})
    )
    assert [(i.name, i.action) for i in plan.items] == [
        ("etl/daily", Action.CREATE),
        ("etl/gone", Action.ORPHANED),
    ]


def test_unspecified_schedules_are_left_alone() -> None:
    s = spec(schedules=None)
    current = stored(spec(schedules=[sched.build_schedule({"cron": "0 1 * * *"})]).deployment)
    assert make_plan([s], [current], {"flow-1": "etl"}, []).items[0].action is Action.UNCHANGED


def test_trigger_change_is_detected() -> None:
    trigger = {"name": "daily__automation_1", "type": "event", "expect": ["x.happened"]}
    s = spec(triggers=[trigger])
    from flowdeploy.runner import automation_body

    automation = automation_body(trigger, "dep-1")
    same = make_plan([s], [stored(s.deployment)], {"flow-1": "etl"}, [automation])
    assert same.items[0].action is Action.UNCHANGED, same.items[0].changes
    changed = {**automation, "enabled": False}
    plan = make_plan([s], [stored(s.deployment)], {"flow-1": "etl"}, [changed])
    assert list(plan.items[0].changes) == ["triggers"]


def test_parameters_are_kept_as_prefect_sends_them() -> None:
    """A YAML date is its ISO text (Prefect dumps parameters in JSON mode), so the body is
    JSON and the server's copy compares equal."""
    import datetime
    import json

    dep = Deployment(
        name="x",
        flow_name="f",
        parameters={"day": datetime.date(2024, 1, 2), "at": datetime.datetime(2024, 1, 2, 3, 4)},
    )
    assert dep.parameters == {"day": "2024-01-02", "at": "2024-01-02T03:04:00"}
    json.dumps(dep.create_body("flow-id"))


def test_compound_and_sequence_triggers_send_within_null_when_not_given() -> None:
    from flowdeploy.runner import automation_body

    for kind in ("compound", "sequence"):
        spec = {"type": kind, "triggers": [{"expect": ["a"]}], "require": "any"}
        if kind == "sequence":
            spec.pop("require")
        body = automation_body(spec, "dep-id")
        assert body["trigger"]["within"] is None
        assert body["trigger"]["triggers"][0]["posture"] == "Reactive"


def test_trigger_set_fields_compare_in_any_order_at_any_depth() -> None:
    from flowdeploy.runner import automation_body

    inner = {"type": "event", "expect": ["b", "a", "a"], "after": ["y", "x"]}
    trigger = {
        "name": "daily__automation_1",
        "type": "compound",
        "require": "all",
        "triggers": [inner],
    }
    s = spec(triggers=[trigger])
    automation = automation_body(trigger, "dep-1")
    served = automation["trigger"]["triggers"][0]
    served.update(expect=["a", "b"], after=["x", "y"])
    plan = make_plan([s], [stored(s.deployment)], {"flow-1": "etl"}, [automation])
    assert plan.items[0].action is Action.UNCHANGED, plan.items[0].changes

    served["expect"] = ["a", "c"]
    plan = make_plan([s], [stored(s.deployment)], {"flow-1": "etl"}, [automation])
    assert list(plan.items[0].changes) == ["triggers"]


def test_a_derived_version_alone_causes_no_write() -> None:
    derived = spec(version="abc12345").model_copy(update={"version_derived": True})
    current = stored(derived.deployment, version="0ld0ld00")
    plan = make_plan([derived], [current], {"flow-1": "etl"}, [])
    assert plan.items[0].action is Action.UNCHANGED

    # With a real change, the version is written along with it.
    current = stored(derived.deployment, version="0ld0ld00", tags=["old"])
    plan = make_plan([derived], [current], {"flow-1": "etl"}, [])
    assert set(plan.items[0].changes) == {"tags", "version"}

    explicit = spec(version="1.1")
    plan = make_plan(
        [explicit], [stored(explicit.deployment, version="1.0")], {"flow-1": "etl"}, []
    )
    assert list(plan.items[0].changes) == ["version"]


def test_problems_mark_the_planned_deployment() -> None:
    plan = make_plan([spec(), spec(name="other")], [], {}, [])
    marked = plan.with_problems({"etl/other": ("work pool 'pool' does not exist",)})
    assert [i.problems for i in marked.items] == [(), ("work pool 'pool' does not exist",)]
