"""One entry of ``deployments`` -> a resolved ``DeploymentSpec``, in ``prefect deploy``'s
order (``_run_single_deploy``): defaults, steps, blocks -> variables -> environment, the
flow, the pool, pull steps, schedules and triggers, then step outputs everywhere else.

Every problem is collected with its line; a deployment with any is not built."""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from flowdeploy import templating as tpl
from flowdeploy.errors import ConfigError
from flowdeploy.flows import FlowInfo
from flowdeploy.imageplan import DOCKER_BUILD
from flowdeploy.prefectyaml import keys, own, placeholders, steps
from flowdeploy.prefectyaml.concurrency import concurrency
from flowdeploy.prefectyaml.context import Context
from flowdeploy.prefectyaml.model import DeploymentSpec
from flowdeploy.prefectyaml.schedules import deployment_schedules
from flowdeploy.prefectyaml.triggers import deployment_triggers
from flowdeploy.prefectyaml.work_pool import work_pool
from flowdeploy.runner import Deployment
from flowdeploy.yamlfile import PathKey, display_path


@dataclass(frozen=True)
class _Resolved:
    """The entry once every placeholder is resolved, with the sections built from it."""

    config: dict[str, Any]
    pull: list[dict[str, Any]]
    schedules: list[dict[str, Any]] | None
    triggers: list[dict[str, Any]]


def load_deployment(
    ctx: Context, index: int, entry: dict[str, Any], top: steps.TopSteps
) -> DeploymentSpec | None:
    at: PathKey = ("deployments", index)
    errors_before = len(ctx.errors)
    _check_entry(ctx, entry, *at)
    config = _with_defaults(deepcopy(entry))
    config.pop("flowdeploy", None)
    chosen = steps.deployment_steps(ctx, config, top, *at)
    steps.warn_not_run(ctx, chosen)
    # Steps are stored or skipped, never templated here: Prefect keeps the pull steps as
    # written (a worker resolves them) and runs build/push steps, which flowdeploy does not.
    for key in ("build", "push", "pull"):
        config.pop(key, None)

    problems: list[tpl.Unresolved] = []
    config = placeholders.resolve_server_and_env(ctx, config, problems, *at)
    identity = _identity(ctx, config, *at)
    if identity is None:
        return None
    name, entrypoint = identity
    flow = _read_flow(ctx, entrypoint, *at, "entrypoint")
    resolved = _resolve(ctx, config, chosen, name, problems, *at)
    ids = steps.step_ids(chosen.build.items + chosen.push.items)
    for problem in problems:
        placeholders.report_unresolved(ctx, problem, ids)
    if len(ctx.errors) > errors_before or flow is None:
        return None
    deployment = _build(ctx, _fields(ctx, resolved, flow, name, entrypoint, *at), *at)
    if deployment is None:
        return None
    # A deployment without a pool was refused above, so Prefect's pool-less rules
    # (image, queue, job variables) are checked where the API needs them: pipeline.py.
    return DeploymentSpec(
        deployment=deployment,
        where=ctx.where(*at),
        flow_file=flow.source_path,
        uses_image=any(DOCKER_BUILD in s for s in chosen.build.items),
        index=index,
        lines=ctx.entry_lines(index),
        version_derived=not resolved.config.get("version")
        and (bool(_version(ctx, resolved.config)) or not flow.version_given),
    )


def _identity(ctx: Context, config: dict[str, Any], *at: str | int) -> tuple[str, str] | None:
    """The deployment's name and entrypoint, both required before anything else."""
    name, entrypoint = config.get("name"), config.get("entrypoint")
    if not isinstance(name, str) or not name:
        ctx.error(
            "the deployment name must be a non-empty string",
            *at,
            "name",
            fix="give the deployment a name, e.g. 'name: nightly' (quote it if it looks like "
            "a number or a date)",
        )
        return None
    if not entrypoint:
        ctx.error(
            f"deployment {name!r} has no entrypoint",
            *at,
            why="prefect deploy needs to know which flow to deploy",
            fix="add 'entrypoint: path/to/file.py:flow_function'",
        )
        return None
    return name, str(entrypoint)


def _resolve(
    ctx: Context,
    config: dict[str, Any],
    chosen: steps.DeploymentSteps,
    name: str,
    problems: list[tpl.Unresolved],
    *at: str | int,
) -> _Resolved:
    """Step outputs, last: in pull steps (kept when missing, for the worker), schedules,
    triggers (but their parameters) and every other value (but ``{{ ctx.* }}``)."""
    outputs = steps.step_outputs(ctx.image, chosen.build.items + chosen.push.items)
    pool = work_pool(ctx, config.pop("work_pool", None), name, *at)
    pull = steps.pull_steps(chosen, outputs, ctx.environ, ctx.root, pool, *at)
    schedules = deployment_schedules(ctx, config, outputs, problems, *at)
    triggers = deployment_triggers(ctx, config.pop("triggers", None), name, outputs, *at)
    rendered = tpl.render(
        {**config, "work_pool": pool},
        frozenset({tpl.Kind.STEP}),
        tpl.mapping_resolver(outputs),
        path=at,
        skip_prefixes=("ctx.",),
        problems=problems,
    )
    return _Resolved(rendered, pull, schedules, triggers)


def _fields(
    ctx: Context,
    resolved: _Resolved,
    flow: FlowInfo,
    name: str,
    entrypoint: str,
    *at: str | int,
) -> dict[str, Any]:
    """The API fields; what the file leaves out comes from the flow, as in Prefect."""
    config = resolved.config
    limit, options = concurrency(ctx, config.get("concurrency_limit"), *at)
    pool = config["work_pool"]
    fields = {
        "name": name,
        "flow_name": flow.name,
        "entrypoint": entrypoint,
        "work_pool_name": pool.get("name"),
        "work_queue_name": pool.get("work_queue_name"),
        "job_variables": pool.get("job_variables") or {},
        "parameters": config.get("parameters") or {},
        "description": config.get("description") or flow.description,
        "version": config.get("version") or _version(ctx, config) or flow.version,
        "tags": config.get("tags") or [],
        "concurrency_limit": limit,
        "concurrency_options": options,
        "paused": config.get("paused"),
        "pull_steps": resolved.pull,
        "schedules": resolved.schedules,
        "triggers": resolved.triggers,
        "parameter_openapi_schema": flow.parameter_openapi_schema,
    }
    if config.get("enforce_parameter_schema") is not None:
        fields["enforce_parameter_schema"] = config["enforce_parameter_schema"]
    return fields


def _check_entry(ctx: Context, entry: dict[str, Any], *at: str | int) -> None:
    """The keys of the entry and of its sections whose keys are known before templating."""
    keys.check_keys(ctx, entry, keys.DEPLOYMENT, *at)
    own.check_own_settings(ctx, entry.get("flowdeploy"), own.DEPLOYMENT_KEYS, *at, "flowdeploy")
    for key, section in (("work_pool", keys.WORK_POOL), ("concurrency_limit", keys.CONCURRENCY)):
        if isinstance(entry.get(key), dict):
            keys.check_keys(ctx, entry[key], section, *at, key)
    placeholders.check_single_braces(ctx, entry, *at)
    if entry.get("sla") is not None:
        ctx.warn(
            "'sla' is not applied: SLAs exist only on Prefect Cloud and flowdeploy "
            "does not manage them yet",
            *at,
            "sla",
        )


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


def _read_flow(ctx: Context, entrypoint: str, *keys: str | int) -> FlowInfo | None:
    other = _other_reading(ctx, entrypoint)
    try:
        info = ctx.reader.read(entrypoint, where=ctx.where(*keys))
    except ConfigError as exc:
        if other is not None and not (ctx.root / other[0]).exists():
            exc = _only_next_to_the_file(ctx, entrypoint, other[1], exc, *keys)
        # The reader raises the same error again for a shared entrypoint: said once.
        if not any(e is exc for e in ctx.errors):
            ctx.errors.append(exc)
        return None
    if other is not None:
        ctx.warn(
            f"entrypoint {entrypoint!r} reads {_shown(ctx, ctx.root / other[0])}, as prefect "
            f"deploy does (entrypoints are relative to the directory it runs in); "
            f"{_shown(ctx, other[1])}, next to the prefect.yaml, is not used",
            *keys,
        )
    for warning in info.warnings:
        if warning not in ctx.warnings:
            ctx.warnings.append(warning)
    return info


def _version(ctx: Context, config: dict[str, Any]) -> str | None:
    # Prefect's inferred version replaces the flow's own unless told to keep it simple.
    if config.get("version_type") == "prefect:simple":
        return None
    return ctx.inferred_version or None


# The API field -> where it is written in the entry.
_YAML_PATH: dict[str, PathKey] = {
    "work_pool_name": ("work_pool", "name"),
    "work_queue_name": ("work_pool", "work_queue_name"),
    "job_variables": ("work_pool", "job_variables"),
    "concurrency_options": ("concurrency_limit",),
}


def _build(ctx: Context, fields: dict[str, Any], *at: str | int) -> Deployment | None:
    try:
        return Deployment(**fields)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(str(p) if not isinstance(p, int) else p for p in err["loc"]) or ("name",)
            field = str(loc[0])
            path = _YAML_PATH.get(field, (field,))
            if field == "concurrency_limit" and fields.get("concurrency_options") is not None:
                path = ("concurrency_limit", "limit")
            ctx.error(
                f"{field} of deployment {fields['name']!r}: {err['msg']}",
                *at,
                *path,
                *loc[1:],
                fix=_type_fix(field),
            )
        return None


def _type_fix(key: str) -> str:
    return {
        "version": 'quote it in YAML, e.g. version: "1.2"',
        "tags": "write a list of non-empty strings, e.g. tags: [etl, nightly]",
        "parameters": "write a mapping of parameter names to values",
        "job_variables": "write a mapping under work_pool.job_variables",
        "enforce_parameter_schema": "use true or false",
        "paused": "use true or false",
        "description": "write a string (quote it if it looks like a number or a date)",
        "work_pool_name": "write the pool's name as a string, e.g. work_pool: {name: my-pool}",
        "work_queue_name": "write the queue's name as a string",
        "concurrency_limit": "write a whole number, e.g. concurrency_limit: 2",
        "entrypoint": "write 'path/to/file.py:flow_function' as a string",
    }.get(key, f"give '{key}' a value of the type the message names")


def _other_reading(ctx: Context, entrypoint: str) -> tuple[str, Path] | None:
    """A path entrypoint read against the prefect.yaml's folder, when that is not where
    prefect deploy runs and a file is there (``--prefect-file deploy/etl.yaml``)."""
    path = entrypoint.rsplit(":", 1)[0]
    if ctx.folder == ctx.root or not path.endswith(".py") or Path(path).is_absolute():
        return None
    candidate = ctx.folder / path
    inside = candidate.resolve().is_relative_to(ctx.root) or candidate.resolve().is_relative_to(
        ctx.folder
    )
    return (path, candidate) if inside and candidate.is_file() else None


def _only_next_to_the_file(
    ctx: Context, entrypoint: str, found: Path, error: ConfigError, *keys: str | int
) -> ConfigError:
    folder = _shown(ctx, ctx.folder)
    return ConfigError(
        error.what,
        why=f"prefect deploy reads entrypoints relative to the directory it runs in "
        f"({ctx.root}), not to the prefect.yaml's folder; the file is at {_shown(ctx, found)}",
        fix=f"run from the prefect.yaml's folder (--project-dir {folder}, as `cd {folder} && "
        "prefect deploy` would), or write the entrypoint relative to the directory you run "
        f"in: {_shown(ctx, found)}:{entrypoint.rsplit(':', 1)[-1]}",
        where=ctx.where(*keys),
    )


def _shown(ctx: Context, path: Path) -> str:
    return display_path(path, ctx.root)
