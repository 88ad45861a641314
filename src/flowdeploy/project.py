"""prefect.yaml -> fully resolved deployments, as ``prefect deploy --all`` reads the file.

Follows ``prefect.cli.deploy`` step by step (defaults, legacy ``schedule``, action
precedence, block -> variable -> env -> step-output templating, default pull step), and
adds what Prefect does not: every problem is collected with file:line before anything is
written, and a near-miss key (``shedules``) is an error instead of being ignored.

This module reads the file as a whole (its top level, the ``deployments`` list, duplicate
names); each section's rules live in ``flowdeploy.prefectyaml``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from flowdeploy.errors import ConfigError, ConfigErrors, FlowdeployError
from flowdeploy.flows import FlowReader
from flowdeploy.prefectyaml import keys, own, steps
from flowdeploy.prefectyaml.concurrency import COLLISION_STRATEGIES
from flowdeploy.prefectyaml.context import Context
from flowdeploy.prefectyaml.deployment import load_deployment
from flowdeploy.prefectyaml.keys import suggest
from flowdeploy.prefectyaml.model import DeploymentSpec, Lookups, Project
from flowdeploy.prefectyaml.selection import select
from flowdeploy.yamlfile import YamlDocument, display_path, load_yaml

__all__ = [
    "COLLISION_STRATEGIES",
    "DeploymentSpec",
    "Lookups",
    "Project",
    "load_project",
    "suggest",
]


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
    root: Path | None = None,
) -> Project:
    """Read, resolve and validate every selected deployment; raise all errors at once.

    ``inferred_version`` is the commit-based version Prefect gives deployments that name
    none (see ``flowdeploy.git.inferred_version``). ``only`` keeps the entries at these
    indexes of the ``deployments`` list (those a change affected), after ``names``.
    ``document`` is the file already loaded with ``yamlfile.load_yaml``. ``root`` is the
    directory ``prefect deploy`` would run in, which entrypoints and the default pull step
    are relative to (default: the file's directory; Prefect uses its working directory even
    with ``--prefect-file sub/prefect.yaml``).
    """
    root = (root or prefect_file.parent).resolve()
    doc = document or load_yaml(
        prefect_file, display_path(prefect_file, display_root), inside=repo_root
    )
    ctx = Context(
        doc=doc,
        root=root,
        folder=prefect_file.parent.resolve(),
        lookups=lookups,
        environ=environ,
        image=image,
        reader=reader or FlowReader(root, repo_root.resolve()),
        inferred_version=inferred_version,
    )
    try:
        return _load(ctx, names, only)
    except FlowdeployError as exc:
        # Its text may quote a value read from a block: whoever prints it must hide it.
        exc.secrets = exc.secrets | frozenset(ctx.secrets)
        raise


def _load(ctx: Context, names: Sequence[str], only: Collection[int] | None) -> Project:
    data = ctx.doc.data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{ctx.doc.path} must be a mapping with a 'deployments' list",
            why=f"its top level is a {type(data).__name__}",
            fix="start the file with 'deployments:' and list each deployment under it "
            "('- name: …', 'entrypoint: …')",
            where=ctx.where(),
        )
    keys.check_keys(ctx, data, keys.TOP)
    own.check_own_settings(ctx, data.get("flowdeploy"), own.TOP_KEYS, "flowdeploy")
    top = steps.read_top_steps(ctx, data)
    raw = data.get("deployments") or []
    if not isinstance(raw, list):
        raise ConfigError(
            f"'deployments' must be a list, not a {type(raw).__name__}",
            where=ctx.where("deployments"),
            fix="write each deployment as a '- name: …' item, indented under 'deployments:'",
        )
    indexed = select(ctx, raw, names)
    if only is not None:
        indexed = [(i, entry) for i, entry in indexed if i in only]
    specs = [
        spec
        for index, entry in indexed
        if (spec := load_deployment(ctx, index, entry, top)) is not None
    ]
    _check_duplicates(ctx, specs)
    if ctx.errors:
        raise ConfigErrors(ctx.errors) if len(ctx.errors) > 1 else ctx.errors[0]
    return Project(
        prefect_file=ctx.doc.path,
        root=ctx.root,
        specs=tuple(specs),
        warnings=tuple(ctx.warnings),
        secrets=frozenset(ctx.secrets),
    )


def _check_duplicates(ctx: Context, specs: list[DeploymentSpec]) -> None:
    seen: dict[str, DeploymentSpec] = {}
    for spec in specs:
        key = spec.deployment.full_name
        first = seen.setdefault(key, spec)
        if first is spec:
            continue
        ctx.error(
            f"deployment {key!r} is defined twice",
            "deployments",
            spec.index if spec.index is not None else 0,
            "name",
            why=f"the first definition is at {first.where}; prefect deploy would apply both, "
            "the last one winning",
            fix="rename or remove one of them",
        )
