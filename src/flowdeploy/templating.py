"""``{{ … }}`` placeholders in prefect.yaml, resolved with Prefect's rules (pure).

Prefect resolves, in this order: block documents (``prefect.blocks.TYPE.NAME[.path]``),
variables (``prefect.variables.NAME``), environment variables (``$NAME``), then build/push
step outputs (``step-id.key``). A placeholder that is the whole string is replaced by the
value itself (any type); embedded in other text it is replaced by ``str(value)``.

One deliberate difference: Prefect silently drops or blanks a placeholder it cannot resolve
(a misspelt variable becomes ``""``). flowdeploy reports every such placeholder as an error,
because a deployment registered with an empty value is worse than no deployment.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

PLACEHOLDER = re.compile(r"({{\s*([\w\.\-\[\]$]+)\s*}})")
_INDEX = re.compile(r"^(.*)\[(\d+)\]$")


class Kind(enum.Enum):
    STEP = "step output"
    BLOCK = "block"
    VARIABLE = "variable"
    ENV = "environment variable"


def kind_of(name: str) -> Kind:
    if name.startswith("prefect.blocks."):
        return Kind.BLOCK
    if name.startswith("prefect.variables."):
        return Kind.VARIABLE
    if name.startswith("$"):
        return Kind.ENV
    return Kind.STEP


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Unresolved:
    """A placeholder that had no value, and where it was."""

    path: PathKey
    placeholder: str
    kind: Kind
    reason: str = ""


Resolver = Callable[[str], Any]
"""Maps a placeholder name to its value, or MISSING."""


def get_path(data: Any, keypath: str) -> Any:
    """``a.b[0].c`` lookup with Prefect's ``get_from_dict`` semantics; MISSING if absent."""
    current = data
    for part in keypath.split("."):
        indexes: list[int] = []
        while match := _INDEX.match(part):
            part, index = match.group(1), int(match.group(2))
            indexes.insert(0, index)
        try:
            if part:
                current = current[part]
            for index in indexes:
                current = current[index]
        except (KeyError, IndexError, TypeError):
            return MISSING
    return current


def find(template: Any) -> list[tuple[str, str]]:
    """Every (full match, name) placeholder in a string, dict or list."""
    if isinstance(template, str):
        return [(m.group(1), m.group(2)) for m in PLACEHOLDER.finditer(template)]
    if isinstance(template, dict):
        return [p for v in template.values() for p in find(v)]
    if isinstance(template, list):
        return [p for v in template for p in find(v)]
    return []


def render(
    template: Any,
    kinds: frozenset[Kind],
    resolve: Resolver,
    *,
    path: PathKey = (),
    skip_prefixes: tuple[str, ...] = (),
    keep_missing: bool = False,
    problems: list[Unresolved] | None = None,
) -> Any:
    """Replace placeholders of ``kinds`` in ``template``; report unresolved ones.

    With ``keep_missing`` an unresolved placeholder stays as written (Prefect's behaviour
    for pull steps, which workers resolve at run time) and is not reported.
    """
    found = problems if problems is not None else []

    # Most values are plain scalars: they are copied as they are, without a walk or a path
    # (a deployment is walked six times, 80 values each).
    def walk(value: Any, at: PathKey) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, (*at, k)) if _open(v) else v for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*at, i)) if _open(v) else v for i, v in enumerate(value)]
        if not isinstance(value, str) or "{{" not in value:
            return value
        return _render_string(value, kinds, resolve, at, skip_prefixes, keep_missing, found)

    return walk(template, path)


def _open(value: Any) -> bool:
    """Whether ``walk`` must look into ``value``: a container, or text with ``{{``."""
    return isinstance(value, (dict, list)) or (isinstance(value, str) and "{{" in value)


def _render_string(
    template: str,
    kinds: frozenset[Kind],
    resolve: Resolver,
    path: PathKey,
    skip_prefixes: tuple[str, ...],
    keep_missing: bool,
    found: list[Unresolved],
) -> Any:
    matches = [
        (full, name)
        for full, name in dict.fromkeys(find(template))
        if kind_of(name) in kinds and not name.startswith(skip_prefixes)
    ]
    if not matches:
        return template
    if len(matches) == 1 and matches[0][0] == template:
        full, name = matches[0]
        value = _lookup(name, resolve, path, full, keep_missing, found)
        return template if value is MISSING else deepcopy(value)
    result = template
    for full, name in matches:
        value = _lookup(name, resolve, path, full, keep_missing, found)
        if value is MISSING:
            continue
        if isinstance(value, (dict, list)):
            found.append(
                Unresolved(
                    path,
                    full,
                    kind_of(name),
                    f"it resolves to a {type(value).__name__}, which cannot be "
                    "embedded in a string",
                )
            )
            continue
        result = result.replace(full, str(value))
    return result


def _lookup(
    name: str,
    resolve: Resolver,
    path: PathKey,
    full: str,
    keep_missing: bool,
    found: list[Unresolved],
) -> Any:
    value = resolve(name)
    if value is MISSING and not keep_missing:
        found.append(Unresolved(path, full, kind_of(name)))
    return value


def env_resolver(environ: Mapping[str, str]) -> Resolver:
    def resolve(name: str) -> Any:
        return environ.get(name[1:], MISSING)

    return resolve


def mapping_resolver(values: Mapping[str, Any]) -> Resolver:
    def resolve(name: str) -> Any:
        return get_path(values, name)

    return resolve


def block_value(data: dict[str, Any], keypath: str | None) -> Any:
    """The value a block placeholder stands for, as Prefect picks it.

    System blocks that hold only ``value`` resolve to that value unless the path
    names ``value`` itself.
    """
    if (
        len(data) == 1
        and "value" in data
        and not (keypath and (keypath == "value" or keypath.startswith(("value.", "value["))))
    ):
        data = data["value"]
    if keypath:
        return get_path(data, keypath)
    return data


def split_block_name(name: str) -> tuple[str, str, str | None] | None:
    """``prefect.blocks.TYPE.NAME[.path]`` -> (type slug, document name, keypath)."""
    parts = name[len("prefect.blocks.") :].split(".", 2)
    if len(parts) < 2:
        return None
    return parts[0], parts[1], parts[2] if len(parts) > 2 else None
