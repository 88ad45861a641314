"""Desired deployments vs. what the server has -> a Plan (pure).

Both sides are reduced to the same view of the fields a deployment is made of, so an
``unchanged`` deployment causes no write at all on ``apply``.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from flowdeploy import schedules as sched
from flowdeploy.project import DeploymentSpec
from flowdeploy.runner import Deployment, automation_body

COMPARED = (
    "description",
    "version",
    "tags",
    "parameters",
    "parameter_openapi_schema",
    "entrypoint",
    "path",
    "pull_steps",
    "work_pool_name",
    "work_queue_name",
    "job_variables",
    "enforce_parameter_schema",
    "concurrency_limit",
    "concurrency_options",
    "paused",
    "schedules",
    "triggers",
)
_VOLATILE = frozenset({"id", "created", "updated", "deployment_id"})


class Action(str, enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    ORPHANED = "orphaned"


class FieldChange(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    old: Any = None
    new: Any = None


class PlannedDeployment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    name: str
    action: Action
    changes: dict[str, FieldChange] = {}
    reasons: tuple[str, ...] = ()
    deployment_id: str | None = None
    spec: DeploymentSpec | None = None
    current_triggers: int = 0
    problems: tuple[str, ...] = ()
    """What the server would refuse about it (nothing is written while there are any)."""


class Plan(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    items: tuple[PlannedDeployment, ...]

    def by_action(self, action: Action) -> list[PlannedDeployment]:
        return [i for i in self.items if i.action is action]

    def with_problems(self, problems: Mapping[str, tuple[str, ...]]) -> Plan:
        items = tuple(
            i.model_copy(update={"problems": problems[i.name]}) if problems.get(i.name) else i
            for i in self.items
        )
        return Plan(items=items)

    @property
    def writes(self) -> list[PlannedDeployment]:
        return [i for i in self.items if i.action in (Action.CREATE, Action.UPDATE)]


def desired_view(dep: Deployment) -> dict[str, Any]:
    pooled = bool(dep.work_pool_name)
    options = dep.concurrency_options
    return {
        "description": dep.description,
        "version": dep.version,
        "tags": list(dep.tags),
        "parameters": dep.parameters,
        "parameter_openapi_schema": dep.parameter_openapi_schema,
        "entrypoint": dep.entrypoint,
        # As in create_body: pull steps replace the path on a pooled deployment.
        "path": None if pooled and dep.pull_steps is not None else dep.path,
        "pull_steps": (dep.pull_steps or []) if pooled else None,
        "work_pool_name": dep.work_pool_name,
        "work_queue_name": dep.work_queue_name or ("default" if pooled else None),
        "job_variables": dep.job_variables if pooled else {},
        "enforce_parameter_schema": dep.enforce_parameter_schema,
        "concurrency_limit": dep.concurrency_limit,
        "concurrency_options": _options(options) if dep.concurrency_limit is not None else None,
        "paused": dep.paused,
        "schedules": dep.schedules,
        "triggers": [_automation_view(automation_body(t, "")) for t in dep.triggers],
    }


def current_view(
    server: Mapping[str, Any], automations: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    gcl = server.get("global_concurrency_limit") or {}
    limit = gcl.get("limit") if gcl else server.get("concurrency_limit")
    return {
        "description": server.get("description"),
        "version": server.get("version"),
        "tags": list(server.get("tags") or []),
        "parameters": server.get("parameters") or {},
        "parameter_openapi_schema": server.get("parameter_openapi_schema"),
        "entrypoint": server.get("entrypoint"),
        "path": server.get("path"),
        "pull_steps": server.get("pull_steps"),
        "work_pool_name": server.get("work_pool_name"),
        "work_queue_name": server.get("work_queue_name"),
        "job_variables": server.get("job_variables") or {},
        "enforce_parameter_schema": server.get("enforce_parameter_schema"),
        "concurrency_limit": limit,
        "concurrency_options": (
            _options(server.get("concurrency_options")) if limit is not None else None
        ),
        "paused": server.get("paused"),
        "schedules": [_strip(s) for s in server.get("schedules") or []],
        "triggers": sorted((_automation_view(a) for a in automations), key=repr),
    }


def diff(desired: dict[str, Any], current: dict[str, Any]) -> dict[str, FieldChange]:
    changes: dict[str, FieldChange] = {}
    for field in COMPARED:
        want, have = desired[field], current[field]
        if field == "paused" and want is None:
            continue
        if field == "schedules":
            if want is None or sched.same_schedules(want, have):
                continue
        elif field == "triggers":
            if sorted(want, key=repr) == have:
                continue
        elif want == have:
            continue
        changes[field] = FieldChange(old=have, new=want)
    return changes


def make_plan(
    specs: Iterable[DeploymentSpec],
    current: Iterable[Mapping[str, Any]],
    flow_names: Mapping[str, str],
    automations: Iterable[Mapping[str, Any]],
    *,
    project_flows: frozenset[str] | None = None,
    reasons: Mapping[str, tuple[str, ...]] | None = None,
    removed: Mapping[str, str] | None = None,
) -> Plan:
    """Compare each desired deployment with the server's; add orphans when asked.

    ``flow_names`` maps flow ids to names. ``project_flows``, when given, names the flows
    of the whole project: a server deployment of one of them that the project no longer
    defines is ``orphaned``. ``removed`` maps full names of deployments taken out of
    prefect.yaml to why: those the server still has are ``orphaned`` too.
    """
    by_name: dict[str, Mapping[str, Any]] = {}
    for server_dep in current:
        flow = flow_names.get(str(server_dep.get("flow_id")))
        if flow:
            by_name[f"{flow}/{server_dep['name']}"] = server_dep
    owned: dict[str, list[Mapping[str, Any]]] = {}
    for automation in automations:
        for action in automation.get("actions") or []:
            if action.get("type") == "run-deployment" and action.get("deployment_id"):
                owned.setdefault(str(action["deployment_id"]), []).append(automation)
                break
    items: list[PlannedDeployment] = []
    wanted: set[str] = set()
    for spec in specs:
        dep = spec.deployment
        full = dep.full_name
        wanted.add(full)
        why = (reasons or {}).get(full, ())
        existing = by_name.get(full)
        if existing is None:
            items.append(PlannedDeployment(name=full, action=Action.CREATE, spec=spec, reasons=why))
            continue
        dep_id = str(existing["id"])
        mine = owned.get(dep_id, [])
        changes = _real(diff(desired_view(dep), current_view(existing, mine)), spec)
        items.append(
            PlannedDeployment(
                name=full,
                action=Action.UPDATE if changes else Action.UNCHANGED,
                changes=changes,
                reasons=why,
                deployment_id=dep_id,
                spec=spec,
                current_triggers=len(mine),
            )
        )
    orphans: dict[str, str] = {}
    if project_flows is not None:
        for full in by_name:
            if full.split("/", 1)[0] in project_flows:
                orphans[full] = "in the server, no longer in prefect.yaml"
    for full, reason in (removed or {}).items():
        if full in by_name:
            orphans[full] = reason
    for full, reason in sorted(orphans.items()):
        if full not in wanted:
            items.append(
                PlannedDeployment(
                    name=full,
                    action=Action.ORPHANED,
                    deployment_id=str(by_name[full]["id"]),
                    reasons=(reason,),
                )
            )
    return Plan(items=tuple(items))


def compare_specs(
    specs: Iterable[DeploymentSpec],
    base: Iterable[DeploymentSpec],
    *,
    reasons: Mapping[str, tuple[str, ...]] | None = None,
    removed: Mapping[str, str] | None = None,
) -> Plan:
    """A plan without a server: the deployments at the head against those at the base
    commit, as both would be registered. What the server holds is not known, so a
    deployment that never reached it shows as unchanged when its entry did not change."""
    before = {s.deployment.full_name: s for s in base}
    items: list[PlannedDeployment] = []
    for spec in specs:
        full = spec.deployment.full_name
        why = (reasons or {}).get(full, ())
        old = before.get(full)
        if old is None:
            items.append(PlannedDeployment(name=full, action=Action.CREATE, spec=spec, reasons=why))
            continue
        have = desired_view(old.deployment)
        have["triggers"] = sorted(have["triggers"], key=repr)
        changes = _real(diff(desired_view(spec.deployment), have), spec)
        action = Action.UPDATE if changes else Action.UNCHANGED
        items.append(
            PlannedDeployment(name=full, action=action, changes=changes, reasons=why, spec=spec)
        )
    for full, reason in sorted((removed or {}).items()):
        items.append(PlannedDeployment(name=full, action=Action.ORPHANED, reasons=(reason,)))
    return Plan(items=tuple(items))


def _real(changes: dict[str, FieldChange], spec: DeploymentSpec) -> dict[str, FieldChange]:
    """A version that follows the commit (or the flow file's hash) differs on every commit;
    alone it is no reason to write, so the server keeps the version of the last real change."""
    if spec.version_derived and set(changes) == {"version"}:
        return {}
    return changes


def _options(options: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not options:
        return None
    return {
        "collision_strategy": options.get("collision_strategy") or "ENQUEUE",
        "grace_period_seconds": options.get("grace_period_seconds"),
    }


def _strip(value: Any) -> Any:
    """Drop server bookkeeping (ids, timestamps) at any depth."""
    if isinstance(value, Mapping):
        return {k: _strip(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _automation_view(automation: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("name", "description", "enabled", "trigger", "actions")
    view: dict[str, Any] = _strip({k: automation.get(k) for k in keys})
    view["trigger"] = _trigger_sets(view["trigger"])
    return view


# Event triggers declare these as sets: the server answers them deduplicated and in its own
# order, so a list in another order in prefect.yaml is the same trigger.
_SET_FIELDS = frozenset({"expect", "after", "for_each"})


def _trigger_sets(trigger: Any) -> Any:
    if isinstance(trigger, list):
        return [_trigger_sets(t) for t in trigger]
    if not isinstance(trigger, dict):
        return trigger
    view = {}
    for key, value in trigger.items():
        if key == "triggers":
            value = _trigger_sets(value)
        elif key in _SET_FIELDS and isinstance(value, list):
            value = sorted({json.dumps(v, sort_keys=True): v for v in value}.values(), key=str)
        view[key] = value
    return view
