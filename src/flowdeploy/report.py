"""Plan / Results -> text, JSON and Markdown (pure: every function returns a string)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from io import StringIO
from typing import Any

from rich.console import Console
from rich.table import Table

from flowdeploy.deploy import Outcome, Results, Status
from flowdeploy.errors import ConfigWarning
from flowdeploy.plan import Action, Plan, PlannedDeployment

STYLE = {
    "create": "green",
    "update": "yellow",
    "unchanged": "dim",
    "orphaned": "magenta",
    "deleted": "magenta",
    "created": "green",
    "updated": "yellow",
    "failed": "bold red",
}


def plan_document(
    plan: Plan,
    results: Results | None = None,
    warnings: Sequence[ConfigWarning | str] = (),
    scope: dict[str, Any] | None = None,
) -> dict[str, Any]:
    status = {o.name: o for o in results.outcomes} if results else {}
    deployments = []
    for item in plan.items:
        entry: dict[str, Any] = {
            "name": item.name,
            "action": item.action.value,
            "changes": {k: {"from": c.old, "to": c.new} for k, c in item.changes.items()},
            "reasons": list(item.reasons),
        }
        if item.name in status:
            outcome = status[item.name]
            entry["status"] = outcome.status.value
            entry["detail"] = outcome.detail
            entry["deployment_id"] = outcome.deployment_id
        deployments.append(entry)
    counts = {a.value: len(plan.by_action(a)) for a in Action}
    doc: dict[str, Any] = {
        "scope": scope or {"note": "every deployment"},
        "deployments": deployments,
        "summary": counts,
        "warnings": [str(w) for w in warnings],
    }
    if results:
        doc["failed"] = len(results.failed)
    return doc


def render_json(
    plan: Plan,
    results: Results | None = None,
    warnings: Sequence[ConfigWarning | str] = (),
    scope: dict[str, Any] | None = None,
) -> str:
    return json.dumps(
        plan_document(plan, results, warnings, scope), indent=2, sort_keys=False, default=str
    )


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def change_lines(item: PlannedDeployment) -> list[str]:
    return [f"{field}: {_short(c.old)} → {_short(c.new)}" for field, c in item.changes.items()]


def _console(width: int = 120) -> tuple[Console, StringIO]:
    buffer = StringIO()
    return Console(
        file=buffer, width=width, force_terminal=False, no_color=True, highlight=False
    ), buffer


def details(item: PlannedDeployment) -> list[str]:
    """Why the deployment is in the plan, then what changes."""
    return [*item.reasons, *change_lines(item)]


def render_plan_text(plan: Plan, note: str = "") -> str:
    console, buffer = _console()
    table = Table(title="flowdeploy plan", caption=note or None, show_lines=False)
    table.add_column("Name", no_wrap=True)
    table.add_column("Action")
    table.add_column("Details")
    for item in plan.items:
        table.add_row(item.name, item.action.value, "\n".join(details(item)))
    console.print(table)
    counts = ", ".join(f"{len(plan.by_action(a))} {a.value}" for a in Action)
    console.print(f"Plan: {counts}.")
    return buffer.getvalue()


def render_results_text(
    results: Results, ui_url: str | None = None, push_pools: frozenset[str] = frozenset()
) -> str:
    console, buffer = _console()
    table = Table(title="Deployments")
    table.add_column("Name", no_wrap=True)
    table.add_column("Status")
    table.add_column("Details")
    for o in results.outcomes:
        table.add_row(o.name, o.status.value, o.detail)
    console.print(table)
    console.print(next_steps(results.outcomes, ui_url, push_pools))
    return buffer.getvalue()


def next_steps(outcomes: Sequence[Outcome], ui_url: str | None, push_pools: frozenset[str]) -> str:
    """What the reference prints after deploying: start a worker, run a deployment."""
    ok = [
        o
        for o in outcomes
        if o.status in (Status.CREATED, Status.UPDATED, Status.UNCHANGED, Status.APPLIED)
    ]
    if not ok:
        return ""
    lines = []
    pools = sorted({o.work_pool_name for o in ok if o.work_pool_name} - push_pools)
    for pool in pools:
        lines.append(
            "To execute flow runs from these deployments, start a worker that pulls "
            f"work from the {pool!r} work pool:\n\n\t$ prefect worker start --pool "
            f"{pool!r}\n"
        )
    lines.append(
        f"To schedule a run for a deployment, use:\n\n\t$ prefect deployment run '{ok[0].name}'\n"
    )
    if ui_url and ok[0].deployment_id:
        lines.append(f"View it in the UI: {ui_url}/deployments/deployment/{ok[0].deployment_id}")
    return "\n".join(lines)


def render_markdown(plan: Plan, results: Results | None = None, note: str = "") -> str:
    status = {o.name: o for o in results.outcomes} if results else {}
    rows = ["| Deployment | Action | Details |", "| --- | --- | --- |"]
    for item in plan.items:
        lines = details(item)
        action = item.action.value
        if item.name in status:
            outcome = status[item.name]
            action = outcome.status.value
            if outcome.status is Status.FAILED:
                lines = [outcome.detail]
        cell = "<br>".join(_md_escape(d) for d in lines)
        rows.append(f"| `{item.name}` | {action} | {cell} |")
    counts = ", ".join(f"{len(plan.by_action(a))} {a.value}" for a in Action)
    head = ["### flowdeploy", ""] + ([f"_{_md_escape(note)}_", ""] if note else [])
    return "\n".join([*head, *rows, "", f"**Plan:** {counts}", ""])


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
