"""The keys each section of prefect.yaml takes, and what an unknown key means.

Prefect 3.9.1 validates the file with pydantic models (``prefect/cli/deploy/_models.py``)
before deploying anything. Most of them ignore keys they do not know (``extra="ignore"``),
so a misspelt key silently does nothing; the schedule entry models forbid them
(``extra="forbid"``), so one unknown key there makes ``prefect deploy`` skip the whole file
and exit 1 with nothing deployed. flowdeploy follows each model: an unknown key where Prefect
refuses it is an error; elsewhere a near miss (``shedules``) is an error, since it surely
meant the known key, and any other unknown key is a warning.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flowdeploy import schedules as sched
from flowdeploy.prefectyaml.context import Context


@dataclass(frozen=True)
class Section:
    what: str
    known: tuple[str, ...]
    refused_by_prefect: bool = False
    """Prefect's model for the section forbids unknown keys, so it refuses the file."""


# PrefectYamlModel: extra="ignore". 'definitions' holds YAML anchors; 'flowdeploy' is ours.
TOP = Section(
    "the prefect.yaml top level",
    (
        "prefect-version",
        "name",
        "build",
        "push",
        "pull",
        "deployments",
        "definitions",
        "flowdeploy",
    ),
)
# DeploymentConfig: extra="ignore".
DEPLOYMENT = Section(
    "deployment",
    (
        "name",
        "version",
        "version_type",
        "tags",
        "description",
        "schedule",
        "schedules",
        "paused",
        "concurrency_limit",
        "flow_name",
        "entrypoint",
        "parameters",
        "enforce_parameter_schema",
        "build",
        "push",
        "pull",
        "work_pool",
        "triggers",
        "sla",
        "flowdeploy",
    ),
)
# WorkPoolConfig: extra="ignore".
WORK_POOL = Section("work_pool", ("name", "work_queue_name", "job_variables"))
# ConcurrencyLimitSpec: extra="ignore".
CONCURRENCY = Section("concurrency_limit", ("limit", "collision_strategy", "grace_period_seconds"))
# A schedule entry validates as one of RawScheduleConfig, DeploymentScheduleCreate,
# Cron/Interval/RRuleSchedule or an empty mapping: every one is extra="forbid".
# (max_scheduled_runs is refused by Prefect too; flowdeploy accepts it on purpose: README.)
SCHEDULE = Section("schedule entry", sched.KNOWN_KEYS, refused_by_prefect=True)

# Names other schedulers use for a key Prefect spells differently, too far for difflib.
_ALIASES = {"schedule_interval": "interval", "tz": "timezone", "time_zone": "timezone"}


def suggest(key: str, known: Sequence[str]) -> str | None:
    if key in _ALIASES and _ALIASES[key] in known:
        return _ALIASES[key]
    match = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
    return match[0] if match else None


def check_keys(ctx: Context, data: Mapping[Any, Any], section: Section, *path: str | int) -> None:
    """Report every key of ``data`` (the mapping at ``path``) that ``section`` does not take."""
    for key in data:
        if key in section.known:
            continue
        name = str(key)
        close = suggest(name, section.known)
        if section.refused_by_prefect:
            ctx.error(
                f"unknown key {name!r} in {_a(section.what)}",
                *path,
                name,
                why=f"prefect deploy refuses {_a(section.what)} with a key it does not know, "
                "and then deploys nothing from this file",
                fix=f"did you mean {close!r}?"
                if close
                else f"delete {name!r}; {_a(section.what)} takes {', '.join(section.known)}",
            )
        elif close:
            ctx.error(
                f"unknown key {name!r} in {_a(section.what)}",
                *path,
                name,
                why=f"{name!r} is not a key of {_a(section.what)}, and Prefect would ignore it "
                "silently",
                fix=f"did you mean {close!r}?",
            )
        else:
            ctx.warn(
                f"unknown key {name!r} in {_a(section.what)} is ignored (Prefect ignores it too) "
                "and never sent to the server",
                *path,
                name,
            )


def _a(what: str) -> str:
    if what.startswith("the "):
        return what
    return f"{'an' if what[0] in 'aeiou' else 'a'} {what}"
