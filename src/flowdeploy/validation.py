"""What the Prefect server would refuse, checked before the first write (pure).

A value can pass the loader (it has the right YAML shape) and still be refused by the server
when it is written: a negative concurrency limit (422), a limit too large for the database
column (500), a deployment name containing ``/`` (500), a parameter that does not fit the
flow's schema when the schema is enforced (422 on create, 409 on update), a trigger the
server's automation models refuse (422). ``refusals`` finds all of them for one resolved
deployment, so a plan reports them and an apply stops (exit 2) before writing anything.

Each check mirrors a model or a validator of Prefect 3.9.1's server, read from its source and
checked against a running server:

- names: ``prefect.types.names`` (``BANNED_CHARACTERS``; the server builds its core
  ``Deployment`` and ``WorkQueue`` models after accepting the request, so a banned character
  is a 500, not a 422);
- ``concurrency_limit``: ``PositiveInteger`` in ``DeploymentCreate``, stored in a
  ``concurrency_limit_v2.limit`` INTEGER column; ``concurrency_options``:
  ``schemas.core.ConcurrencyOptions`` (a strategy is required, grace period 60..86400 s);
- schedules: ``max_scheduled_runs`` at most ``PREFECT_DEPLOYMENT_SCHEDULE_MAX_SCHEDULED_RUNS``
  (50), slugs unique within a deployment (409);
- parameters: ``validate_parameter_size`` (512 KiB serialized) and, when the schema is
  enforced, ``validate_parameter_openapi_schema`` and ``validate_values_conform_to_schema``
  (``jsonschema.validate`` with every ``required`` removed and no remote ``$ref``), which is
  what ``DeploymentCreate`` -- the body ``prefect deploy`` always sends -- runs;
- triggers: ``prefect.server.events.schemas.automations`` (``EventTrigger``,
  ``CompoundTrigger``, ``SequenceTrigger``, ``AutomationCore.prevent_run_deployment_loops``)
  and ``prefect.server.events.actions.RunDeployment``, applied to the automation body
  flowdeploy sends (``runner.automation_body``); metric triggers (Prefect Cloud only) are
  checked against the client's ``MetricTrigger`` model, as ``prefect deploy`` checks them;
- job variables against a work pool's ``base_job_template`` (``job_variable_refusals``):
  ``prefect.server.api.validation.validate_job_variables_for_deployment``.

A placeholder that a plan without a server leaves in place (``{{ prefect.variables.x }}``,
``{{ prefect.blocks.… }}``) stands for a value not known yet, so it is never checked as the
literal text. Any other ``{{ … }}`` text is sent as written -- the server resolves no
placeholder in a deployment's parameters -- and is checked like any string.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from copy import deepcopy
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from flowdeploy.errors import ConfigError, ConfigErrors, Location
from flowdeploy.project import COLLISION_STRATEGIES, DeploymentSpec
from flowdeploy.runner import Deployment, automation_body

BANNED_CHARACTERS = ("/", "%", "&", ">", "<")
"""``prefect.types.names.BANNED_CHARACTERS``: refused in deployment, flow and queue names."""
MAX_DB_INTEGER = 2**31 - 1
"""The largest value of an INTEGER column in Prefect's PostgreSQL schema (the concurrency
limit's column): a PostgreSQL-backed server answers 503 above it (checked); SQLite's column
holds up to 2**63 - 1, and a SQLite-backed server answers 500 above that (checked)."""
GRACE_PERIOD_SECONDS = (60, 86_400)
"""``ConcurrencyOptions.grace_period_seconds``: ``ge=60, le=86400``."""
MAX_SCHEDULED_RUNS = 50
MAX_SCHEDULED_RUNS_ENV = (
    "PREFECT_SERVER_DEPLOYMENT_SCHEDULE_MAX_SCHEDULED_RUNS",
    "PREFECT_DEPLOYMENT_SCHEDULE_MAX_SCHEDULED_RUNS",
)
MAX_PARAMETER_SIZE = 524_288
MAX_PARAMETER_SIZE_ENV = "PREFECT_SERVER_API_MAX_PARAMETER_SIZE"
FLOW_RUN_LOOP_EVENTS = frozenset(
    {
        "prefect.flow-run.Scheduled",
        "prefect.flow-run.Pending",
        "prefect.flow-run.Running",
        "prefect.flow-run.*",
    }
)
"""``prevent_run_deployment_loops``: events every run of the deployment itself emits."""

_DEPLOYMENT_ID = "00000000-0000-0000-0000-000000000000"
_OFFLINE_PLACEHOLDER = re.compile(r"{{\s*prefect\.(?:variables|blocks)\.")

KeyPath = tuple[str | int, ...]


# -- the entry point ---------------------------------------------------------------------


def refusals(spec: DeploymentSpec, environ: Mapping[str, str] | None = None) -> list[ConfigError]:
    """Everything the Prefect server would refuse in this deployment, each at its key's line.

    ``environ`` is read for the two limits a server can be configured with
    (``PREFECT_SERVER_DEPLOYMENT_SCHEDULE_MAX_SCHEDULED_RUNS``,
    ``PREFECT_SERVER_API_MAX_PARAMETER_SIZE``); Prefect's defaults apply otherwise.
    """
    env = environ or {}
    check = _Checker(spec)
    check.names()
    check.concurrency()
    check.schedules(_env_int(env, MAX_SCHEDULED_RUNS_ENV, MAX_SCHEDULED_RUNS))
    check.parameters(_env_int(env, (MAX_PARAMETER_SIZE_ENV,), MAX_PARAMETER_SIZE))
    check.triggers()
    return sorted(check.errors, key=_line)


def check_specs(specs: Iterable[DeploymentSpec], environ: Mapping[str, str] | None = None) -> None:
    """``refusals`` for every deployment; raise them all at once (exit 2), if any."""
    errors = [e for spec in specs for e in refusals(spec, environ)]
    if errors:
        raise ConfigErrors(errors) if len(errors) > 1 else errors[0]


def job_variable_refusals(
    dep: Deployment, pool: Mapping[str, Any], spec: DeploymentSpec | None = None
) -> list[ConfigError]:
    """``dep``'s job variables against its work pool's ``base_job_template``, as the server
    validates them on create and update (422): required variables are not asked for (a
    flow run may still give them), the template's own defaults fill the rest. ``spec``
    (where ``dep`` was read from) locates the errors."""
    located = spec or DeploymentSpec(deployment=dep)
    check = _Checker(located.model_copy(update={"deployment": dep}))
    template = pool.get("base_job_template") or {}
    schema = template.get("variables") if isinstance(template, Mapping) else None
    if not dep.job_variables or not isinstance(schema, dict) or not schema:
        return []
    import jsonschema  # type: ignore[import-untyped, unused-ignore]  # 40 ms: when needed

    validator = jsonschema.Draft202012Validator
    try:
        validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        check.error(
            f"work pool {pool.get('name')!r} has an invalid job template",
            ("work_pool", "name"),
            why=f"its 'variables' schema is not valid JSON Schema ({exc.message}); the "
            "server refuses every deployment that sets job variables on it",
            fix="fix the pool's base job template (prefect work-pool update --base-job-template)",
        )
        return check.errors
    values = {**_template_defaults(schema), **_jsonable(dep.job_variables)}
    prepared = _remove_required(_preprocess(schema, allow_none_with_default=True))
    for field, error in _schema_errors(values, prepared, validator):
        check.error(
            f"job variable {field or 'job_variables'!r} of deployment {dep.full_name!r} does "
            f"not fit work pool {pool.get('name')!r}",
            ("work_pool", "job_variables", *error.absolute_path),
            why=f"the server refuses it: {error.message}",
            fix="give a value of the type the pool's job template declares for it "
            f"(prefect work-pool inspect {pool.get('name')})",
        )
    return check.errors


# -- the checks ------------------------------------------------------------------------


class _Checker:
    def __init__(self, spec: DeploymentSpec) -> None:
        self.spec = spec
        self.dep: Deployment = spec.deployment
        self.name = repr(spec.deployment.full_name)
        self.errors: list[ConfigError] = []

    def where(self, keys: Iterable[str | int]) -> Location | None:
        return self.spec.where_of(*keys)

    def error(self, what: str, keys: Iterable[str | int], *, why: str, fix: str) -> None:
        self.errors.append(ConfigError(what, why=why, fix=fix, where=self.where(keys)))

    # -- names ---------------------------------------------------------------------------

    def names(self) -> None:
        dep = self.dep
        banned = _banned(dep.name)
        if banned:
            self.error(
                f"deployment name {dep.name!r} contains {_chars(banned)}",
                ("name",),
                why=f"Prefect does not allow any of {' '.join(BANNED_CHARACTERS)} in names; "
                "the server fails with an internal error (500) on such a deployment",
                fix=f"remove {_chars(banned)} from the name (use '-' or '_' instead)",
            )
        flow_banned = _banned(dep.flow_name or "")
        if flow_banned:
            self.error(
                f"flow name {dep.flow_name!r} of deployment {dep.name!r} contains "
                f"{_chars(flow_banned)}",
                ("entrypoint",),
                why=f"Prefect does not allow any of {' '.join(BANNED_CHARACTERS)} in flow names",
                fix=f"remove {_chars(flow_banned)} from the flow's name",
            )
        queue = dep.work_queue_name
        queue_banned = _banned(queue or "")
        if queue_banned:
            self.error(
                f"work queue name {queue!r} of deployment {self.name} contains "
                f"{_chars(queue_banned)}",
                ("work_pool", "work_queue_name"),
                why=f"Prefect does not allow any of {' '.join(BANNED_CHARACTERS)} in names; "
                "the server fails with an internal error (500) when it creates the queue",
                fix=f"remove {_chars(queue_banned)} from the work queue name",
            )

    # -- concurrency -----------------------------------------------------------------------

    def concurrency(self) -> None:
        dep = self.dep
        mapping = ("concurrency_limit", "limit") in self.spec.lines or (
            dep.concurrency_options is not None
        )
        key: KeyPath = ("concurrency_limit", "limit") if mapping else ("concurrency_limit",)
        limit = dep.concurrency_limit
        if limit is not None and limit < 1:
            self.error(
                f"concurrency_limit {limit} of deployment {self.name} is not positive",
                key,
                why="the server accepts only a limit of 1 or more (422: Input should be "
                "greater than 0)",
                fix="give a limit of 1 or more, or remove concurrency_limit for no limit",
            )
        elif limit is not None and limit > MAX_DB_INTEGER:
            self.error(
                f"concurrency_limit {limit} of deployment {self.name} is too large",
                key,
                why=f"Prefect stores the limit in an INTEGER column, which holds at most "
                f"{MAX_DB_INTEGER} on PostgreSQL; a larger value makes the server fail (503 "
                "on PostgreSQL, 500 on SQLite above 9223372036854775807)",
                fix=f"give a limit of at most {MAX_DB_INTEGER}, or remove concurrency_limit "
                "for no limit",
            )
        options = dep.concurrency_options
        if options is None:
            return
        if options.get("collision_strategy") is None:
            self.error(
                f"concurrency_limit of deployment {self.name} has no collision_strategy",
                ("concurrency_limit",),
                why="in the mapping form Prefect requires one (422: Input should be 'ENQUEUE' "
                "or 'CANCEL_NEW')",
                fix="add 'collision_strategy: ENQUEUE' (or CANCEL_NEW), or write the limit "
                "alone: 'concurrency_limit: 2'",
            )
        elif options["collision_strategy"] not in COLLISION_STRATEGIES:
            self.error(
                f"collision_strategy {options['collision_strategy']!r} of deployment "
                f"{self.name} is not valid",
                ("concurrency_limit", "collision_strategy"),
                why="the server accepts only " + " or ".join(COLLISION_STRATEGIES),
                fix=f"use one of {', '.join(COLLISION_STRATEGIES)}",
            )
        grace = options.get("grace_period_seconds")
        if grace is not None:
            low, high = GRACE_PERIOD_SECONDS
            problem = _invalid(TypeAdapter(Annotated[int, Field(ge=low, le=high)]), grace)
            if problem:
                self.error(
                    f"grace_period_seconds {grace!r} of deployment {self.name} is not valid",
                    ("concurrency_limit", "grace_period_seconds"),
                    why=f"the server accepts whole seconds from {low} to {high} (422: {problem})",
                    fix=f"give a number of seconds from {low} to {high}, or remove it to use "
                    "the server's default",
                )

    # -- schedules -----------------------------------------------------------------------

    def schedules(self, max_runs: int) -> None:
        seen: dict[str, int] = {}
        for i, schedule in enumerate(self.dep.schedules or []):
            runs = schedule.get("max_scheduled_runs")
            if isinstance(runs, int) and runs > max_runs:
                self.error(
                    f"max_scheduled_runs {runs} of schedule #{i + 1} of deployment "
                    f"{self.name} is above the server's limit of {max_runs}",
                    ("schedules", i, "max_scheduled_runs"),
                    why=f"Prefect refuses more than {max_runs} (the setting "
                    f"{MAX_SCHEDULED_RUNS_ENV[0]}; 422)",
                    fix=f"give at most {max_runs}; if your server allows more, set "
                    f"{MAX_SCHEDULED_RUNS_ENV[0]} to the same value for flowdeploy",
                )
            slug = schedule.get("slug")
            if isinstance(slug, str) and slug:
                if slug in seen:
                    self.error(
                        f"schedule slug {slug!r} is used twice in deployment {self.name}",
                        ("schedules", i, "slug"),
                        why=f"schedule #{seen[slug] + 1} has the same slug; the server refuses "
                        "duplicate slugs within a deployment (409)",
                        fix="give each schedule its own slug",
                    )
                else:
                    seen[slug] = i

    # -- parameters ----------------------------------------------------------------------

    def parameters(self, max_size: int) -> None:
        dep = self.dep
        values = _jsonable(dep.parameters)
        size = len(json.dumps(values, separators=(",", ":")).encode())
        if max_size > 0 and size > max_size:
            self.error(
                f"the parameters of deployment {self.name} are too large ({size:,} bytes as JSON)",
                ("parameters",),
                why=f"the server refuses parameters larger than {max_size:,} bytes (the "
                f"setting {MAX_PARAMETER_SIZE_ENV}; 422)",
                fix="pass large data by reference (a file path, a URL, a block) instead",
            )
        if not dep.enforce_parameter_schema:
            return
        schema = dep.parameter_openapi_schema
        problem = _schema_problem(json.dumps(schema, sort_keys=True, default=str))
        if problem:
            self.error(
                f"the parameter schema of flow {dep.flow_name!r} is not valid JSON Schema",
                ("entrypoint",),
                why=f"with enforce_parameter_schema the server checks it and refuses it "
                f"(422: {problem})",
                fix="set 'enforce_parameter_schema: false' for this deployment, or change "
                "the flow's parameter annotations",
            )
            return
        import referencing.exceptions

        try:
            problems = _schema_errors(values, _remove_required(schema))
        except referencing.exceptions.Unresolvable as exc:
            self.error(
                f"the parameter schema of flow {dep.flow_name!r} has a reference that "
                "cannot be resolved",
                ("entrypoint",),
                why=f"the server cannot validate the parameters against it (422: {exc})",
                fix="set 'enforce_parameter_schema: false' for this deployment",
            )
            return
        for field, error in problems:
            failed = f"for field {field!r}" if field else ""
            self.error(
                f"parameter {field!r} of deployment {self.name} does not fit the flow's "
                "parameter schema"
                if field
                else f"the parameters of deployment {self.name} do not fit the flow's "
                "parameter schema",
                ("parameters", *error.absolute_path),
                why=f"Validation failed{' ' + failed if failed else ''}. Failure reason: "
                f"{error.message} (enforce_parameter_schema is on, so the server refuses it)",
                fix="give a value of the parameter's type, or set "
                "'enforce_parameter_schema: false' to skip the check",
            )

    # -- triggers ------------------------------------------------------------------------

    def triggers(self) -> None:
        for i, trigger in enumerate(self.dep.triggers):
            at: KeyPath = ("triggers", i)
            try:
                body = automation_body(trigger, _DEPLOYMENT_ID)
            except ConfigError as exc:  # schedule_after that is no duration
                self.errors.append(
                    ConfigError(
                        f"trigger #{i + 1} of deployment {self.name}: {exc.what}",
                        why="the server takes a duration of zero or more (seconds, or "
                        "ISO 8601 such as PT5M)",
                        fix=exc.fix,
                        where=self.where((*at, "schedule_after")),
                    )
                )
                continue
            self.automation(body, trigger, at, i)
            self.trigger(body["trigger"], at, f"trigger #{i + 1} of deployment {self.name}")

    def automation(self, body: dict[str, Any], raw: dict[str, Any], at: KeyPath, i: int) -> None:
        what = f"trigger #{i + 1} of deployment {self.name}"
        fields = {k: body[k] for k in ("name", "description", "enabled")}
        self.model_errors(_Automation, fields, raw, at, what)
        action = body["actions"][0]
        fields = {k: action[k] for k in ("parameters", "job_variables", "schedule_after")}
        self.model_errors(_RunDeployment, fields, raw, at, what)
        trigger = body["trigger"]
        if self.loops(body, trigger):
            self.error(
                f"{what} would run the deployment on its own flow runs' events",
                (*at, "expect"),
                why="it expects flow-run state events "
                f"({', '.join(sorted(FLOW_RUN_LOOP_EVENTS & set(trigger['expect'])))}) from "
                "any flow run, so each run it starts would start another; the server refuses "
                "it (422)",
                fix="narrow it with 'match' or 'match_related' (e.g. match_related: "
                '{"prefect.resource.id": "prefect.flow.<flow id>"}), or disable it',
            )

    @staticmethod
    def loops(body: Mapping[str, Any], trigger: Any) -> bool:
        """``AutomationCore.prevent_run_deployment_loops`` for a 'selected' RunDeployment."""
        if not isinstance(trigger, dict) or trigger.get("type", "event") != "event":
            return False
        if body.get("enabled") is False or trigger.get("posture") != "Reactive":
            return False
        expect = trigger.get("expect")
        if not isinstance(expect, list) or not all(isinstance(e, str) for e in expect):
            return False
        if not any(e.startswith("prefect.flow-run.") for e in expect):
            return False
        if not FLOW_RUN_LOOP_EVENTS & set(expect):
            return False
        related = trigger.get("match_related")
        relateds = related if isinstance(related, list) else [related]
        return _every_flow_run(trigger.get("match")) and any(_every_flow_run(r) for r in relateds)

    def trigger(self, trigger: Any, at: KeyPath, name: str) -> None:
        if not isinstance(trigger, dict):
            self.error(
                f"{name} is not a mapping",
                at,
                why="the server takes each trigger as a mapping of its settings",
                fix="write it as 'type: event' with its settings below",
            )
            return
        kind = trigger.get("type", "event")
        model = _TRIGGER_MODELS.get(kind) if isinstance(kind, str) else None
        if model is None:
            self.error(
                f"{name} has unknown type {kind!r}",
                (*at, "type"),
                why="Prefect knows the trigger types event, metric, compound and sequence",
                fix="use one of event, metric, compound, sequence",
            )
            return
        if kind == "event" and self.event_precheck(trigger, at, name):
            return
        if not self.model_errors(model, trigger, trigger, at, name) and kind == "compound":
            require, children = trigger.get("require"), trigger.get("triggers") or []
            if isinstance(require, str) and require not in ("any", "all"):
                require = int(require)  # the model accepted it: an integer in a string
            if (
                isinstance(require, int)
                and not isinstance(require, bool)
                and not 1 <= require <= len(children)
            ):
                self.error(
                    f"{name}: require {require} is out of range",
                    (*at, "require"),
                    why=f"it must be from 1 to the number of triggers ({len(children)}); "
                    "the server refuses it (422)",
                    fix="give a number in that range, or 'any' / 'all'",
                )
        children = trigger.get("triggers")
        if kind in ("compound", "sequence") and isinstance(children, list):
            for j, child in enumerate(children):
                self.trigger(child, (*at, "triggers", j), f"{name}, nested trigger #{j + 1}")

    def event_precheck(self, trigger: dict[str, Any], at: KeyPath, name: str) -> bool:
        """``EventTrigger.enforce_minimum_within_for_proactive_triggers`` (a model
        'before' validator: when it refuses, nothing else is checked)."""
        within = trigger.get("within")
        if "within" in trigger and within is None:
            self.error(
                f"{name}: 'within' is empty",
                (*at, "within"),
                why="the server needs a duration there (422: `within` should be a valid timedelta)",
                fix="give seconds (e.g. 'within: 60'), or remove 'within' for 0",
            )
            return True
        if trigger.get("posture") != "Proactive" or _has_placeholder(within):
            return False
        try:
            duration = TypeAdapter(timedelta).validate_python(within)
        except ValidationError:
            return False  # the field check reports it
        if duration and duration < timedelta(seconds=10):
            self.error(
                f"{name}: 'within' is {duration.total_seconds():g} seconds",
                (*at, "within"),
                why="a Proactive trigger needs 'within' of 10 seconds or more (422)",
                fix="give 'within: 10' or more (or leave it out: Prefect then uses 10)",
            )
            return True
        return False

    def model_errors(
        self,
        model: type[BaseModel],
        fields: Mapping[str, Any],
        raw: Mapping[str, Any],
        at: KeyPath,
        name: str,
    ) -> bool:
        # Metric triggers exist only on Prefect Cloud (a Prefect server refuses every one):
        # they are checked as Prefect's client checks them, not as a server answers.
        who = "Prefect refuses it" if model is _MetricTrigger else "the server refuses it (422)"
        """Validate ``fields`` as the server receives them (JSON) with a model that mirrors
        the server's; one error per offending key. Returns whether any was found."""
        try:
            model.model_validate_json(json.dumps(fields, default=str))
        except ValidationError as exc:
            found: dict[KeyPath, list[str]] = {}
            for err in exc.errors():
                loc = _yaml_loc(err["loc"], fields)
                if err["type"] == "missing":
                    missing = str(err["loc"][-1])
                    self.error(
                        f"{name}: '{missing}' is missing",
                        at,
                        why=f"{who}: Field required",
                        fix=_TRIGGER_FIXES.get(missing, _TRIGGER_FIX),
                    )
                    continue
                if _has_placeholder(_value_at(raw, loc)):
                    continue
                messages = found.setdefault(loc, [])
                if err["msg"] not in messages:
                    messages.append(err["msg"])
            for loc, messages in found.items():
                key = ".".join(str(k) for k in loc) or "it"
                value = _value_at(raw, loc) if loc else None
                shown = f" {value!r}" if isinstance(value, (str, int, float)) else ""
                self.error(
                    f"{name}: {key}{shown} is not valid",
                    (*at, *loc),
                    why=f"{who}: {'; '.join(messages)}",
                    fix=_TRIGGER_FIXES.get(str(loc[0]) if loc else "", _TRIGGER_FIX),
                )
            return True
        return False


# -- mirrors of the server's trigger and action models ----------------------------------

_Labels = dict[str, str | list[str]]
"""``ResourceSpecification``: label -> value or values."""


class _Mirror(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _EventTrigger(_Mirror):
    type: Literal["event"] = "event"
    match: _Labels = Field(default_factory=dict)
    match_related: _Labels | list[_Labels] = Field(default_factory=dict)
    after: set[str] = Field(default_factory=set)
    expect: set[str] = Field(default_factory=set)
    for_each: set[str] = Field(default_factory=set)
    posture: Literal["Reactive", "Proactive"]
    threshold: int = 1
    within: timedelta = Field(default=timedelta(0), ge=timedelta(0))


class _CompoundTrigger(_Mirror):
    type: Literal["compound"]
    triggers: list[Any]
    within: timedelta | None
    require: int | Literal["any", "all"]


class _SequenceTrigger(_Mirror):
    type: Literal["sequence"]
    triggers: list[Any]
    within: timedelta | None


class _MetricQuery(_Mirror):
    name: str
    threshold: float
    operator: Literal["<", "<=", ">", ">="]
    range: timedelta = timedelta(seconds=300)
    firing_for: timedelta = timedelta(seconds=300)

    @field_validator("range", "firing_for")
    @classmethod
    def _minimum(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=300):
            raise ValueError("The minimum range is 300 seconds (5 minutes)")
        return value


class _MetricTrigger(_Mirror):
    type: Literal["metric"]
    match: _Labels = Field(default_factory=dict)
    match_related: _Labels | list[_Labels] = Field(default_factory=dict)
    posture: Literal["Metric"] = "Metric"
    metric: _MetricQuery


_TRIGGER_MODELS: dict[str, type[BaseModel]] = {
    "event": _EventTrigger,
    "compound": _CompoundTrigger,
    "sequence": _SequenceTrigger,
    "metric": _MetricTrigger,
}


class _Automation(_Mirror):
    name: str
    description: str
    enabled: bool


class _RunDeployment(_Mirror):
    parameters: dict[str, Any] | None
    job_variables: dict[str, Any] | None
    schedule_after: timedelta = Field(ge=timedelta(0))


_TRIGGER_FIX = "see Prefect's trigger reference: docs.prefect.io/v3/automate/events/custom-triggers"
_TRIGGER_FIXES = {
    "posture": "use Reactive (respond to events) or Proactive (respond to their absence); "
    "the case matters",
    "threshold": "give a whole number of events, e.g. 'threshold: 1'",
    "within": "give seconds (e.g. 'within: 60') or an ISO 8601 duration (PT1M)",
    "expect": "give a list of event names, e.g. 'expect: [prefect.flow-run.Completed]'",
    "after": "give a list of event names",
    "for_each": "give a list of label names, e.g. 'for_each: [prefect.resource.id]'",
    "match": "give a mapping of label to value or list of values, e.g. "
    "'match: {prefect.resource.id: prefect.flow-run.*}'",
    "match_related": "give a mapping of label to value or list of values (or a list of "
    "such mappings)",
    "require": "give 'any', 'all' or a number of triggers",
    "triggers": "give a list of triggers",
    "metric": "give 'metric: {name: lateness, threshold: 60, operator: \">\"}' "
    "(range and firing_for at least 300 seconds)",
    "name": "quote it to make it a string",
    "description": "write a string, or remove the key",
    "enabled": "use true or false",
    "parameters": "write a mapping of parameter names to values",
    "job_variables": "write a mapping of job variable names to values",
    "schedule_after": "give seconds, e.g. 'schedule_after: 60'",
}


# -- helpers -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _schema_problem(schema: str) -> str | None:
    """``validate_parameter_openapi_schema``: the schema (as JSON) against the 2020-12
    meta-schema; cached, as deployments of one flow share a schema.

    jsonschema-rs answers first: about 1.4 ms per schema with jsonschema, the costliest part
    of checking a deployment, against microseconds. The server's own library (jsonschema)
    says why when it fails, and has the last word on regular expressions (``pattern``),
    which only it checks, as Python's ``re`` reads them."""
    import jsonschema_rs

    parsed = json.loads(schema)
    if '"pattern' not in schema and jsonschema_rs.meta.is_valid(parsed):
        return None
    import jsonschema  # type: ignore[import-untyped, unused-ignore]  # 40 ms: when needed

    try:
        jsonschema.Draft202012Validator.check_schema(parsed)
    except jsonschema.SchemaError as exc:
        return str(exc.message)
    return None


def _line(error: ConfigError) -> int:
    return (error.where.line or 0) if error.where else 0


def _banned(name: str) -> list[str]:
    return [c for c in BANNED_CHARACTERS if c in name]


def _chars(chars: list[str]) -> str:
    return " ".join(repr(c) for c in chars)


def _env_int(environ: Mapping[str, str], names: Iterable[str], default: int) -> int:
    for name in names:
        value = environ.get(name)
        if value is not None:
            try:
                return int(value)
            except ValueError:
                return default
    return default


_JSON: TypeAdapter[dict[str, Any]] = TypeAdapter(
    dict[str, Any], config=ConfigDict(ser_json_timedelta="float")
)


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    """The values as the server receives them: Prefect serializes parameters with pydantic
    in JSON mode (a YAML date becomes an ISO string)."""
    try:
        dumped: dict[str, Any] = _JSON.dump_python(dict(values), mode="json")
    except Exception:  # pydantic cannot serialize it: check the values as they are
        return dict(values)
    return dumped


def _has_placeholder(value: Any) -> bool:
    """Whether the value holds a placeholder a plan without a server left unresolved."""
    if isinstance(value, str):
        return bool(_OFFLINE_PLACEHOLDER.search(value))
    if isinstance(value, dict):
        return any(_has_placeholder(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_placeholder(v) for v in value)
    return False


class _Unknown:
    """Stands for a value not known yet; errors about it are dropped."""

    def __repr__(self) -> str:
        return "<placeholder>"


_UNKNOWN = _Unknown()


def _masked(value: Any) -> Any:
    if isinstance(value, str) and _OFFLINE_PLACEHOLDER.search(value):
        return _UNKNOWN
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def _holds_unknown(value: Any) -> bool:
    if value is _UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(_holds_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_unknown(v) for v in value)
    return False


def _schema_errors(
    values: dict[str, Any], schema: dict[str, Any], cls: Any = None
) -> list[tuple[str | None, Any]]:
    """``jsonschema.validate`` as Prefect calls it (the schema's own draft, 2020-12 by
    default, unless ``cls`` is given; no format checks; no remote references), one error
    per top-level key: the one ``best_match`` picks, which is the one the server reports.
    The field is ``a.b`` for a nested value, None for the parameters as a whole."""
    import jsonschema  # type: ignore[import-untyped, unused-ignore]  # 40 ms: when needed
    from referencing import Registry

    cls = cls or jsonschema.validators.validator_for(schema)
    validator = cls(schema, registry=Registry())
    groups: dict[str, list[Any]] = {}
    for error in validator.iter_errors(_masked(values)):
        if _holds_unknown(error.instance):
            continue
        steps = list(error.absolute_path)
        groups.setdefault(str(steps[0]) if steps else "", []).append(error)
    found: list[tuple[str | None, Any]] = []
    for errors in groups.values():
        best = jsonschema.exceptions.best_match(errors)
        path = str(best.json_path)
        found.append((path.removeprefix("$.") if path != "$" else None, best))
    return found


def _remove_required(obj: Any) -> Any:
    """``prefect.utilities.collections.remove_nested_keys(["required"], …)``: dicts only
    (lists are not entered), so ``required`` inside ``anyOf`` items stays."""
    if not isinstance(obj, dict):
        return obj
    return {k: _remove_required(v) for k, v in obj.items() if k != "required"}


def _preprocess(schema: dict[str, Any], *, allow_none_with_default: bool) -> dict[str, Any]:
    """``prefect.utilities.schema_tools.validation.preprocess_schema``: repairs Pydantic v1
    schemas (optional fields, tuples) and lets block fields be given by reference."""
    schema = deepcopy(schema)
    if isinstance(schema.get("properties"), dict):
        _process_properties(
            schema["properties"], schema.get("required", []), allow_none_with_default
        )
    definitions = schema.get("definitions")
    if isinstance(definitions, dict):
        for definition in list(definitions.values()):
            if not isinstance(definition, dict):
                continue
            if isinstance(definition.get("properties"), dict):
                _process_properties(
                    definition["properties"],
                    definition.get("required", []),
                    allow_none_with_default,
                )
            if "block_type_slug" in definition:
                definitions[definition["title"]] = {
                    "oneOf": [definition, _BLOCK_REFERENCE],
                }
    return schema


_BLOCK_REFERENCE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "$ref": {
            "oneOf": [
                {"type": "string", "format": "uuid"},
                {"type": "object", "additionalProperties": {"type": "string"}, "minProperties": 1},
            ]
        }
    },
    "required": ["$ref"],
}


def _process_properties(
    properties: dict[str, Any], required: Any, allow_none_with_default: bool
) -> None:
    for key, prop in properties.items():
        if not isinstance(prop, dict):
            continue
        if (
            key not in required
            and "type" in prop
            and prop.get("type") != "null"
            and ("default" not in prop or allow_none_with_default)
        ):
            prop["anyOf"] = [{"type": prop["type"]}, {"type": "null"}]
            del prop["type"]
        items = prop.get("items")
        if items and isinstance(items, list) and not prop.get("prefixItems"):
            prop["prefixItems"] = deepcopy(items)
            del prop["items"]
        if isinstance(prop.get("properties"), dict):
            _process_properties(
                prop["properties"], prop.get("required", []), allow_none_with_default
            )


def _template_defaults(schema: dict[str, Any]) -> dict[str, Any]:
    """The job template's defaults that the server merges under the deployment's values:
    block references (resolved by the server) and defaults that do not fit are left out."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return {}
    import jsonschema  # type: ignore[import-untyped, unused-ignore]  # 40 ms: when needed
    import referencing.exceptions
    from referencing import Registry

    unrequired = _remove_required(schema)
    validator = jsonschema.Draft202012Validator(
        unrequired,
        registry=Registry(),
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )
    defaults: dict[str, Any] = {}
    for name, prop in properties.items():
        if not isinstance(prop, dict) or "default" not in prop:
            continue
        default = prop["default"]
        if isinstance(default, dict) and "$ref" in default:
            continue
        try:
            if next(validator.iter_errors({name: default}), None) is None:
                defaults[name] = default
        except referencing.exceptions.Unresolvable:
            continue
    return defaults


def _every_flow_run(spec: Any) -> bool:
    """``ResourceSpecification.matches_every_resource_of_kind("prefect.flow-run")``."""
    if not isinstance(spec, dict):
        return False
    if not spec:
        return True
    if len(spec) == 1:
        resource_id = spec.get("prefect.resource.id")
        if resource_id:
            values = [resource_id] if isinstance(resource_id, str) else resource_id
            return any(v == "prefect.flow-run.*" for v in values)
    return False


def _child(current: Any, part: int | str) -> tuple[bool, Any]:
    """``current[part]`` when ``part`` is a key of a mapping or an index of a list."""
    if isinstance(current, dict) and part in current:
        return True, current[part]
    if isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
        return True, current[part]
    return False, None


def _yaml_loc(loc: tuple[int | str, ...], data: Any) -> KeyPath:
    """A pydantic error location as a key path in the data: union member names
    (``str``, ``list[str]``, ``function-after[…]``) are dropped, and so is an index into a
    value that is not a list."""
    path: list[str | int] = []
    current = data
    for part in loc:
        found, value = _child(current, part)
        if found:
            path.append(part)
            current = value
    return tuple(path)


def _value_at(data: Any, path: KeyPath) -> Any:
    current = data
    for part in path:
        found, current = _child(current, part)
        if not found:
            return None
    return current


def _invalid(adapter: TypeAdapter[Any], value: Any) -> str | None:
    """The first message of validating ``value`` (as JSON, as the server receives it)."""
    if _has_placeholder(value):
        return None
    try:
        adapter.validate_json(json.dumps(value, default=str))
    except ValidationError as exc:
        return str(exc.errors()[0]["msg"])
    return None
