"""The deployment model: Prefect's ``RunnerDeployment`` fields, read from source, not imported.

Field names and meanings follow ``prefect.deployments.runner.RunnerDeployment``. This module
is data and API bodies only; registering (``RunnerDeployment.apply()``, in ``publish``) is the
orchestration's job, so the model never imports it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from flowdeploy import schedules as sched
from flowdeploy.errors import ConfigError

if TYPE_CHECKING:
    from typing_extensions import Self

EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
_PARAMETERS: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])
TRIGGER_ONLY_KEYS = (
    "name",
    "description",
    "enabled",
    "parameters",
    "job_variables",
    "schedule_after",
)
EVENT_TRIGGER_DEFAULTS: dict[str, Any] = {
    "match": {},
    "match_related": {},
    "after": [],
    "expect": [],
    "for_each": [],
    "posture": "Reactive",
    "threshold": 1,
    "within": 0.0,
}


class Deployment(BaseModel):
    """A deployment as ``prefect deploy`` registers it.

    ``schedules`` holds API schedule bodies (see ``flowdeploy.schedules.build_schedule``);
    ``None`` leaves the server's schedules as they are, as Prefect does. ``pull_steps``
    is what Prefect derives from ``storage``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    flow_name: str | None = None
    description: str | None = None
    version: str | None = None
    tags: list[str] = Field(default_factory=list)
    schedules: list[dict[str, Any]] | None = None
    paused: bool | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    entrypoint: str | None = None
    path: str | None = None
    triggers: list[dict[str, Any]] = Field(default_factory=list)
    enforce_parameter_schema: bool = True
    pull_steps: list[dict[str, Any]] | None = None
    work_pool_name: str | None = None
    work_queue_name: str | None = None
    job_variables: dict[str, Any] = Field(default_factory=dict)
    concurrency_limit: int | None = None
    concurrency_options: dict[str, Any] | None = None
    parameter_openapi_schema: dict[str, Any] = Field(default_factory=lambda: dict(EMPTY_SCHEMA))

    @field_validator("name", mode="before")
    @classmethod
    def _strip_py(cls, value: Any) -> Any:
        # Prefect names a deployment after a script when given "flow.py".
        if isinstance(value, str) and value.endswith(".py"):
            return Path(value).stem
        return value

    @field_validator("tags")
    @classmethod
    def _tags_non_empty(cls, value: list[str]) -> list[str]:
        if any(not t for t in value):
            raise ValueError("tags must be non-empty strings")
        return value

    @field_validator("parameters")
    @classmethod
    def _json_parameters(cls, value: dict[str, Any]) -> dict[str, Any]:
        # As Prefect sends them (``dump_python(mode="json")``): a YAML date is its ISO text,
        # which is also what the server gives back, so the plan compares like with like.
        dumped: dict[str, Any] = _PARAMETERS.dump_python(value, mode="json")
        return dumped

    @property
    def full_name(self) -> str:
        """``flow-name/deployment-name``, as Prefect shows and looks deployments up."""
        return f"{self.flow_name}/{self.name}"

    # -- constructors ------------------------------------------------------------------

    @classmethod
    def from_entrypoint(
        cls,
        entrypoint: str,
        name: str,
        *,
        project_dir: Path | str = ".",
        interval: Iterable[int | float | timedelta] | int | float | timedelta | None = None,
        cron: Iterable[str] | str | None = None,
        rrule: Iterable[str] | str | None = None,
        timezone: str | None = None,
        anchor_date: datetime | str | None = None,
        schedule: dict[str, Any] | None = None,
        schedules: list[dict[str, Any]] | None = None,
        paused: bool | None = None,
        parameters: dict[str, Any] | None = None,
        description: str | None = None,
        tags: list[str] | None = None,
        version: str | None = None,
        enforce_parameter_schema: bool = True,
        work_pool_name: str | None = None,
        work_queue_name: str | None = None,
        job_variables: dict[str, Any] | None = None,
        concurrency_limit: int | None = None,
        triggers: list[dict[str, Any]] | None = None,
        pull_steps: list[dict[str, Any]] | None = None,
    ) -> Self:
        """Build a deployment for the flow at ``entrypoint``, read statically from source.

        As in Prefect, at most one of ``interval``, ``cron``, ``rrule``, ``schedule`` and
        ``schedules`` may be given; ``schedules`` entries use prefect.yaml's shape.
        """
        from flowdeploy.flows import FlowReader

        root = Path(project_dir).resolve()
        flow = FlowReader(root, root).read(entrypoint)
        built = _schedules_from_arguments(
            interval, cron, rrule, timezone, anchor_date, schedule, schedules
        )
        return cls(
            name=name,
            flow_name=flow.name,
            description=description or flow.description,
            version=version or flow.version,
            tags=tags or [],
            schedules=built,
            paused=paused,
            parameters=parameters or {},
            entrypoint=entrypoint,
            triggers=name_triggers(name, triggers or []),
            enforce_parameter_schema=enforce_parameter_schema,
            pull_steps=pull_steps,
            work_pool_name=work_pool_name,
            work_queue_name=work_queue_name,
            job_variables=job_variables or {},
            concurrency_limit=concurrency_limit,
            parameter_openapi_schema=flow.parameter_openapi_schema,
        )

    @classmethod
    def from_storage(
        cls,
        url: str,
        entrypoint: str,
        name: str,
        *,
        branch: str | None = None,
        project_dir: Path | str = ".",
        **kwargs: Any,
    ) -> Self:
        """A deployment whose code a worker clones from git (Prefect's ``GitRepository``).

        The flow is read from ``project_dir``, a checkout of that repository; the
        deployment gets the ``git_clone`` pull step Prefect registers for it.
        """
        clone: dict[str, Any] = {"repository": url}
        if branch:
            clone["branch"] = branch
        steps = [
            {"prefect.deployments.steps.git_clone": {"id": "clone-step", **clone}},
            {
                "prefect.deployments.steps.set_working_directory": {
                    "directory": "{{ clone-step.directory }}"
                }
            },
        ]
        return cls.from_entrypoint(
            entrypoint, name, project_dir=project_dir, pull_steps=steps, **kwargs
        )

    # -- API bodies (pure) ---------------------------------------------------------------

    def with_target(self, work_pool_name: str | None, image: str | None) -> Self:
        """This deployment with the pool and image ``apply`` was given."""
        update: dict[str, Any] = {}
        if work_pool_name:
            update["work_pool_name"] = work_pool_name
        if image:
            update["job_variables"] = {**self.job_variables, "image": image}
        return self.model_copy(update=update) if update else self

    def target_errors(self) -> list[str]:
        """Prefect's pre-write rules that need no server."""
        problems = []
        pool = self.work_pool_name
        if self.job_variables.get("image") and not pool:
            problems.append(
                "An image can only be provided when registering a deployment with a work pool."
            )
        if self.work_queue_name and not pool:
            problems.append(
                "A work queue can only be provided when registering a deployment with a work pool."
            )
        if self.job_variables and not pool:
            problems.append(
                "Job variables can only be provided when registering a deployment with a work pool."
            )
        return problems

    def create_body(self, flow_id: str, now: datetime | None = None) -> dict[str, Any]:
        """POST /deployments/ body, field for field what ``RunnerDeployment._create`` sends."""
        moment = now or datetime.now(timezone.utc)
        body: dict[str, Any] = {
            "flow_id": flow_id,
            "name": self.name,
            "work_queue_name": self.work_queue_name,
            "work_pool_name": self.work_pool_name,
            "version": self.version,
            "version_info": {"type": "prefect:simple", "version": self.version or ""},
            "paused": self.paused,
            "schedules": [sched.anchored(s, moment) for s in self.schedules or []],
            "concurrency_limit": self.concurrency_limit,
            "concurrency_options": self.concurrency_options,
            "parameters": self.parameters,
            "description": self.description,
            "tags": self.tags,
            "path": self.path,
            "entrypoint": self.entrypoint,
            "parameter_openapi_schema": self.parameter_openapi_schema,
            "enforce_parameter_schema": self.enforce_parameter_schema,
        }
        if self.work_pool_name:
            body["job_variables"] = self.job_variables
            body["path"] = None if self.pull_steps is not None else self.path
            body["pull_steps"] = self.pull_steps or []
        return {k: v for k, v in body.items() if v is not None or k in _NULLABLE}

    def update_body(self, now: datetime | None = None) -> dict[str, Any]:
        """PATCH /deployments/{id} body: the whole desired state, so the file is the truth."""
        body = self.create_body("", now)
        body.pop("flow_id")
        body.pop("name")
        body["pull_steps"] = self.pull_steps
        if self.schedules is None:
            body.pop("schedules")
        else:
            body["schedules"] = [
                {k: v for k, v in s.items() if v is not None} for s in body["schedules"]
            ]
        body.setdefault("job_variables", self.job_variables)
        return body

    def automation_bodies(self, deployment_id: str) -> list[dict[str, Any]]:
        """The automations Prefect creates for this deployment's triggers."""
        return [automation_body(t, deployment_id) for t in self.triggers]


_NULLABLE = frozenset(
    {
        "work_queue_name",
        "work_pool_name",
        "description",
        "path",
        "concurrency_limit",
        "concurrency_options",
        "version",
    }
)


def automation_body(spec: dict[str, Any], deployment_id: str) -> dict[str, Any]:
    """A deployment trigger -> the automation Prefect's ``as_automation`` builds."""
    trigger = _with_trigger_defaults({k: v for k, v in spec.items() if k not in TRIGGER_ONLY_KEYS})
    return {
        "name": spec.get("name") or f"Automation for deployment {deployment_id}",
        "description": spec.get("description", ""),
        "enabled": spec.get("enabled", True),
        "trigger": trigger,
        "actions": [
            {
                "type": "run-deployment",
                "source": "selected",
                "deployment_id": deployment_id,
                "parameters": spec.get("parameters"),
                "job_variables": spec.get("job_variables"),
                "schedule_after": _seconds(spec.get("schedule_after", 0)),
            }
        ],
        "actions_on_trigger": [],
        "actions_on_resolve": [],
        "owner_resource": f"prefect.deployment.{deployment_id}",
    }


def _with_trigger_defaults(trigger: dict[str, Any]) -> dict[str, Any]:
    """Prefect's client fills event-trigger defaults, nested ones included; the server
    requires some of them (``posture``) inside compound and sequence triggers."""
    kind = trigger.get("type", "event")
    if kind == "event":
        return {**EVENT_TRIGGER_DEFAULTS, "type": "event", **trigger}
    if kind in ("compound", "sequence") and isinstance(trigger.get("triggers"), list):
        nested = [
            _with_trigger_defaults(t) if isinstance(t, dict) else t for t in trigger["triggers"]
        ]
        # The server requires the key; Prefect's client sends null when none is given.
        return {"within": None, **trigger, "triggers": nested}
    return trigger


def _seconds(value: Any) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    try:
        return sched.parse_interval(value) if value else 0.0
    except sched.ScheduleError:
        raise ConfigError(
            f"schedule_after {value!r} is not a duration",
            fix="give seconds, e.g. 'schedule_after: 60'",
        ) from None


def name_triggers(deployment: str, triggers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Prefect names unnamed triggers ``<deployment>__automation_<n>``."""
    return [
        {**t, "name": t.get("name") or f"{deployment}__automation_{i}"}
        for i, t in enumerate(triggers, start=1)
    ]


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, (str, int, float, timedelta)):
        return [value]
    return list(value)


def _schedules_from_arguments(
    interval: Any,
    cron: Any,
    rrule: Any,
    tz: str | None,
    anchor_date: Any,
    schedule: dict[str, Any] | None,
    schedules: list[dict[str, Any]] | None,
) -> list[dict[str, Any]] | None:
    given = [
        n
        for n, v in (
            ("interval", interval),
            ("cron", cron),
            ("rrule", rrule),
            ("schedule", schedule),
            ("schedules", schedules),
        )
        if v is not None
    ]
    if len(given) > 1:
        raise ConfigError(
            "Only one of interval, cron, rrule, schedule, or schedules can be provided.",
            why=f"got {', '.join(given)}",
            fix="pass a list to one of them, e.g. cron=['0 6 * * *', '0 18 * * *']",
        )
    if not given:
        return None
    if schedules is not None:
        entries = schedules
    elif schedule is not None:
        entries = [schedule]
    else:
        kind = given[0]
        value = {"interval": interval, "cron": cron, "rrule": rrule}[kind]
        entries = []
        for item in _as_list(value):
            entry: dict[str, Any] = {
                kind: item.total_seconds() if isinstance(item, timedelta) else item
            }
            if tz:
                entry["timezone"] = tz
            if anchor_date is not None and kind == "interval":
                entry["anchor_date"] = (
                    anchor_date.isoformat() if isinstance(anchor_date, datetime) else anchor_date
                )
            entries.append(entry)
    try:
        return [sched.build_schedule(e) for e in entries]
    except sched.ScheduleError as exc:
        raise ConfigError(str(exc), fix=exc.fix) from None
