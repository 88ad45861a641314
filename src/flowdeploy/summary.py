"""RunResult -> the job summary and the PR comment (pure Markdown strings).

Both show the same plan: a table of the deployments the change affected, what happens to
each and why, then the field diffs folded in ``<details>``. Large values are split into the
keys that changed, so a long ``job_variables`` shows the one variable that moved.
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from flowdeploy import github, report
from flowdeploy.describe import MISSING, schedules_in_words, short_value, value_changes
from flowdeploy.errors import ConfigError
from flowdeploy.plan import Action, PlannedDeployment
from flowdeploy.run import RunResult

COMMENT_MARKER = "<!-- flowdeploy:plan -->"
SUMMARY_LIMIT = 1024 * 1024 - 1024
"""GitHub refuses a step summary over 1 MiB; keep a margin for the truncation note."""

ICON = {
    "create": "🆕",
    "created": "🆕",
    "update": "✏️",
    "updated": "✏️",
    "applied": "✅",
    "unchanged": "⚪",
    "orphaned": "👻",
    "deleted": "🗑️",
    "failed": "❌",
}


class SummaryContext(BaseModel):
    """What the runner says about this run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_name: str | None = None
    sha: str | None = None
    ref: str | None = None
    repository: str | None = None
    server_url: str = "https://github.com"
    api_url: str = "https://api.github.com"
    run_id: str | None = None
    pr_number: int | None = None
    fork: bool = False

    @property
    def run_url(self) -> str | None:
        if not (self.repository and self.run_id):
            return None
        return github.run_url(self.server_url, self.repository, self.run_id)


def context_from_env(environ: Mapping[str, str]) -> SummaryContext:
    event: Mapping[str, Any] = {}
    path = environ.get("GITHUB_EVENT_PATH")
    if path and Path(path).is_file():
        try:
            event = github.load_event(Path(path))
        except ConfigError:
            event = {}
    name = environ.get("GITHUB_EVENT_NAME") or None
    is_pr = name in ("pull_request", "pull_request_target")
    return SummaryContext(
        event_name=name,
        sha=environ.get("GITHUB_SHA") or None,
        ref=environ.get("GITHUB_REF") or None,
        repository=environ.get("GITHUB_REPOSITORY") or None,
        server_url=(environ.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/"),
        api_url=(environ.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/"),
        run_id=environ.get("GITHUB_RUN_ID") or None,
        pr_number=github.pull_request_number(event) if is_pr else None,
        fork=is_pr and github.is_fork_pull_request(event),
    )


# -- pieces -------------------------------------------------------------------------------


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return html.escape(text, quote=False).replace("|", "&#124;").replace("\n", "<br>")


def code(text: str) -> str:
    return f"<code>{cell(text)}</code>"


def _action(item: PlannedDeployment, result: RunResult) -> str:
    if result.results is not None:
        outcome = next((o for o in result.results.outcomes if o.name == item.name), None)
        if outcome is not None:
            return outcome.status.value
    return item.action.value


def _deployment_id(item: PlannedDeployment, result: RunResult) -> str | None:
    if result.results is not None:
        for outcome in result.results.outcomes:
            if outcome.name == item.name and outcome.deployment_id:
                return outcome.deployment_id
    return item.deployment_id


def _link(item: PlannedDeployment, result: RunResult) -> str:
    ui = result.ui_url
    dep_id = _deployment_id(item, result)
    if not ui or not dep_id:
        return "—"
    return f"[open]({ui}/deployments/deployment/{dep_id})"


def _why(item: PlannedDeployment, result: RunResult) -> str:
    if result.results is not None:
        outcome = next((o for o in result.results.outcomes if o.name == item.name), None)
        if outcome is not None and outcome.status.value == "failed":
            return cell(outcome.detail)
    lines = [*(f"cannot apply: {p}" for p in item.problems), *item.reasons]
    return cell("\n".join(lines)) or "—"


def deployment_table(items: Sequence[PlannedDeployment], result: RunResult) -> list[str]:
    """One row per deployment; the column of links only when there is a UI to open."""
    links = result.ui_url is not None
    rows = [
        "| Deployment | Action | Why | Schedule | Work pool |" + (" Prefect |" if links else ""),
        "| --- | --- | --- | --- | --- |" + (" --- |" if links else ""),
    ]
    for item in items:
        dep = item.spec.deployment if item.spec else None
        action = _action(item, result)
        schedule = schedules_in_words(dep.schedules or []) if dep else "—"
        pool = dep.work_pool_name if dep and dep.work_pool_name else "—"
        row = (
            f"| {code(item.name)} | {ICON.get(action, '')} {action} | {_why(item, result)} "
            f"| {cell(schedule)} | {cell(pool)} |"
        )
        rows.append(row + (f" {_link(item, result)} |" if links else ""))
    return rows


def field_diffs(item: PlannedDeployment) -> list[str]:
    """The changed keys of each changed field, as a folded table."""
    if not item.changes:
        return []
    rows = [
        f"<details><summary>{code(item.name)}: {cell(', '.join(item.changes))}</summary>",
        "",
        "| Field | Before | After |",
        "| --- | --- | --- |",
    ]
    for field, change in item.changes.items():
        for path, old, new in value_changes(change.old, change.new, path=field):
            if path == "…":  # the rest, counted
                rows.append(f"| … | | {cell(str(new))} |")
                continue
            before = "—" if old is MISSING else code(short_value(old))
            after = "—" if new is MISSING else code(short_value(new))
            rows.append(f"| {code(path)} | {before} | {after} |")
    rows += ["", "</details>"]
    return rows


def _header(result: RunResult, context: SummaryContext, title: str) -> list[str]:
    mode = result.command + (" (no Prefect server: base commit vs head)" if result.offline else "")
    facts = []
    if context.sha:
        facts.append(f"commit `{context.sha[:12]}`")
    if context.event_name:
        facts.append(f"event `{context.event_name}`")
    facts.append(f"mode **{mode}**")
    lines = [f"## {title}", "", " · ".join(facts), ""]
    for job in result.images:
        lines.append(
            f"- Image {code(job.reference)}: {cell(report.image_state(job, result.applied))}"
        )
    if not result.images and result.plan is not None:
        lines.append("- Image: not needed")
    note = report.selection(result)
    if note:
        lines += ["", f"_{cell(note)}_"]
    return [*lines, ""]


def _body(result: RunResult) -> list[str]:
    lines: list[str] = []
    plan = result.plan
    if plan is not None:
        shown = [i for i in plan.items if i.action is not Action.UNCHANGED]
        quiet = [i for i in plan.items if i.action is Action.UNCHANGED]
        if result.results is not None:
            failed = {o.name for o in result.results.failed}
            shown = [i for i in plan.items if i.action is not Action.UNCHANGED or i.name in failed]
            quiet = [i for i in quiet if i.name not in failed]
        if shown:
            lines += [*deployment_table(shown, result), ""]
        elif not quiet:
            lines += [cell(report.nothing_to_do(result)), ""]
        else:
            lines += ["Every affected deployment is up to date: nothing to write.", ""]
        if quiet:
            lines += [
                f"<details><summary>{len(quiet)} unchanged deployment(s)</summary>",
                "",
                *deployment_table(quiet, result),
                "",
                "</details>",
                "",
            ]
        for item in shown:
            diff = field_diffs(item)
            lines += [*diff, ""] if diff else []
        lines += [f"**Totals:** {totals(result)}", ""]
    if result.warnings:
        lines += ["### Warnings", ""]
        lines += [f"- {cell(str(w))}" for w in result.warnings]
        lines.append("")
    errors = report.flat_errors(result.errors)
    if errors:
        lines += ["### Errors", ""]
        for error in errors:
            where = f" ({code(str(error.where))})" if error.where else ""
            lines.append(f"- **{cell(error.what)}**{where}")
            if error.why:
                lines.append(f"  - why: {cell(error.why)}")
            if error.fix:
                lines.append(f"  - fix: {cell(error.fix)}")
        lines.append("")
    return lines


def totals(result: RunResult) -> str:
    if result.results is not None:
        counts: dict[str, int] = {}
        for outcome in result.results.outcomes:
            counts[outcome.status.value] = counts.get(outcome.status.value, 0) + 1
        return ", ".join(f"{n} {status}" for status, n in counts.items()) or "nothing"
    plan = result.plan
    if plan is None:
        return "nothing"
    return ", ".join(f"{len(plan.by_action(a))} {a.value}" for a in Action)


def _next_steps(result: RunResult, context: SummaryContext) -> list[str]:
    if result.errors:
        return ["### Next steps", "", "Fix the errors above and push again.", ""]
    if result.results is not None:
        text = report.next_steps(result.results.outcomes, result.ui_url, result.push_pools)
        if result.results.failed:
            text = (
                "Some deployments failed; the others were applied. Re-run the job to retry "
                "the failed ones (applied ones are not written again).\n\n" + text
            )
        return ["### Next steps", "", "```", text.strip(), "```", ""] if text.strip() else []
    if result.command == "plan" and result.changes:
        when = "when this pull request is merged" if context.pr_number else "on apply"
        return ["### Next steps", "", f"These changes are applied {when}.", ""]
    return []


# -- the two documents ----------------------------------------------------------------------


def job_summary(result: RunResult, context: SummaryContext) -> str:
    title = f"flowdeploy {result.command}"
    lines = [*_header(result, context, title), *_body(result), *_next_steps(result, context)]
    text = "\n".join(lines).rstrip() + "\n"
    if len(text) > SUMMARY_LIMIT:
        text = github.fit_comment(text, SUMMARY_LIMIT, None)
    return text


def pr_comment(result: RunResult, context: SummaryContext) -> str:
    """One sticky comment (found again by its marker), within GitHub's size limit."""
    lines = [COMMENT_MARKER, *_header(result, context, "flowdeploy plan"), *_body(result)]
    lines += _next_steps(result, context)
    footer = f"<sub>Updated for commit `{(context.sha or '')[:12]}`"
    footer += f" · [run]({context.run_url})</sub>" if context.run_url else "</sub>"
    text = "\n".join([*lines, footer]).rstrip() + "\n"
    return github.fit_comment(text, github.COMMENT_LIMIT, context.run_url)


def affected_projects(result: RunResult) -> list[str]:
    """The project directories (relative, as given) with a deployment in the plan: the
    matrix of a fan-out workflow."""
    if result.plan is None:
        return []
    names = {i.name for i in result.plan.items}
    found: list[str] = []
    for project in result.projects:
        if any(s.deployment.full_name in names for s in project.specs):
            found.append(_project_dir(project.prefect_file))
    for part in result.scope.projects if result.scope else ():
        if names & set(part.removed):
            found.append(_project_dir(part.prefect_file))
    return sorted(set(found))


def _project_dir(prefect_file: Path) -> str:
    folder = prefect_file.parent
    if folder.is_absolute():
        try:
            folder = folder.relative_to(Path.cwd())
        except ValueError:
            return folder.as_posix()
    return Path(os.path.normpath(folder)).as_posix()
