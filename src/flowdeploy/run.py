"""One run: Settings -> RunResult (scope, plan, images, results, warnings, errors).

Reads and writes through the api, image and git modules only, and renders nothing: the CLI
and the action choose renderers (``report``, ``summary``) and where their text goes. A
failure does not escape as an exception; it is part of the result, so every renderer can
say what happened, including what was written before it.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from flowdeploy import collector
from flowdeploy.api import PrefectApi
from flowdeploy.cancel import Cancelled, CancelSwitch, Interrupted
from flowdeploy.errors import EXIT_FAILED, EXIT_OK, ConfigError, ConfigWarning, FlowdeployError
from flowdeploy.masking import hide_secret_change, redact
from flowdeploy.pipeline import (
    ImageJob,
    Outcome,
    Reading,
    Results,
    Status,
    apply_plan,
    pools_without_workers,
    publish_images,
    read_offline,
    read_plan,
)
from flowdeploy.plan import Action, FieldChange, Plan, PlannedDeployment
from flowdeploy.project import Project
from flowdeploy.scope import Scope
from flowdeploy.settings import Settings

Command = Literal["plan", "apply"]


class Hooks:
    """Where a run reports while it goes; the default reports nothing."""

    def secrets(self, values: Sequence[str]) -> None:
        """Values no output may show, as soon as they are known (before any line that
        could carry them)."""

    @contextlib.contextmanager
    def stage(self, name: Literal["image", "apply"], total: int) -> Iterator[None]:
        """Around building the image and around the writes (``total`` steps)."""
        yield

    def log(self, line: str) -> None:
        """A line of the image build or push."""

    def advance(self, item: PlannedDeployment) -> None:
        """One deployment of the plan was applied (or left alone)."""

    def retry(self, line: str) -> None:
        """A request to the Prefect API is retried (what, why, when): said as it happens, so
        a slow or flaky server is never a silent wait."""


class RunResult(BaseModel):
    """Everything a renderer needs to tell what a run did."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    command: Command
    settings: Settings | None = None
    offline: bool = False
    """Planned without a Prefect server (head against base commit)."""
    scope: Scope | None = None
    projects: tuple[Project, ...] = ()
    plan: Plan | None = None
    images: tuple[ImageJob, ...] = ()
    results: Results | None = None
    warnings: tuple[ConfigWarning, ...] = ()
    errors: tuple[FlowdeployError, ...] = ()
    secrets: tuple[str, ...] = ()
    push_pools: frozenset[str] = frozenset()
    """Pools whose flows Prefect runs itself (no worker to suggest)."""
    ui_served: bool | None = None
    """Whether the server showed a UI when asked (``PrefectApi.serves_ui``); None: not
    asked, or no answer. False: no link to it is shown."""

    @property
    def exit_code(self) -> int:
        if self.errors:
            return max(e.exit_code for e in self.errors)
        if self.results is not None and self.results.failed:
            return EXIT_FAILED
        return EXIT_OK

    @property
    def applied(self) -> bool:
        return self.results is not None

    @property
    def ui_url(self) -> str | None:
        if self.settings is None or self.offline or not self.settings.api_url:
            return None
        if self.ui_served is False:
            return None
        return self.settings.connection.ui_url

    @property
    def note(self) -> str:
        """What was compared, and how many deployments it affected."""
        scope, plan = self.scope, self.plan
        if scope is None:
            return ""
        if scope.comparison is None or scope.comparison.base is None or plan is None:
            return scope.note
        affected = len([i for i in plan.items if i.action is not Action.ORPHANED])
        return f"{scope.note}: {affected} affected deployment{'s' if affected != 1 else ''}"

    @property
    def changes(self) -> int:
        """How many deployments the plan would create, update or delete."""
        if self.plan is None:
            return 0
        return len([i for i in self.plan.items if i.action is not Action.UNCHANGED])


def run(
    settings: Settings,
    command: Command,
    hooks: Hooks | None = None,
    *,
    offline: bool = False,
    switch: CancelSwitch | None = None,
    api: PrefectApi | None = None,
) -> RunResult:
    """Plan (and with ``apply``, publish the image and write the plan). ``offline`` plans
    without a Prefect server, by comparing the head with the base commit; it never writes.
    ``switch`` cancels: no write starts after it is set, and the result says what was
    written before. ``api``: a client to use (and close) instead of a new one."""
    hooks = hooks or Hooks()
    switch = switch or CancelSwitch()
    result = RunResult(
        command=command, settings=settings, offline=offline, secrets=settings.secrets
    )
    hooks.secrets(settings.secrets)
    if command == "apply" and settings.range is not None and settings.range.kind == "pull-request":
        refused = ConfigError(
            "apply refuses to run for a pull request",
            why="a pull request shows what a merge would change; writing to Prefect or "
            "pushing an image from unmerged (possibly a fork's) code is what it must not do",
            fix="use plan (the action's 'mode: auto' plans on pull requests), or pass --base "
            "to compare commits explicitly",
        )
        return result.model_copy(update={"errors": (refused,)})
    try:
        if offline:
            return _finish(result, read_offline(settings), hooks)
        with api or PrefectApi(settings.connection, on_retry=hooks.retry) as api:
            reading = read_plan(settings, api)
            result = _finish(result, reading, hooks)
            if command == "plan" or result.errors:
                return _with_ui(result, api)
            if reading.empty:
                # Nothing to apply is a mistake (a wrong path, an emptied file), not success.
                return result.model_copy(update={"errors": reading.empty})
            return _with_ui(_apply(result, reading, settings, api, hooks, switch), api)
    except FlowdeployError as exc:
        hooks.secrets(tuple(exc.secrets))
        secrets = (*result.secrets, *exc.secrets)
        return result.model_copy(update={"errors": (exc,), "secrets": secrets})
    except Interrupted:
        return result.model_copy(update={"errors": (switch.error(),)})


def _apply(
    result: RunResult,
    reading: Reading,
    settings: Settings,
    api: PrefectApi,
    hooks: Hooks,
    switch: CancelSwitch,
) -> RunResult:
    collector.resume()
    images = list(reading.images)
    # The image first: no deployment may point at an image that failed.
    if any(j.to_publish for j in images) and not switch.stopped():
        with hooks.stage("image", len(images)):
            images = publish_images(images, settings, hooks.log)
        result = result.model_copy(update={"images": tuple(images)})
    plan = reading.plan
    done: list[Outcome] = []
    interrupted = False
    total = len(plan.items) if plan.writes or settings.prune else 0
    if not switch.stopped():
        with hooks.stage("apply", total):
            try:
                apply_plan(
                    plan,
                    api,
                    progress=hooks.advance,
                    prune=settings.prune,
                    stop=switch.stopped,
                    done=done,
                )
            except Interrupted:
                interrupted = True
    outcomes = {o.name: o for o in done}
    results = Results(
        outcomes=tuple(
            outcomes.get(i.name) or Outcome(name=i.name, status=Status.SKIPPED, detail=_skipped)
            for i in plan.items
        )
    )
    pools = {o.work_pool_name for o in results.outcomes if o.work_pool_name}
    update: dict[str, object] = {"results": shown_results(results, result.secrets)}
    cancelled = switch.error()
    if cancelled is not None or interrupted:
        update["errors"] = (cancelled or Cancelled(signal.SIGINT, abandoned=True),)
    elif any(o.status in _WRITTEN for o in results.outcomes):
        # Only decides which "start a worker" hints to print (after a write): never worth
        # losing the results.
        with contextlib.suppress(FlowdeployError):
            update["push_pools"] = pools_without_workers(api, pools)
    return result.model_copy(update=update)


_skipped = "not written: the run was cancelled before it; re-run to apply it"
_WRITTEN = frozenset({Status.CREATED, Status.UPDATED, Status.APPLIED})


def _with_ui(result: RunResult, api: PrefectApi) -> RunResult:
    """Whether the server shows a UI, asked only when there is a deployment to link to, and
    last: a link is never worth a failure, or a wait after a cancel."""
    ids = [i.deployment_id for i in result.plan.items] if result.plan else []
    ids += [o.deployment_id for o in result.results.outcomes] if result.results else []
    if not any(ids) or any(isinstance(e, Cancelled) for e in result.errors):
        return result
    return result.model_copy(update={"ui_served": api.serves_ui()})


def _finish(result: RunResult, reading: Reading, hooks: Hooks) -> RunResult:
    secrets = tuple(s for p in reading.projects for s in sorted(p.secrets))
    hooks.secrets(secrets)
    warnings = [w for p in reading.projects for w in p.warnings]
    warnings += [ConfigWarning(text) for text in reading.scope.warnings]
    if result.command == "plan" or result.offline:
        warnings += [ConfigWarning(e.what, e.where) for e in reading.empty]
    warnings += [
        ConfigWarning(
            f"image {job.reference} is built into the local Docker engine only (prefect.yaml "
            "has no Docker push step): a worker on another machine cannot pull it; add a "
            "prefect_docker.deployments.steps.push_docker_image step, or pass --image-name"
        )
        for job in reading.images
        if job.used and not job.pushed
    ]
    if result.command == "plan":
        warnings += [
            ConfigWarning(f"cannot tell whether image {job.reference} exists: {job.problem}")
            for job in reading.images
            if job.problem
        ]
    known = (*result.secrets, *secrets)
    return result.model_copy(
        update={
            "scope": reading.scope,
            "projects": reading.projects,
            "plan": shown_plan(reading.plan, known),
            "images": reading.images,
            "warnings": tuple(warnings),
            "errors": reading.problems,
            "secrets": (*result.secrets, *secrets),
        }
    )


def shown_plan(plan: Plan, secrets: Sequence[str]) -> Plan:
    """The plan as it may be shown: a changed value that carries a secret is hidden on both
    sides (rendering it and masking afterwards would still leak a rotated secret, or its
    length through a table's padding)."""
    if not secrets:
        return plan
    items = []
    for item in plan.items:
        changes = {}
        for name, change in item.changes.items():
            old, new = hide_secret_change(change.old, change.new, secrets)
            changes[name] = FieldChange(old=old, new=new)
        items.append(item.model_copy(update={"changes": changes}) if changes else item)
    return Plan(items=tuple(items))


def shown_results(results: Results, secrets: Sequence[str]) -> Results:
    """Server details masked before any table is laid out around them."""
    outcomes = tuple(
        o.model_copy(update={"detail": redact(o.detail, secrets)}) for o in results.outcomes
    )
    return Results(outcomes=outcomes)
