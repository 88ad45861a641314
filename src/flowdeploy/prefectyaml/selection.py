"""Which entries of ``deployments`` a run loads: nameless entries as ``prefect deploy --all``
treats them, then ``--name`` patterns."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from typing import Any

from flowdeploy.errors import ConfigError, Location
from flowdeploy.prefectyaml.context import Context


def select(ctx: Context, raw: list[Any], names: Sequence[str]) -> list[tuple[int, dict[str, Any]]]:
    """``(index, entry)`` of every named mapping entry ``names`` selects (all without names)."""
    chosen: list[tuple[int, dict[str, Any]]] = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict):
            ctx.error(
                f"deployment #{index + 1} is not a mapping",
                "deployments",
                index,
                fix="write it as '- name: …' with its keys indented below",
            )
            continue
        if entry.get("name") is None:
            _nameless(ctx, index, alone=len(raw) == 1)
            continue
        if not names or any(_name_matches(n, entry) for n in names):
            chosen.append((index, entry))
    for name in names:
        if not any(_name_matches(name, e) for _, e in chosen):
            # The mistake is in the command line, not at a line of the file.
            ctx.errors.append(
                ConfigError(
                    f"no deployment in {ctx.doc.path} matches --name {name!r}",
                    fix="use a deployment name, 'flow-name/deployment-name', or a * "
                    "pattern; 'flowdeploy plan --all' lists them",
                    where=Location(ctx.doc.path),
                )
            )
    return chosen


def _nameless(ctx: Context, index: int, *, alone: bool) -> None:
    # prefect deploy --all skips an unnamed entry among others ("Discovered unnamed
    # deployment. Skipping..."), but deploys a file's only entry on its own, and fails.
    if alone:
        ctx.error(
            "the deployment has no name",
            "deployments",
            index,
            why="prefect deploy refuses it ('A deployment name must be provided.') when it is "
            "the file's only deployment",
            fix="add a 'name:' line to the entry, e.g. 'name: nightly'",
        )
    else:
        ctx.warn(
            "a deployment without a name is skipped, as prefect deploy --all skips it; add a "
            "'name:' line to deploy it",
            "deployments",
            index,
        )


def _name_matches(pattern: str, entry: Mapping[str, Any]) -> bool:
    """``--name`` as prefect deploy takes it: a name, ``flow/name``, ``*`` wildcards."""
    name = str(entry.get("name"))
    if "/" not in pattern:
        return fnmatch.fnmatchcase(name, pattern)
    flow_pat, dep_pat = pattern.split("/", 1)
    func = str(entry.get("entrypoint", "")).split(":")[-1]
    return (
        fnmatch.fnmatchcase(func.replace("_", "-"), flow_pat)
        or fnmatch.fnmatchcase(func, flow_pat.replace("-", "_"))
    ) and fnmatch.fnmatchcase(name, dep_pat)
