"""The type model: the subset of pydantic's core schemas that flow parameters use.

Annotations are translated into :data:`Node` values (by :mod:`flowdeploy.schema.annotations`)
and turned into JSON (by :mod:`flowdeploy.schema.jsonschema`). The rules pydantic applies while
building its core schema live here too: how unions flatten, which constraints a type takes
natively, and how ``Field(...)`` metadata merges.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flowdeploy.schema.values import Unencodable, encode_default
from flowdeploy.sources import Definition, Module


@dataclass(frozen=True)
class AnyT:
    """Any value: ``{}`` (also what pydantic gives plain classes with these settings)."""


@dataclass(frozen=True)
class NoneT:
    pass


@dataclass(frozen=True)
class Scalar:
    kind: str  # int | float | str | bool | bytes | decimal
    constraints: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Fixed:
    json: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Seq:
    kind: str  # list | set
    item: Node
    constraints: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Tup:
    items: tuple[Node, ...]
    variadic: bool
    constraints: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Mapping:
    key: Node
    value: Node
    constraints: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Lit:
    values: tuple[Any, ...]


@dataclass(frozen=True)
class UnionT:
    choices: tuple[Node, ...]


@dataclass(frozen=True)
class Nullable:
    inner: Node


@dataclass(frozen=True)
class Ref:
    cls: ClassInfo


@dataclass(frozen=True)
class NamedDef:
    """A third-party type pydantic always puts in ``definitions`` (a recursive type alias)."""

    core_ref: str
    json: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Invalid:
    """A type pydantic cannot express in JSON schema (``Callable``): the parameter becomes Any."""

    reason: str


@dataclass(frozen=True)
class Meta:
    """``Field(...)`` metadata inside a type (not on the parameter itself)."""

    inner: Node
    updates: tuple[tuple[str, Any], ...]
    extra: tuple[tuple[str, Any], ...]


Node = (
    AnyT
    | NoneT
    | Scalar
    | Fixed
    | Seq
    | Tup
    | Mapping
    | Lit
    | UnionT
    | Nullable
    | Ref
    | NamedDef
    | Invalid
    | Meta
)


@dataclass(frozen=True, eq=False)
class ClassInfo:
    kind: str  # model | enum | dataclass | typeddict
    definition: Definition
    qualname: str

    @property
    def node(self) -> ast.ClassDef:
        node = self.definition.node
        assert isinstance(node, ast.ClassDef)
        return node

    @property
    def module(self) -> Module:
        return self.definition.module

    @property
    def core_ref(self) -> str:
        return f"{self.module.name}.{self.qualname}"


@dataclass
class FieldArgs:
    """What a ``Field(...)`` call sets, split as pydantic's ``FieldInfo`` splits it."""

    attrs: dict[str, Any] = field(default_factory=dict)
    constraints: list[tuple[str, Any]] = field(default_factory=list)


def merge_fields(fields: Sequence[FieldArgs]) -> FieldArgs:
    """``FieldInfo.merge_field_infos``: later explicit attributes win, extras merge."""
    merged = FieldArgs()
    for item in fields:
        for key, value in item.attrs.items():
            old = merged.attrs.get("json_schema_extra")
            if key == "json_schema_extra" and isinstance(old, dict) and isinstance(value, dict):
                merged.attrs[key] = {**old, **value}
            else:
                merged.attrs[key] = value
        merged.constraints.extend(item.constraints)
    return merged


@dataclass
class FieldSpec:
    """One field of a generated object schema (a model field, or a flow parameter)."""

    name: str
    node: Node
    info: FieldArgs
    required: bool
    default: Any = None
    has_default: bool = False
    attr: str = ""
    # what is left when the type is replaced by Any (``Annotated`` metadata goes with the type)
    fallback: FieldArgs | None = None


_NUMERIC = ("gt", "ge", "lt", "le", "multiple_of")
_STR_ONLY = ("pattern", "strip_whitespace", "to_lower", "to_upper", "ascii_only")
# ``CONSTRAINTS_TO_ALLOWED_SCHEMAS``, per core schema type of the nodes above
_NATIVE: dict[str, tuple[str, ...]] = {
    "int": (*_NUMERIC, "strict"),
    "float": (*_NUMERIC, "allow_inf_nan", "strict"),
    "decimal": (*_NUMERIC, "max_digits", "decimal_places", "allow_inf_nan", "strict"),
    "str": ("min_length", "max_length", *_STR_ONLY, "coerce_numbers_to_str", "strict"),
    "bytes": ("min_length", "max_length", "strict"),
    "bool": ("strict",),
    "temporal": ("gt", "ge", "lt", "le", "strict"),
    "timedelta": (*_NUMERIC, "strict"),
    "collection": ("min_length", "max_length", "strict", "fail_fast"),
}
_FIXED_CORE_TYPES = {
    "date": "temporal",
    "date-time": "temporal",
    "time": "temporal",
    "duration": "timedelta",
}
# the constraints flowdeploy reads from ``Field``, ``con*()`` and constraint metadata
CONSTRAINTS = frozenset(
    {
        "gt",
        "ge",
        "lt",
        "le",
        "multiple_of",
        "min_length",
        "max_length",
        "pattern",
        "max_digits",
        "decimal_places",
    }
)
# on a type without them natively, pydantic adds a validator that shows in the JSON schema, except
# for ``pattern``
_VALIDATOR_CONSTRAINTS = CONSTRAINTS - {"pattern"}


def _replace(
    pairs: tuple[tuple[str, Any], ...], key: str, value: Any
) -> tuple[tuple[str, Any], ...]:
    items = dict(pairs)
    items[key] = value
    return tuple(items.items())


def make_union(members: Sequence[Node]) -> Node:
    """``Union[...]`` as typing flattens it and pydantic builds it (``None`` makes it nullable)."""
    flat: list[Node] = []
    nullable = False

    def add(node: Node) -> None:
        nonlocal nullable
        if isinstance(node, UnionT):
            for choice in node.choices:
                add(choice)
        elif isinstance(node, Nullable):
            nullable = True
            add(node.inner)
        elif isinstance(node, NoneT):
            nullable = True
        elif node not in flat:
            flat.append(node)

    for member in members:
        add(member)
    if not flat:
        return NoneT()
    inner = flat[0] if len(flat) == 1 else UnionT(tuple(flat))
    return Nullable(inner) if nullable else inner


@dataclass
class Peeled:
    """A field's annotation with its top-level ``Annotated[...]`` metadata taken off."""

    node: Node
    fields: list[FieldArgs]
    constraints: list[tuple[str, Any]]


def constrain(node: Node, constraints: Sequence[tuple[str, Any]]) -> Node:
    """Apply ``Field``/``annotated-types`` constraints the way pydantic's known metadata does."""
    for key, value in constraints:
        node = _constrain_one(node, key, value)
    return node


def _constrain_one(node: Node, key: str, value: Any) -> Node:
    """pydantic's ``apply_known_metadata`` for one constraint."""
    if isinstance(value, re.Pattern):
        value = value.pattern
    if isinstance(node, Nullable):
        return Nullable(_constrain_one(node.inner, key, value))
    if isinstance(node, Meta):
        inner = _constrain_one(node.inner, key, value)
        return Meta(inner, node.updates, node.extra)
    if key in _NATIVE.get(_core_type(node), ()):
        return _native(node, key, value)
    if key in _VALIDATOR_CONSTRAINTS:
        # not native: an after-validator, shown in JSON schema under the constraint's name
        json_key = {"min_length": "minLength", "max_length": "maxLength"}.get(key, key)
        try:
            jsonable = encode_default(value)
        except Unencodable:
            return node
        return Meta(node, ((json_key, jsonable),), ())
    return node  # e.g. ``pattern`` on a non-string: validated, not in the JSON schema


def _core_type(node: Node) -> str:
    if isinstance(node, Scalar):
        return node.kind
    if isinstance(node, Fixed):
        return _FIXED_CORE_TYPES.get(dict(node.json).get("format", ""), "other")
    if isinstance(node, (Seq, Tup, Mapping)):
        return "collection"
    return "other"


def _native(node: Node, key: str, value: Any) -> Node:
    if isinstance(node, (Scalar, Seq, Tup, Mapping)):
        return dataclasses.replace(node, constraints=_replace(node.constraints, key, value))
    return node  # temporal bounds: validated, not in the JSON schema


def json_updates(
    info: FieldArgs,
) -> tuple[tuple[tuple[str, Any], ...], tuple[tuple[str, Any], ...]]:
    """pydantic's ``_extract_json_schema_info_from_field_info``: (updates, json_schema_extra)."""
    attrs = info.attrs
    updates: dict[str, Any] = {}
    for key in ("title", "description"):
        if attrs.get(key) is not None:
            updates[key] = attrs[key]
    deprecated = attrs.get("deprecated")
    if bool(deprecated) or deprecated == "":
        updates["deprecated"] = True
    if attrs.get("examples") is not None:
        with contextlib.suppress(Unencodable):
            updates["examples"] = encode_default(attrs["examples"])
    extra = attrs.get("json_schema_extra")
    extra_pairs: tuple[tuple[str, Any], ...] = ()
    if isinstance(extra, dict):
        with contextlib.suppress(Unencodable):
            extra_pairs = tuple(encode_default(extra).items())
    return tuple(updates.items()), extra_pairs


def apply_fields(peeled: Peeled) -> Node:
    """``Annotated`` metadata on a nested type: constraints, then JSON updates on that type."""
    node = constrain(peeled.node, peeled.constraints)
    for info in peeled.fields:
        node = constrain(node, info.constraints)
        updates, extra = json_updates(info)
        if updates or extra:
            if isinstance(node, Meta):
                node = Meta(
                    node.inner,
                    tuple({**dict(node.updates), **dict(updates)}.items()),
                    tuple({**dict(node.extra), **dict(extra)}.items()),
                )
            else:
                node = Meta(node, updates, extra)
    return node
