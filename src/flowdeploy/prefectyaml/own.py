"""flowdeploy's own settings, under a ``flowdeploy:`` key that ``prefect deploy`` ignores
(top level: ``always_affect``, ``ignore``; per deployment: ``watch``). Only flowdeploy reads
them, so they are checked strictly."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flowdeploy.prefectyaml.context import Context
from flowdeploy.prefectyaml.keys import suggest

TOP_KEYS = ("always_affect", "ignore")
DEPLOYMENT_KEYS = ("watch",)


def check_own_settings(ctx: Context, value: Any, known: Sequence[str], *path: str | int) -> None:
    """``value`` is what ``path`` (a ``flowdeploy`` key) holds: a mapping of glob lists."""
    if value is None:
        return
    if not isinstance(value, dict):
        ctx.error(
            "'flowdeploy' must be a mapping",
            *path,
            fix=f"write e.g. 'flowdeploy: {{{known[0]}: [\"path/**\"]}}'",
        )
        return
    for key, globs in value.items():
        if key not in known:
            close = suggest(str(key), known)
            ctx.error(
                f"unknown key {key!r} under 'flowdeploy'",
                *path,
                key,
                why=f"flowdeploy knows {', '.join(known)}",
                fix=f"did you mean {close!r}?" if close else f"use one of {', '.join(known)}",
            )
        elif not isinstance(globs, list) or not all(isinstance(g, str) for g in globs):
            ctx.error(
                f"'flowdeploy.{key}' must be a list of glob strings",
                *path,
                key,
                fix=f'write e.g. \'{key}: ["sql/**", "templates/*.j2"]\' '
                "(gitignore-style, relative to the prefect.yaml directory)",
            )
