"""``{{ … }}`` placeholders in a deployment, resolved in Prefect's order (blocks, variables,
environment, then step outputs), and every one that cannot be resolved reported at its line.

Prefect blanks or drops a placeholder it cannot resolve; flowdeploy refuses to register a
deployment with a value the file did not mean (see ``flowdeploy.templating``).
"""

from __future__ import annotations

import re
from typing import Any

from flowdeploy import templating as tpl
from flowdeploy.prefectyaml.context import Context

# ``{ $VAR }``: a template with single braces is a YAML flow mapping {"$VAR": None}.
_SINGLE_BRACED = re.compile(r"^(?:\$\w+|prefect\.(?:variables|blocks)\.[\w.\-\[\]]+)$")


def resolve_server_and_env(
    ctx: Context, config: dict[str, Any], problems: list[tpl.Unresolved], *at: str | int
) -> dict[str, Any]:
    """Blocks, then variables, then environment variables, as ``_run_single_deploy`` does
    before it reads the entrypoint (so a name or a pool may come from any of them)."""
    rendered: dict[str, Any] = tpl.render(
        config, frozenset({tpl.Kind.BLOCK}), lambda n: _block(ctx, n), path=at, problems=problems
    )
    rendered = tpl.render(
        rendered,
        frozenset({tpl.Kind.VARIABLE}),
        lambda n: ctx.lookups.variable(n.removeprefix("prefect.variables.")),
        path=at,
        problems=problems,
    )
    rendered = tpl.render(
        rendered,
        frozenset({tpl.Kind.ENV}),
        tpl.env_resolver(ctx.environ),
        path=at,
        problems=problems,
    )
    return rendered


def _block(ctx: Context, name: str) -> Any:
    parts = tpl.split_block_name(name)
    if parts is None:
        return tpl.MISSING
    data = ctx.lookups.block(parts[0], parts[1])
    if data is None:
        return tpl.MISSING
    if isinstance(data, str):
        return data
    value = tpl.block_value(data, parts[2])
    ctx.secrets.update(_strings(value))
    return value


def _strings(value: Any) -> list[str]:
    """Every string inside a block's value; short ones would redact ordinary words."""
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    text = str(value) if value is not None and not isinstance(value, bool) else ""
    return [text] if len(text) >= 4 else []


def check_single_braces(ctx: Context, value: Any, *path: str | int) -> None:
    """``key: { $VAR }`` is valid YAML: a mapping, where a placeholder with two pairs of
    braces was meant. An error at its line, not a mapping sent to the server."""
    if isinstance(value, dict):
        if len(value) == 1:
            (key, inner), *_ = value.items()
            if inner is None and isinstance(key, str) and _SINGLE_BRACED.match(key):
                shown = f'"{{{{ {key} }}}}"'
                ctx.error(
                    f"{{ {key} }} is a YAML mapping, not a template",
                    *path,
                    why="with one pair of braces YAML reads it as a mapping whose only key is "
                    f"{key!r} (with no value), not as a placeholder",
                    fix=f"write the template with two pairs of braces, quoted: {shown}",
                )
                return
        for key, inner in value.items():
            check_single_braces(ctx, inner, *path, str(key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            check_single_braces(ctx, inner, *path, index)


def report_unresolved(
    ctx: Context, problem: tpl.Unresolved, step_ids: frozenset[str] = frozenset()
) -> None:
    """``step_ids``: the ids of the build and push steps, to tell a step's output from a
    placeholder nothing fills at deploy time (``{{ flow_run.name }}``)."""
    name = problem.placeholder
    if problem.reason:
        ctx.error(
            f"placeholder {name} cannot be used here",
            *problem.path,
            why=problem.reason,
            fix=f"make {name} the whole value (quoted, with no other text), or name one "
            "field inside it (e.g. {{ prefect.blocks.json.config.region }})",
        )
    elif problem.kind is tpl.Kind.ENV:
        var = name.strip("{} ")[1:]
        ctx.error(
            f"environment variable {var} is not set",
            *problem.path,
            why=f"{name} is used in prefect.yaml",
            fix=f"set {var} in the job's env (a secret, for credentials)",
        )
    elif problem.kind is tpl.Kind.VARIABLE:
        var = name.strip("{} ").removeprefix("prefect.variables.")
        ctx.error(
            f"Prefect variable {var!r} does not exist",
            *problem.path,
            why=f"{name} is used in prefect.yaml (prefect deploy would put an empty string there)",
            fix=f"create it: prefect variable set {var} <value>",
        )
    elif problem.kind is tpl.Kind.BLOCK:
        ctx.error(
            f"block {name.strip('{} ').removeprefix('prefect.blocks.')} does not "
            "exist or has no such field",
            *problem.path,
            fix="create the block, or fix the type slug / name / field path",
        )
    elif (step := name.strip("{} ").split(".")[0]) not in step_ids:
        key = ".".join(str(k) for k in problem.path[2:])
        ctx.error(
            f"placeholder {name} is filled by nothing at deploy time",
            *problem.path,
            why=f"no build or push step has the id {step!r}, and deploying fills only step "
            "outputs, {{ $ENV }}, prefect.variables and prefect.blocks; prefect deploy "
            f"would drop {key or 'the key'} with a warning",
            fix=f"delete {key or 'the key'}, or give it a literal value or one of those "
            "placeholders",
        )
    else:
        ctx.error(
            f"step output {name} cannot be resolved",
            *problem.path,
            why=f"flowdeploy runs no build or push step; {step!r} is not a Docker "
            "build step whose image flowdeploy provides",
            fix="use a literal value or an environment variable ({{ $NAME }}); for "
            "images pass --image",
        )
