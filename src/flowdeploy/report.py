"""RunResult / Plan / Results -> text, JSON and Markdown (pure: every function returns a
string; the caller redacts and writes it)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from io import StringIO
from typing import Any

from rich.console import Console
from rich.table import Table

from flowdeploy.errors import ConfigWarning, FlowdeployError
from flowdeploy.pipeline import ImageJob, Outcome, Results, Status
from flowdeploy.plan import Action, Plan, PlannedDeployment
from flowdeploy.run import RunResult

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


# -- a whole run ---------------------------------------------------------------------------


def run_text(result: RunResult) -> str:
    """stdout of ``--format text``: the plan, or what apply did (errors go to stderr)."""
    if result.plan is None:
        return ""
    if result.results is None:
        return render_plan_text(result.plan, result.note) + image_lines(result.images, False)
    return image_lines(result.images, True) + render_results_text(
        result.results, result.ui_url, result.push_pools
    )


def run_markdown(result: RunResult) -> str:
    if result.plan is None:
        return (
            "### flowdeploy\n\n"
            + "\n".join(f"- {_md_escape(e.render())}" for e in flat_errors(result.errors))
            + "\n"
        )
    return render_markdown(result.plan, result.results, result.note) + "\n"


def run_document(result: RunResult) -> dict[str, Any]:
    """The ``--format json`` document: the same keys whether the run succeeded or not, so a
    step that parses it never gets empty stdout."""
    plan = result.plan or Plan(items=())
    scope = result.scope
    doc_scope = {
        "note": result.note,
        "base": scope.comparison.base if scope and scope.comparison else None,
        "head": scope.comparison.head if scope and scope.comparison else None,
        "rebuild_image": scope.rebuild_image if scope else None,
        "offline": result.offline,
    }
    document = plan_document(plan, result.results, result.warnings, doc_scope)
    document["images"] = [image_document(j, result.applied) for j in result.images]
    document["errors"] = [error_document(e) for e in flat_errors(result.errors)]
    document["exit_code"] = result.exit_code
    return document


def run_json(result: RunResult) -> str:
    return json.dumps(run_document(result), indent=2, default=str) + "\n"


def flat_errors(errors: Sequence[FlowdeployError]) -> list[FlowdeployError]:
    """Several errors found in one pass are reported one by one."""
    out: list[FlowdeployError] = []
    for error in errors:
        out += getattr(error, "errors", None) or [error]
    return out


def error_document(error: FlowdeployError) -> dict[str, Any]:
    where = error.where
    return {
        "message": error.what,
        "why": error.why,
        "fix": error.fix,
        "file": str(where.path) if where else None,
        "line": where.line if where else None,
    }


def image_state(job: ImageJob, applied: bool) -> str:
    if job.spec is None:
        return "given with --image (not built)"
    if not job.used:
        return "not needed: no planned deployment runs on it"
    if job.digest:
        return f"built and pushed ({job.digest})"
    if job.exists:
        return "already in the registry: not built or pushed"
    if job.problem:
        return f"unknown ({job.problem})"
    return "not built" if applied else "not in the registry: apply builds and pushes it"


def image_document(job: ImageJob, applied: bool) -> dict[str, object]:
    return {
        "reference": job.reference,
        "used": job.used,
        "exists": job.exists,
        "built": job.digest is not None,
        "digest": job.digest,
        "problem": job.problem,
        "state": image_state(job, applied),
    }


def image_lines(images: Sequence[ImageJob], applied: bool) -> str:
    return "".join(f"Image {j.reference}: {image_state(j, applied)}\n" for j in images)
