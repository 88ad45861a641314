"""``triggers:`` of a deployment: automations the deployment owns.

Step outputs are resolved in each trigger but its ``parameters``, which may hold event
templates (``{{ event.name }}``) for the automation to fill; unnamed triggers get Prefect's
``<deployment>__automation_<n>``. Prefect's trigger models ignore keys they do not know
(``BaseDeploymentTrigger`` and ``Trigger``: ``extra="ignore"``), so an unknown key is a
warning and is dropped here: the server would not store it, and every plan would then see a
change. The fields are checked against the server's models later (``flowdeploy.validation``).
"""

from __future__ import annotations

from typing import Any

from flowdeploy import templating as tpl
from flowdeploy.prefectyaml.context import Context
from flowdeploy.prefectyaml.keys import Section, check_keys
from flowdeploy.runner import name_triggers

# The fields of prefect.events.schemas.automations.{Event,Metric,Compound,Sequence}Trigger.
_FIELDS = {
    "event": (
        "type",
        "match",
        "match_related",
        "after",
        "expect",
        "for_each",
        "posture",
        "threshold",
        "within",
    ),
    "metric": ("type", "match", "match_related", "metric", "posture"),
    "compound": ("type", "triggers", "require", "within"),
    "sequence": ("type", "triggers", "within"),
}
# ... and what BaseDeploymentTrigger adds to each (the automation and its action).
_DEPLOYMENT_FIELDS = (
    "name",
    "description",
    "enabled",
    "parameters",
    "job_variables",
    "schedule_after",
)
TYPES = tuple(_FIELDS)


def deployment_triggers(
    ctx: Context, value: Any, name: str, outputs: dict[str, Any], *at: str | int
) -> list[dict[str, Any]]:
    if not value:
        return []
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        ctx.error(
            "'triggers' must be a list of mappings",
            *at,
            "triggers",
            fix="write each trigger as a '- type: event' item with its fields indented below "
            "(expect: [...], match: {...})",
        )
        return []
    rendered = []
    for i, spec in enumerate(value):
        params = spec.get("parameters")
        rest = {k: v for k, v in spec.items() if k != "parameters"}
        rest = tpl.render(
            rest,
            frozenset({tpl.Kind.STEP}),
            tpl.mapping_resolver(outputs),
            path=(*at, "triggers", i),
            keep_missing=True,
        )
        if params is not None:
            rest["parameters"] = params
        kind = rest.get("type", "event")
        if kind not in TYPES:
            ctx.error(
                f"trigger #{i + 1} has unknown type {kind!r}",
                *at,
                "triggers",
                i,
                "type",
                fix=f"use one of {', '.join(TYPES)}",
            )
        else:
            rest = _known(ctx, rest, *at, "triggers", i, nested=False)
        rendered.append(rest)
    return name_triggers(name, rendered)


def known_fields(kind: str, *, deployment: bool) -> tuple[str, ...]:
    """The keys a trigger of ``kind`` takes: a deployment's, or one nested in another."""
    return (_DEPLOYMENT_FIELDS if deployment else ()) + _FIELDS[kind]


def _known(ctx: Context, trigger: dict[str, Any], *path: str | int, nested: bool) -> dict[str, Any]:
    """``trigger`` without the keys its type does not take (each reported), nested
    triggers of a compound or sequence trigger included."""
    kind = trigger.get("type", "event")
    if kind not in _FIELDS:
        return trigger  # the server's models name the problem (flowdeploy.validation)
    known = known_fields(kind, deployment=not nested)
    check_keys(ctx, trigger, Section(f"{kind} trigger", known), *path)
    kept = {k: v for k, v in trigger.items() if k in known}
    inner = kept.get("triggers")
    if kind in ("compound", "sequence") and isinstance(inner, list):
        kept["triggers"] = [
            _known(ctx, t, *path, "triggers", j, nested=True) if isinstance(t, dict) else t
            for j, t in enumerate(inner)
        ]
    return kept
