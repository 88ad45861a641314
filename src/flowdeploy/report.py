"""RunResult / Plan / Results -> text, JSON and Markdown (pure: every function returns a
string; the caller redacts and writes it)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from io import StringIO
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from flowdeploy.describe import CUT, MISSING, value_changes
from flowdeploy.errors import ConfigWarning, FlowdeployError
from flowdeploy.pipeline import ImageJob, Outcome, Results, Status
from flowdeploy.plan import Action, Plan, PlannedDeployment
from flowdeploy.run import RunResult

STYLE = {
    "create": "green",
    "update": "yellow",
    "unchanged": "dim",
    "orphaned": "red",
    "created": "green",
    "updated": "yellow",
    "applied": "green",
    "deleted": "red",
    "failed": "bold red",
    "skipped": "dim",
}
"""The colour of each action and status in text tables (on a terminal only)."""
WIDTH = 120


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
            "problems": list(item.problems),
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
    """One line per changed value, at its path (``job_variables.image: "a:1" → "a:2"``):
    cutting two long mappings to their first characters would hide what differs."""
    return [
        f"… {new}" if path == CUT else f"{path}: {_side(old)} → {_side(new)}"
        for field, c in item.changes.items()
        for path, old, new in value_changes(c.old, c.new, path=field, limit=8)
    ]


def _side(value: Any) -> str:
    return "(none)" if value is MISSING else _short(value)


def _console(width: int | None = None, color: bool = False) -> tuple[Console, StringIO]:
    """A console that writes to a string: plain text, or ANSI colours for a terminal."""
    buffer = StringIO()
    if color:
        console = Console(
            file=buffer,
            width=width or WIDTH,
            force_terminal=True,
            color_system="standard",
            highlight=False,
        )
    else:
        console = Console(
            file=buffer, width=width or WIDTH, force_terminal=False, no_color=True, highlight=False
        )
    return console, buffer


def _caption(console: Console, note: str) -> None:
    """What was selected, under the table: a line of its own, not a caption cut to the
    table's width (a range and a count would be split across lines)."""
    if note:
        console.print(note, style="table.caption", markup=False, highlight=False, soft_wrap=True)


FOLD_UNCHANGED = 10
"""More unchanged rows than this, with nothing to say, are one row of a text table: the
table of a thousand-deployment repository shows what changes, not pages of "unchanged"."""


def fold_unchanged(rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Rows (name, action or status, details) with the quiet unchanged ones folded."""
    quiet = [r for r in rows if r[1] == "unchanged" and not r[2]]
    if len(quiet) <= FOLD_UNCHANGED:
        return rows
    kept = [r for r in rows if r[1] != "unchanged" or r[2]]
    return [
        *kept,
        (f"{len(quiet)} deployments", "unchanged", "not listed (--format json lists each)"),
    ]


def _styled(value: str) -> Text:
    return Text(value, style=STYLE.get(value, ""))


def details(item: PlannedDeployment) -> list[str]:
    """What stops it first, then why the deployment is in the plan, then what changes."""
    return [*(f"cannot apply: {p}" for p in item.problems), *item.reasons, *change_lines(item)]


def render_plan_text(
    plan: Plan,
    note: str = "",
    *,
    empty: str = "",
    color: bool = False,
    width: int | None = None,
) -> str:
    """The plan as a table captioned ``note`` (what was selected); an empty plan is the
    sentence ``empty`` ("Nothing to do: ..."), not an empty table."""
    if not plan.items:
        return (empty or "Nothing to do: there are no deployments.") + "\n"
    console, buffer = _console(width, color)
    table = Table(title="flowdeploy plan", show_lines=False)
    table.add_column("Name", no_wrap=True)
    table.add_column("Action")
    table.add_column("Details")
    rows = [(i.name, i.action.value, "\n".join(details(i))) for i in plan.items]
    for name, action, text in fold_unchanged(rows):
        table.add_row(name, _styled(action), text)
    console.print(table)
    _caption(console, note)
    counts = ", ".join(f"{len(plan.by_action(a))} {a.value}" for a in Action)
    console.print(f"Plan: {counts}.", markup=False)
    if all(i.action is Action.UNCHANGED for i in plan.items):
        console.print("Nothing to do: every deployment is up to date.")
    return buffer.getvalue()


def render_results_text(
    results: Results,
    ui_url: str | None = None,
    push_pools: frozenset[str] = frozenset(),
    *,
    note: str = "",
    empty: str = "",
    color: bool = False,
    width: int | None = None,
) -> str:
    """What apply did, then the next steps when it created or updated something."""
    if not results.outcomes:
        return (empty or "Nothing to do: there are no deployments.") + "\n"
    console, buffer = _console(width, color)
    table = Table(title="Deployments")
    table.add_column("Name", no_wrap=True)
    table.add_column("Status")
    table.add_column("Details")
    rows = [(o.name, o.status.value, o.detail) for o in results.outcomes]
    for name, status, text in fold_unchanged(rows):
        table.add_row(name, _styled(status), text)
    console.print(table)
    _caption(console, note)
    if all(o.status is Status.UNCHANGED for o in results.outcomes):
        console.print("Nothing was written: every deployment is up to date.")
    steps = next_steps(results.outcomes, ui_url, push_pools)
    if steps:
        console.print(steps, markup=False, highlight=False, soft_wrap=True)
    return buffer.getvalue()


def next_steps(outcomes: Sequence[Outcome], ui_url: str | None, push_pools: frozenset[str]) -> str:
    """What the reference prints after deploying (start a worker, run a deployment, the UI
    link), for the deployments this run created or updated: none when nothing changed."""
    ok = [o for o in outcomes if o.status in (Status.CREATED, Status.UPDATED, Status.APPLIED)]
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


def run_text(result: RunResult, *, color: bool = False, width: int | None = None) -> str:
    """stdout of ``--format text``: the plan, or what apply did (errors go to stderr).
    ``color``: ANSI colours for a terminal."""
    if result.plan is None or (not result.plan.items and result.errors):
        return ""  # the errors, on stderr, say it
    note, empty = selection(result), nothing_to_do(result)
    if result.results is None:
        text = render_plan_text(result.plan, note, empty=empty, color=color, width=width)
        return text + image_lines(result.images, False)
    return image_lines(result.images, True) + render_results_text(
        result.results,
        result.ui_url,
        result.push_pools,
        note=note,
        empty=empty,
        color=color,
        width=width,
    )


def selection(result: RunResult) -> str:
    """What the run looked at, in words (the caption of its tables): "every deployment",
    "deployments matching etl/*", "deployments affected by origin/main..HEAD (…)"."""
    scope, settings = result.scope, result.settings
    if scope is None:
        return ""
    names = settings.names if settings is not None else ()
    matching = f"matching {', '.join(names)}" if names else ""
    comparison = scope.comparison
    if comparison is None:
        return f"deployments {matching}" if names else "every deployment"
    if comparison.base is None:
        # A comparison that fell back to every deployment: its note says why.
        return f"deployments {matching} ({comparison.note})" if names else comparison.note
    parts = [p for p in (matching, f"affected by {_span(result)}") if p]
    plan = result.plan
    affected = len([i for i in plan.items if i.action is not Action.ORPHANED]) if plan else 0
    count = f"{affected} affected deployment{'s' if affected != 1 else ''}"
    return "deployments " + ", ".join(parts) + f": {count}"


def nothing_to_do(result: RunResult) -> str:
    """Why an empty plan is empty."""
    scope, settings = result.scope, result.settings
    names = ", ".join(settings.names) if settings is not None else ""
    if scope is not None and scope.comparison is not None and scope.comparison.base is not None:
        which = f" matching {names}" if names else ""
        return f"Nothing to do: no deployment{which} is affected by {_span(result)}."
    if names:
        return f"Nothing to do: no deployment matches {names}."
    return "Nothing to do: there are no deployments."


def _span(result: RunResult) -> str:
    """The compared commits: as given (--base X --head Y) with the commits they resolved
    to, or as the event put it."""
    assert result.scope is not None and result.scope.comparison is not None
    comparison = result.scope.comparison
    request = result.settings.range if result.settings is not None else None
    if request is None or request.kind != "explicit" or comparison.base is None:
        return comparison.note
    return f"{request.base}..{request.head} ({comparison.base[:7]}..{comparison.head[:7]})"


def run_markdown(result: RunResult) -> str:
    if result.plan is None:
        return (
            "### flowdeploy\n\n"
            + "\n".join(f"- {_md_escape(e.render())}" for e in flat_errors(result.errors))
            + "\n"
        )
    warnings = "".join(f"- ⚠️ {_md_escape(str(w))}\n" for w in result.warnings)
    return (
        render_markdown(result.plan, result.results, selection(result))
        + (f"\n**Warnings**\n\n{warnings}" if warnings else "")
        + "\n"
    )


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


_NO_PUSH = "(no Docker push step in prefect.yaml): a worker on another machine cannot pull it"


def image_state(job: ImageJob, applied: bool) -> str:
    if job.spec is None:
        return "given with --image (not built)"
    if not job.used:
        return "not needed: no planned deployment runs on it"
    if not job.pushed:
        return _local_state(job, applied)
    if job.digest:
        return f"built and pushed ({job.digest})"
    if job.exists:
        return "already in the registry: not built or pushed"
    if job.problem:
        return f"unknown ({job.problem})"
    return "not built" if applied else "not in the registry: apply builds and pushes it"


def _local_state(job: ImageJob, applied: bool) -> str:
    """An image built into the local engine only. Every state says so: a worker that cannot
    pull it fails only when a flow runs, long after the deploy looked fine."""
    if job.built:
        return f"built locally {_NO_PUSH}"
    if job.exists:
        return f"already built locally, not rebuilt {_NO_PUSH}"
    if job.problem:
        return f"unknown ({job.problem}); local only {_NO_PUSH}"
    if applied:
        return f"not built; local only {_NO_PUSH}"
    return f"not in the local Docker engine: apply builds it locally {_NO_PUSH}"


def image_document(job: ImageJob, applied: bool) -> dict[str, object]:
    return {
        "reference": job.reference,
        "used": job.used,
        "exists": job.exists,
        "built": job.built or job.digest is not None,
        "digest": job.digest,
        "problem": job.problem,
        "state": image_state(job, applied),
    }


def image_lines(images: Sequence[ImageJob], applied: bool) -> str:
    return "".join(f"Image {j.reference}: {image_state(j, applied)}\n" for j in images)
