"""``schedules:`` and the legacy ``schedule:`` of a deployment -> API schedule bodies.

As ``prefect deploy`` (``_handle_deprecated_schedule_fields``, ``_construct_schedules``):
a non-empty legacy ``schedule`` mapping is the one entry of ``schedules``, and giving both is
an error; an empty one (``schedule: {}``) or null means no schedule. Each entry is checked
against Prefect's schedule model, which refuses unknown keys (see ``keys.SCHEDULE``), then
built by ``flowdeploy.schedules``.
"""

from __future__ import annotations

from typing import Any

from flowdeploy import schedules as sched
from flowdeploy import templating as tpl
from flowdeploy.prefectyaml.context import Context
from flowdeploy.prefectyaml.keys import SCHEDULE, check_keys
from flowdeploy.yamlfile import PathKey


def deployment_schedules(
    ctx: Context,
    config: dict[str, Any],
    outputs: dict[str, Any],
    problems: list[tpl.Unresolved],
    *at: str | int,
) -> list[dict[str, Any]] | None:
    """Pops ``schedule`` and ``schedules`` from ``config``; None leaves the server's
    schedules as they are (neither key given, or ``schedules: null``)."""
    legacy = config.pop("schedule", None)
    given = "schedules" in config
    listed = config.pop("schedules", None)
    if legacy is not None and not isinstance(legacy, dict):
        ctx.error(
            f"'schedule' must be a mapping, not {_kind(legacy)}",
            *at,
            "schedule",
            why="prefect deploy refuses the whole file otherwise",
            fix="write one schedule as a mapping, e.g. 'schedule: {cron: \"0 6 * * *\"}', or "
            "list schedules under 'schedules:'",
        )
        return None
    if legacy and given:
        ctx.error(
            "both 'schedule' and 'schedules' are given",
            *at,
            "schedule",
            why="prefect deploy refuses a deployment with both",
            fix="move the 'schedule' mapping into the 'schedules' list as one more '- ' item, "
            "and delete 'schedule'",
        )
        return None
    if legacy:
        return _entries(ctx, [(legacy, (*at, "schedule"))], outputs, problems)
    if not given or listed is None:
        return None
    if not isinstance(listed, list):
        ctx.error(
            f"'schedules' must be a list, not {_kind(listed)}",
            *at,
            "schedules",
            fix="write each schedule as a '- cron: …' item under 'schedules:'",
        )
        return None
    located = [(entry, (*at, "schedules", i)) for i, entry in enumerate(listed)]
    return _entries(ctx, located, outputs, problems)


def _entries(
    ctx: Context,
    located: list[tuple[Any, PathKey]],
    outputs: dict[str, Any],
    problems: list[tpl.Unresolved],
) -> list[dict[str, Any]]:
    built = []
    for number, (raw, path) in enumerate(located, start=1):
        entry = tpl.render(
            raw,
            frozenset({tpl.Kind.STEP}),
            tpl.mapping_resolver(outputs),
            path=path,
            problems=problems,
        )
        errors_before = len(ctx.errors)
        if isinstance(entry, dict):
            check_keys(ctx, entry, SCHEDULE, *path)
            if entry.get("anchor_date") and entry.get("interval") is None:
                ctx.warn(
                    "anchor_date only applies to interval schedules and is ignored",
                    *path,
                    "anchor_date",
                )
        try:
            built.append(sched.build_schedule(entry))
        except sched.ScheduleError as exc:
            if exc.key is None and len(ctx.errors) > errors_before:
                continue  # no kind, because it is misspelt ('crons'): said above
            ctx.error(
                f"schedule #{number} is invalid: {exc}",
                *path,
                *((exc.key,) if exc.key else ()),
                fix=exc.fix,
            )
    return built


def _kind(value: Any) -> str:
    return {str: "a string", list: "a list", bool: "a boolean", int: "a number"}.get(
        type(value), f"a {type(value).__name__}"
    )
