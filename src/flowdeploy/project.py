"""prefect.yaml -> fully resolved deployments, as ``prefect deploy --all`` reads the file.

Follows ``prefect.cli.deploy`` step by step (defaults, legacy ``schedule``, action
precedence, block -> variable -> env -> step-output templating, default pull step), and
adds what Prefect does not: every problem is collected with file:line before anything is
written, and a near-miss key (``shedules``) is an error instead of being ignored.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping, Sequence
from copy import deepcopy
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flowdeploy import schedules as sched
from flowdeploy import templating as tpl
from flowdeploy.errors import (
    ConfigError,
    ConfigErrors,
    ConfigWarning,
    FlowdeployError,
    Location,
)
from flowdeploy.flows import FlowInfo, FlowReader
from flowdeploy.runner import Deployment, name_triggers
from flowdeploy.yamlfile import YamlDocument, display_path, load_yaml

TOP_KEYS = (
    "prefect-version",
    "name",
    "build",
    "push",
    "pull",
    "deployments",
    "definitions",
    "flowdeploy",
)
DEPLOYMENT_KEYS = (
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
)
# flowdeploy's own settings, under a 'flowdeploy:' key that prefect deploy ignores.
OWN_TOP_KEYS = ("always_affect", "ignore")
OWN_DEPLOYMENT_KEYS = ("watch",)
WORK_POOL_KEYS = ("name", "work_queue_name", "job_variables")
CONCURRENCY_KEYS = ("limit", "collision_strategy", "grace_period_seconds")
COLLISION_STRATEGIES = ("ENQUEUE", "CANCEL_NEW")
DOCKER_BUILD = "prefect_docker.deployments.steps.build_docker_image"
DOCKER_PUSH = "prefect_docker.deployments.steps.push_docker_image"
SET_WORKDIR = "prefect.deployments.steps.set_working_directory"


class Lookups(Protocol):
    """Server-side values that templates name; read-only."""

    def variable(self, name: str) -> Any:
        """The variable's value, or ``templating.MISSING``."""

    def block(self, type_slug: str, name: str) -> dict[str, Any] | str | None:
        """The block document's data, None when there is none, or a text that stands for
        any value of it (a plan without a server cannot read blocks)."""


class DeploymentSpec(BaseModel):
    """One deployment of the project, resolved, with where it came from."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    deployment: Deployment
    where: Location | None = None
    flow_file: Path | None = None
    uses_image: bool = False
    index: int | None = None
    """Position of the entry in the file's ``deployments`` list."""
    lines: dict[tuple[str | int, ...], int] = Field(default_factory=dict, repr=False)
    """The line of each key inside this deployment's entry, by key path relative to the
    entry (``("parameters", "n")``), so that checks made after loading
    (``flowdeploy.validation``) point at the offending key, in the file ``where`` names."""


class Project(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    prefect_file: Path
    root: Path
    specs: tuple[DeploymentSpec, ...]
    warnings: tuple[ConfigWarning, ...] = ()
    secrets: frozenset[str] = frozenset()
    """Values that came from blocks: never shown in any output."""

    @property
    def flow_names(self) -> frozenset[str]:
        return frozenset(s.deployment.flow_name or "" for s in self.specs)


def load_project(
    prefect_file: Path,
    *,
    repo_root: Path,
    lookups: Lookups,
    environ: Mapping[str, str],
    names: Sequence[str] = (),
    only: Collection[int] | None = None,
    image: str | None = None,
    reader: FlowReader | None = None,
    display_root: Path | None = None,
    inferred_version: str | None = None,
    document: YamlDocument | None = None,
) -> Project:
    """Read, resolve and validate every selected deployment; raise all errors at once.

    ``inferred_version`` is the commit-based version Prefect gives deployments that name
    none (see ``flowdeploy.git.inferred_version``). ``only`` keeps the entries at these
    indexes of the ``deployments`` list (those a change affected), after ``names``.
    ``document`` is the file already loaded with ``yamlfile.load_yaml``.
    """
    root = prefect_file.parent.resolve()
    doc = document or load_yaml(
        prefect_file, display_path(prefect_file, display_root), inside=repo_root
    )
    loader = _Loader(
        doc,
        root,
        repo_root.resolve(),
        lookups,
        environ,
        image,
        reader or FlowReader(root, repo_root.resolve()),
        inferred_version,
    )
    try:
        return loader.load(names, only)
    except FlowdeployError as exc:
        # Its text may quote a value read from a block: whoever prints it must hide it.
        exc.secrets = exc.secrets | frozenset(loader.secrets)
        raise


def suggest(key: str, known: Sequence[str]) -> str | None:
    match = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
    return match[0] if match else None


class _Loader:
    def __init__(
        self,
        doc: YamlDocument,
        root: Path,
        repo_root: Path,
        lookups: Lookups,
        environ: Mapping[str, str],
        image: str | None,
        reader: FlowReader,
        inferred_version: str | None,
    ) -> None:
        self.doc = doc
        self.root = root
        self.repo_root = repo_root
        self.lookups = lookups
        self.environ = environ
        self.image = image
        self.reader = reader
        self.inferred_version = inferred_version
        self.errors: list[ConfigError] = []
        self.warnings: list[ConfigWarning] = []
        self.secrets: set[str] = set()
        self._entry_lines: dict[int, dict[tuple[str | int, ...], int]] | None = None

    # -- reporting ---------------------------------------------------------------------

    def error(self, what: str, *keys: str | int, why: str = "", fix: str = "") -> None:
        self.errors.append(ConfigError(what, why=why, fix=fix, where=self.doc.where(*keys)))

    def warn(self, message: str, *keys: str | int) -> None:
        self.warnings.append(ConfigWarning(message, self.doc.where(*keys)))

    def check_keys(
        self, data: Mapping[str, Any], known: Sequence[str], what: str, *path: str | int
    ) -> None:
        for key in data:
            if key in known:
                continue
            close = suggest(str(key), known)
            if close:
                self.error(
                    f"unknown key {key!r} in {what}",
                    *path,
                    key,
                    why=f"{key!r} is not a {what} key, and Prefect would ignore it silently",
                    fix=f"did you mean {close!r}?",
                )
            else:
                self.warn(
                    f"unknown key {key!r} in {what} is ignored (Prefect ignores it too) "
                    "and never sent to the server",
                    *path,
                    key,
                )

    def own_settings(self, value: Any, known: Sequence[str], *path: str | int) -> None:
        """``flowdeploy: {watch: [...]}`` and friends: mappings of glob lists, checked
        strictly because only flowdeploy reads them."""
        if value is None:
            return
        if not isinstance(value, dict):
            self.error(
                "'flowdeploy' must be a mapping",
                *path,
                fix=f"write e.g. 'flowdeploy: {{{known[0]}: [\"path/**\"]}}'",
            )
            return
        for key, globs in value.items():
            if key not in known:
                close = suggest(str(key), known)
                self.error(
                    f"unknown key {key!r} under 'flowdeploy'",
                    *path,
                    key,
                    why=f"flowdeploy knows {', '.join(known)}",
                    fix=f"did you mean {close!r}?" if close else f"use one of {', '.join(known)}",
                )
            elif not isinstance(globs, list) or not all(isinstance(g, str) for g in globs):
                self.error(
                    f"'flowdeploy.{key}' must be a list of glob strings",
                    *path,
                    key,
                    fix=f'write e.g. \'{key}: ["sql/**", "templates/*.j2"]\' '
                    "(gitignore-style, relative to the prefect.yaml directory)",
                )

    # -- the file ----------------------------------------------------------------------

    def load(self, names: Sequence[str], only: Collection[int] | None = None) -> Project:
        data = self.doc.data
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(
                f"{self.doc.path} must be a mapping with a 'deployments' list",
                why=f"its top level is a {type(data).__name__}",
                fix="start the file with 'deployments:' and list each deployment under it "
                "('- name: …', 'entrypoint: …')",
                where=self.doc.where(),
            )
        self.check_keys(data, TOP_KEYS, "prefect.yaml top level")
        self.own_settings(data.get("flowdeploy"), OWN_TOP_KEYS, "flowdeploy")
        actions = {k: self.steps(data.get(k), k) for k in ("build", "push")}
        top_pull = data.get("pull")
        raw = data.get("deployments") or []
        if not isinstance(raw, list):
            raise ConfigError(
                "'deployments' must be a list",
                where=self.doc.where("deployments"),
                fix="write each deployment as a '- name: …' item",
            )
        indexed = self.select(raw, names)
        if only is not None:
            indexed = [(i, entry) for i, entry in indexed if i in only]
        specs = []
        for index, entry in indexed:
            spec = self.deployment(index, entry, actions, top_pull)
            if spec is not None:
                specs.append(spec)
        self.check_duplicates(specs)
        if self.errors:
            raise ConfigErrors(self.errors) if len(self.errors) > 1 else self.errors[0]
        return Project(
            prefect_file=self.doc.path,
            root=self.root,
            specs=tuple(specs),
            warnings=tuple(self.warnings),
            secrets=frozenset(self.secrets),
        )

    def select(self, raw: list[Any], names: Sequence[str]) -> list[tuple[int, dict[str, Any]]]:
        chosen: list[tuple[int, dict[str, Any]]] = []
        for index, entry in enumerate(raw):
            if not isinstance(entry, dict):
                self.error(
                    f"deployment #{index + 1} is not a mapping",
                    "deployments",
                    index,
                    fix="write it as '- name: …' with its keys indented below",
                )
                continue
            if entry.get("name") is None:
                self.warn(
                    "a deployment without a name is skipped, as prefect deploy skips it",
                    "deployments",
                    index,
                )
                continue
            if not names or any(_name_matches(n, entry) for n in names):
                chosen.append((index, entry))
        for name in names:
            if not any(_name_matches(name, e) for _, e in chosen):
                self.error(
                    f"no deployment in {self.doc.path} matches --name {name!r}",
                    fix="use a deployment name, 'flow-name/deployment-name', or a * "
                    "pattern; 'flowdeploy plan --all' lists them",
                )
        return chosen

    def steps(self, value: Any, *path: str | int) -> list[dict[str, Any]]:
        if value is None:
            return []
        if isinstance(value, dict):
            value = [value] if value else []
        if not isinstance(value, list) or not all(isinstance(s, dict) for s in value):
            self.error(
                f"'{path[-1]}' must be a list of steps",
                *path,
                fix="write each step as '- module.function: {…}'",
            )
            return []
        return value

    # -- one deployment ----------------------------------------------------------------

    def deployment(
        self, index: int, entry: dict[str, Any], actions: dict[str, list[Any]], top_pull: Any
    ) -> DeploymentSpec | None:
        at: tuple[str | int, ...] = ("deployments", index)
        errors_before = len(self.errors)
        self.check_keys(entry, DEPLOYMENT_KEYS, "deployment", *at)
        self.own_settings(entry.get("flowdeploy"), OWN_DEPLOYMENT_KEYS, *at, "flowdeploy")
        if entry.get("sla") is not None:
            self.warn(
                "'sla' is not applied: SLAs exist only on Prefect Cloud and flowdeploy "
                "does not manage them yet",
                *at,
                "sla",
            )
        config = _with_defaults(deepcopy(entry))
        config.pop("flowdeploy", None)
        if entry.get("schedule") and "schedules" in entry:
            self.error(
                "both 'schedule' and 'schedules' are given",
                *at,
                "schedule",
                fix="keep only 'schedules' (a list)",
            )
        if isinstance(config.get("schedule"), dict):
            config["schedules"] = [config["schedule"]]
        config.pop("schedule", None)
        if isinstance(config.get("work_pool"), dict):
            self.check_keys(config["work_pool"], WORK_POOL_KEYS, "work_pool", *at, "work_pool")

        build = self.steps(config["build"], *at, "build") if "build" in config else actions["build"]
        push = self.steps(config["push"], *at, "push") if "push" in config else actions["push"]
        pull_source = config.get("pull", top_pull)
        explicit_no_pull = pull_source == []
        raw_pull = self.steps(config.get("pull") or top_pull, *at, "pull")
        # Steps are stored or skipped, never templated here: Prefect keeps the pull steps as
        # written (a worker resolves them) and runs build/push steps, which flowdeploy does not.
        for key in ("build", "push", "pull"):
            config.pop(key, None)

        problems: list[tpl.Unresolved] = []
        config = tpl.render(
            config, frozenset({tpl.Kind.BLOCK}), self._block, path=at, problems=problems
        )
        config = tpl.render(
            config, frozenset({tpl.Kind.VARIABLE}), self._variable, path=at, problems=problems
        )
        config = tpl.render(
            config,
            frozenset({tpl.Kind.ENV}),
            tpl.env_resolver(self.environ),
            path=at,
            problems=problems,
        )

        name = config.get("name")
        entrypoint = config.get("entrypoint")
        if not isinstance(name, str) or not name:
            self.error("the deployment name must be a non-empty string", *at, "name")
            return None
        if not entrypoint:
            self.error(
                f"deployment {name!r} has no entrypoint",
                *at,
                why="prefect deploy needs to know which flow to deploy",
                fix="add 'entrypoint: path/to/file.py:flow_function'",
            )
            return None
        flow = self.read_flow(str(entrypoint), *at, "entrypoint")

        step_outputs = self.step_outputs(build + push, *at)
        uses_docker = any(DOCKER_BUILD in s for s in build)
        work_pool = config.get("work_pool") if isinstance(config.get("work_pool"), dict) else {}
        pool_name = work_pool.get("name")
        if not pool_name:
            self.error(
                f"deployment {name!r} has no work pool",
                *at,
                "work_pool",
                why="prefect deploy requires one when it cannot prompt",
                fix="add 'work_pool: {name: <pool>}' (prefect work-pool ls lists them)",
            )

        if explicit_no_pull:
            pull_steps: list[dict[str, Any]] = []
        else:
            pull_steps = raw_pull or self.default_pull(build, work_pool)
        pull_steps = tpl.render(
            pull_steps,
            frozenset({tpl.Kind.STEP, tpl.Kind.ENV}),
            _step_or_env(step_outputs, self.environ),
            path=(*at, "pull"),
            keep_missing=True,
        )

        description = config.get("description") or (flow.description if flow else None)
        schedules_cfg = config.get("schedules", _UNSET)
        triggers = config.pop("triggers", None)
        config.pop("schedules", None)
        config = tpl.render(
            config,
            frozenset({tpl.Kind.STEP}),
            tpl.mapping_resolver(step_outputs),
            path=at,
            skip_prefixes=("ctx.",),
            problems=problems,
        )
        schedules = self.schedules(schedules_cfg, step_outputs, problems, *at)
        triggers = self.triggers(triggers, name, step_outputs, problems, *at)
        for p in problems:
            self.unresolved(p)
        if len(self.errors) > errors_before or flow is None:
            return None

        work_pool = config.get("work_pool") or {}
        limit, options = self.concurrency(config.get("concurrency_limit"), *at)
        fields = {
            "name": name,
            "flow_name": flow.name,
            "entrypoint": entrypoint,
            "work_pool_name": work_pool.get("name"),
            "work_queue_name": work_pool.get("work_queue_name"),
            "job_variables": work_pool.get("job_variables") or {},
            "parameters": config.get("parameters") or {},
            "description": description,
            "version": config.get("version") or self.version_for(config) or flow.version,
            "tags": config.get("tags") or [],
            "concurrency_limit": limit,
            "concurrency_options": options,
            "paused": config.get("paused"),
            "pull_steps": pull_steps,
            "schedules": schedules,
            "triggers": triggers,
            "parameter_openapi_schema": flow.parameter_openapi_schema,
        }
        if config.get("enforce_parameter_schema") is not None:
            fields["enforce_parameter_schema"] = config["enforce_parameter_schema"]
        try:
            deployment = Deployment(**fields)
        except ValidationError as exc:
            for err in exc.errors():
                key = str(err["loc"][0]) if err["loc"] else "name"
                yaml_key = {
                    "work_pool_name": "work_pool",
                    "work_queue_name": "work_pool",
                    "job_variables": "work_pool",
                }.get(key, key)
                self.error(
                    f"{key} of deployment {name!r}: {err['msg']}", *at, yaml_key, fix=_type_fix(key)
                )
            return None
        # A deployment without a pool was refused above, so Prefect's pool-less rules
        # (image, queue, job variables) are checked where the API needs them: pipeline.py.
        return DeploymentSpec(
            deployment=deployment,
            where=self.doc.where(*at),
            flow_file=flow.source_path,
            uses_image=uses_docker,
            index=index,
            lines=self.entry_lines(index),
        )

    def entry_lines(self, index: int) -> dict[tuple[str | int, ...], int]:
        """Key lines under ``deployments[index]``, relative to the entry; the file's line
        map is grouped by entry once, so a large file is walked once, not per deployment."""
        if self._entry_lines is None:
            grouped: dict[int, dict[tuple[str | int, ...], int]] = {}
            for path, line in self.doc.lines.items():
                if len(path) > 2 and path[0] == "deployments" and isinstance(path[1], int):
                    grouped.setdefault(path[1], {})[path[2:]] = line
            self._entry_lines = grouped
        return dict(self._entry_lines.get(index, {}))

    def version_for(self, config: Mapping[str, Any]) -> str | None:
        # Prefect's inferred version replaces the flow's own unless told to keep it simple.
        if config.get("version_type") == "prefect:simple":
            return None
        return self.inferred_version or None

    def read_flow(self, entrypoint: str, *keys: str | int) -> FlowInfo | None:
        try:
            info = self.reader.read(entrypoint, where=self.doc.where(*keys))
        except ConfigError as exc:
            self.errors.append(exc)
            return None
        self.warnings.extend(info.warnings)
        return info

    def default_pull(
        self, build: list[dict[str, Any]], work_pool: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """Prefect's generated pull step when the file gives none (non-interactive)."""
        docker = next((s[DOCKER_BUILD] for s in build if DOCKER_BUILD in s), None)
        if docker is not None:
            if (docker or {}).get("dockerfile") == "auto":
                return [{SET_WORKDIR: {"directory": f"/opt/prefect/{self.root.name}"}}]
            return []
        if (work_pool.get("job_variables") or {}).get("image"):
            return [{SET_WORKDIR: {"directory": "/opt/prefect"}}]
        return [{SET_WORKDIR: {"directory": str(self.root)}}]

    def step_outputs(self, steps: list[dict[str, Any]], *at: str | int) -> dict[str, Any]:
        """Outputs of build/push steps. flowdeploy runs no user step: a Docker build step
        stands for the image (``--image``); other steps' outputs are unavailable."""
        outputs: dict[str, Any] = {}
        for step in steps:
            for fqn, kwargs in step.items():
                step_id = (kwargs or {}).get("id") if isinstance(kwargs, dict) else None
                if fqn in (DOCKER_BUILD, DOCKER_PUSH) and self.image:
                    name, _, tag = self.image.rpartition(":")
                    if not name or "/" in tag:
                        name, tag = self.image, "latest"
                    if step_id:
                        outputs[step_id] = {"image": self.image, "image_name": name, "tag": tag}
                elif step_id:
                    outputs[step_id] = _Unavailable(fqn)
        return outputs

    def unresolved(self, problem: tpl.Unresolved) -> None:
        name = problem.placeholder
        if problem.reason:
            self.error(
                f"placeholder {name} cannot be used here",
                *problem.path,
                why=problem.reason,
                fix="reference a scalar value inside it",
            )
        elif problem.kind is tpl.Kind.ENV:
            var = name.strip("{} ")[1:]
            self.error(
                f"environment variable {var} is not set",
                *problem.path,
                why=f"{name} is used in prefect.yaml",
                fix=f"set {var} in the job's env (a secret, for credentials)",
            )
        elif problem.kind is tpl.Kind.VARIABLE:
            var = name.strip("{} ").removeprefix("prefect.variables.")
            self.error(
                f"Prefect variable {var!r} does not exist",
                *problem.path,
                why=f"{name} is used in prefect.yaml (prefect deploy would put an "
                "empty string there)",
                fix=f"create it: prefect variable set {var} <value>",
            )
        elif problem.kind is tpl.Kind.BLOCK:
            self.error(
                f"block {name.strip('{} ').removeprefix('prefect.blocks.')} does not "
                "exist or has no such field",
                *problem.path,
                fix="create the block, or fix the type slug / name / field path",
            )
        else:
            step = name.strip("{} ").split(".")[0]
            self.error(
                f"step output {name} cannot be resolved",
                *problem.path,
                why=f"flowdeploy runs no build or push step; {step!r} is not a Docker "
                "build step whose image flowdeploy provides",
                fix="use a literal value or an environment variable ({{ $NAME }}); for "
                "images pass --image",
            )

    def _variable(self, name: str) -> Any:
        return self.lookups.variable(name.removeprefix("prefect.variables."))

    def _block(self, name: str) -> Any:
        parts = tpl.split_block_name(name)
        if parts is None:
            return tpl.MISSING
        data = self.lookups.block(parts[0], parts[1])
        if data is None:
            return tpl.MISSING
        if isinstance(data, str):
            return data
        value = tpl.block_value(data, parts[2])
        self.secrets.update(_strings(value))
        return value

    def schedules(
        self, value: Any, outputs: dict[str, Any], problems: list[tpl.Unresolved], *at: str | int
    ) -> list[dict[str, Any]] | None:
        if value is _UNSET or value is None:
            return None
        if not isinstance(value, list):
            self.error(
                "'schedules' must be a list",
                *at,
                "schedules",
                fix="write each schedule as a '- cron: …' item",
            )
            return None
        value = tpl.render(
            value,
            frozenset({tpl.Kind.STEP}),
            tpl.mapping_resolver(outputs),
            path=(*at, "schedules"),
            problems=problems,
        )
        built = []
        for i, entry in enumerate(value):
            if isinstance(entry, dict):
                self.check_keys(entry, sched.KNOWN_KEYS, "schedule", *at, "schedules", i)
                if entry.get("anchor_date") and entry.get("interval") is None:
                    self.warn(
                        "anchor_date only applies to interval schedules and is ignored",
                        *at,
                        "schedules",
                        i,
                        "anchor_date",
                    )
            try:
                built.append(sched.build_schedule(entry))
            except sched.ScheduleError as exc:
                keys: tuple[str | int, ...] = (*at, "schedules", i)
                self.error(
                    f"schedule #{i + 1} is invalid: {exc}",
                    *(keys + ((exc.key,) if exc.key else ())),
                    fix=exc.fix,
                )
        return built

    def triggers(
        self,
        value: Any,
        name: str,
        outputs: dict[str, Any],
        problems: list[tpl.Unresolved],
        *at: str | int,
    ) -> list[dict[str, Any]]:
        if not value:
            return []
        if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
            self.error("'triggers' must be a list of mappings", *at, "triggers")
            return []
        rendered = []
        for i, spec in enumerate(value):
            # Event templates in parameters ({{ event.name }}) are for the automation.
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
            if rest.get("type", "event") not in ("event", "metric", "compound", "sequence"):
                self.error(
                    f"trigger #{i + 1} has unknown type {rest.get('type')!r}",
                    *at,
                    "triggers",
                    i,
                    "type",
                    fix="use one of event, metric, compound, sequence",
                )
            rendered.append(rest)
        return name_triggers(name, rendered)

    def concurrency(self, value: Any, *at: str | int) -> tuple[int | None, dict[str, Any] | None]:
        if value is None:
            return None, None
        if isinstance(value, bool) or not isinstance(value, (int, dict)):
            self.error(
                "concurrency_limit must be an integer or a mapping",
                *at,
                "concurrency_limit",
                fix="write 'concurrency_limit: 2' or "
                "'concurrency_limit: {limit: 2, collision_strategy: CANCEL_NEW}'",
            )
            return None, None
        if isinstance(value, int):
            return value, None
        self.check_keys(value, CONCURRENCY_KEYS, "concurrency_limit", *at, "concurrency_limit")
        strategy = value.get("collision_strategy")
        if strategy is not None and strategy not in COLLISION_STRATEGIES:
            self.error(
                f"collision_strategy {strategy!r} is not valid",
                *at,
                "concurrency_limit",
                "collision_strategy",
                fix=f"use one of {', '.join(COLLISION_STRATEGIES)}",
            )
        options: dict[str, Any] = {"collision_strategy": strategy}
        if value.get("grace_period_seconds") is not None:
            options["grace_period_seconds"] = value["grace_period_seconds"]
        return value.get("limit"), options

    def check_duplicates(self, specs: list[DeploymentSpec]) -> None:
        seen: dict[str, DeploymentSpec] = {}
        for spec in specs:
            key = spec.deployment.full_name
            if key in seen:
                self.errors.append(
                    ConfigError(
                        f"deployment {key!r} is defined twice",
                        why=f"the first definition is at {seen[key].where}; prefect deploy would "
                        "apply both, the last one winning",
                        fix="rename or remove one of them",
                        where=spec.where,
                    )
                )
            else:
                seen[key] = spec


class _UnsetType:
    pass


_UNSET: Any = _UnsetType()


class _Unavailable(dict[str, Any]):
    """Outputs of a step flowdeploy does not run: every lookup misses."""

    def __init__(self, fqn: str) -> None:
        super().__init__()
        self.fqn = fqn


def _strings(value: Any) -> list[str]:
    """Every string inside a block's value; short ones would redact ordinary words."""
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    text = str(value) if value is not None and not isinstance(value, bool) else ""
    return [text] if len(text) >= 4 else []


def _step_or_env(outputs: dict[str, Any], environ: Mapping[str, str]) -> tpl.Resolver:
    steps = tpl.mapping_resolver(outputs)
    env = tpl.env_resolver(environ)
    return lambda name: env(name) if name.startswith("$") else steps(name)


def _with_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """Prefect's ``_merge_with_default_deploy_config``."""
    defaults: dict[str, Any] = {
        "name": None,
        "version": None,
        "tags": [],
        "concurrency_limit": None,
        "description": None,
        "flow_name": None,
        "entrypoint": None,
        "parameters": {},
        "work_pool": {"name": None, "work_queue_name": None, "job_variables": {}},
    }
    for key, value in defaults.items():
        config.setdefault(key, value)
        if isinstance(value, dict) and isinstance(config[key], dict):
            for k, v in value.items():
                config[key].setdefault(k, v)
    return config


def _name_matches(pattern: str, entry: Mapping[str, Any]) -> bool:
    """``--name`` as prefect deploy takes it: a name, ``flow/name``, ``*`` wildcards."""
    import fnmatch

    name = str(entry.get("name"))
    if "/" not in pattern:
        return fnmatch.fnmatchcase(name, pattern)
    flow_pat, dep_pat = pattern.split("/", 1)
    func = str(entry.get("entrypoint", "")).split(":")[-1]
    return (
        fnmatch.fnmatchcase(func.replace("_", "-"), flow_pat)
        or fnmatch.fnmatchcase(func, flow_pat.replace("-", "_"))
    ) and fnmatch.fnmatchcase(name, dep_pat)


def _type_fix(key: str) -> str:
    return {
        "version": 'quote it in YAML, e.g. version: "1.2"',
        "tags": "write a list of strings, e.g. tags: [etl, nightly]",
        "parameters": "write a mapping of parameter names to values",
        "job_variables": "write a mapping under work_pool.job_variables",
        "enforce_parameter_schema": "use true or false",
        "paused": "use true or false",
        "description": "write a string",
    }.get(key, "see the Prefect docs for prefect.yaml")
