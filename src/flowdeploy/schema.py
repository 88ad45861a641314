"""Python annotations, read from source, to Prefect's ``parameter_openapi_schema``.

Prefect imports the flow and runs ``prefect.utilities.callables.parameter_schema``: every
parameter becomes a field of a pydantic model (``title`` = the parameter name, ``position``
in ``json_schema_extra``, ``description`` from the Google-style docstring), and the model's
JSON schema (pydantic's ``GenerateJsonSchema`` with ``GenerateEmptySchemaForUserClasses`` and
``ref_template="#/definitions/{model}"``) is what the server stores, dumped with
``exclude_unset=True``. This module rebuilds that output from the syntax tree:

* annotations become a small model of pydantic's core schemas (:data:`Node`);
* JSON is generated from it with the same rules as pydantic (titles, ``$ref`` handling,
  ``anyOf`` flattening, definition names and collisions, key order);
* defaults are evaluated statically and encoded the way pydantic encodes them.

Where source cannot say what Prefect would see (a third-party type, a value computed at
import), the parameter gets what Prefect's own static fallback gives (no type), and a
:class:`~flowdeploy.errors.ConfigWarning` says so.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import copy
import datetime as dt
import inspect
import math
import operator
import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import PurePath, PurePosixPath
from typing import Any

from flowdeploy.errors import ConfigWarning, Location
from flowdeploy.sources import (
    Definition,
    External,
    Member,
    Module,
    Resolved,
    SourceIndex,
    Unresolved,
    Value,
)

Json = dict[str, Any]
FuncDef = ast.FunctionDef | ast.AsyncFunctionDef

REF_TEMPLATE = "#/definitions/{model}"


@dataclass(frozen=True)
class SchemaResult:
    schema: Json
    warnings: tuple[ConfigWarning, ...]


# ================================================================================================
# Docstrings: Prefect parses with griffe's Google parser; this is the part of it that matters.
# ================================================================================================

_SECTION_KINDS = {
    "args": "parameters",
    "arguments": "parameters",
    "params": "parameters",
    "parameters": "parameters",
    "keyword args": "other",
    "keyword arguments": "other",
    "other args": "other",
    "other arguments": "other",
    "other params": "other",
    "other parameters": "other",
    "type args": "other",
    "type arguments": "other",
    "type params": "other",
    "type parameters": "other",
    "raises": "other",
    "exceptions": "other",
    "returns": "other",
    "yields": "other",
    "receives": "other",
    "examples": "examples",
    "attributes": "other",
    "functions": "other",
    "methods": "other",
    "classes": "other",
    "type aliases": "other",
    "modules": "other",
    "warns": "other",
    "warnings": "other",
}
_RE_ADMONITION = re.compile(r"^(?P<type>[\w][\s\w-]*):(\s+(?P<title>[^\s].*))?\s*$", re.IGNORECASE)


def _is_empty(line: str) -> bool:
    return not line or line.isspace()


def _read_block_items(lines: list[str], offset: int) -> tuple[list[list[str]], int]:
    if offset >= len(lines):
        return [], offset
    new_offset = offset
    while _is_empty(lines[new_offset]):
        new_offset += 1
    indent = len(lines[new_offset]) - len(lines[new_offset].lstrip())
    if indent == 0:
        return [], new_offset - 1
    items: list[list[str]] = []
    current = [lines[new_offset][indent:]]
    new_offset += 1
    while new_offset < len(lines):
        line = lines[new_offset]
        if _is_empty(line):
            current.append("")
        elif line.startswith(indent * 2 * " "):
            current.append(line[indent * 2 :])
        elif line.startswith((indent + 1) * " "):
            current.append(line[len(line) - len(line.lstrip()) :])
        elif line.startswith(indent * " "):
            items.append(current)
            current = [line[indent:]]
        else:
            break
        new_offset += 1
    items.append(current)
    return items, new_offset - 1


def _read_block(lines: list[str], offset: int) -> tuple[str, int]:
    if offset >= len(lines):
        return "", offset - 1
    new_offset = offset
    while _is_empty(lines[new_offset]):
        new_offset += 1
    indent = len(lines[new_offset]) - len(lines[new_offset].lstrip())
    if indent == 0:
        return "", offset - 1
    block = [lines[new_offset].lstrip()]
    new_offset += 1
    while new_offset < len(lines) and (
        lines[new_offset].startswith(indent * " ") or _is_empty(lines[new_offset])
    ):
        block.append(lines[new_offset][indent:])
        new_offset += 1
    return "\n".join(block).rstrip("\n"), new_offset - 1


def _parameters(items: list[list[str]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in items:
        if ":" not in item[0]:
            continue
        name_with_type, description = item[0].split(":", 1)
        text = "\n".join([description.lstrip(), *item[1:]]).rstrip("\n")
        if "(" in name_with_type and name_with_type.endswith(")"):
            name = name_with_type.split("(", 1)[0].strip()
        else:
            name = name_with_type
        found[name] = text
    return found


def _section_at(lines: list[str], offset: int) -> str | None:
    """The kind of section starting at ``offset`` if griffe accepts it as one, else None.

    A title line ``Word:`` counts only with a blank line above and indented content right
    below (or after exactly one blank line); unknown titles are admonitions (``Note:``).
    """
    line = lines[offset]
    match = _RE_ADMONITION.match(line) if ":" in line else None
    if match is None:
        return None
    blank_above = offset == 0 or _is_empty(lines[offset - 1])
    has_next = offset < len(lines) - 1
    has_next2 = offset < len(lines) - 2
    blank_below = has_next and _is_empty(lines[offset + 1])
    blanks_below = has_next2 and _is_empty(lines[offset + 2])
    indented_below = has_next and not blank_below and lines[offset + 1].startswith(" ")
    indented2_below = has_next2 and not blanks_below and lines[offset + 2].startswith(" ")
    if not (indented_below or indented2_below) or not blank_above:
        return None
    if indented2_below and blank_below:
        return None
    return _SECTION_KINDS.get(match.group("type").lower(), "admonition")


def parameter_docstrings(docstring: str | None) -> dict[str, str]:
    """Parameter descriptions from a Google-style docstring, as Prefect reads them.

    Like ``prefect.utilities.callables.parameter_docstrings``: griffe's Google parser, and each
    non-empty ``Args:`` section replaces what earlier ones gave. NumPy and Sphinx styles give
    nothing, exactly as in Prefect.
    """
    if not docstring:
        return {}
    lines = inspect.cleandoc(docstring.rstrip()).split("\n")
    result: dict[str, str] = {}
    in_code = False
    offset = 0
    while offset < len(lines):
        fence = lines[offset].lstrip(" ").startswith("```")
        kind = None if in_code or fence else _section_at(lines, offset)
        in_code = in_code != fence
        if kind in ("examples", "admonition"):
            _, offset = _read_block(lines, offset + 1)
        elif kind is not None:
            items, offset = _read_block_items(lines, offset + 1)
            params = _parameters(items) if kind == "parameters" else {}
            result = params or result
        offset += 1
    return result


# ================================================================================================
# Default values: evaluated statically, then encoded as pydantic encodes them (mode="json").
# ================================================================================================


class NotStatic(Exception):
    """An expression whose value is only known by running the code."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


class Unencodable(Exception):
    """A value pydantic would refuse to put in a JSON schema (it then leaves the default out)."""


@dataclass(frozen=True)
class EnumMember:
    """A member of an enum defined in the repository."""

    enum: str
    name: str
    value: Any


@dataclass(frozen=True)
class Instance:
    """An instance of a model or dataclass defined in the repository: its fields' values."""

    cls: str
    values: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class ObjectRef:
    """A class or function used as a value: it exists, but has no JSON form."""

    qualname: str


def _rust_float(value: float) -> str:
    """A float as Rust's ``Display`` writes it: shortest digits, never an exponent."""
    text = format(Decimal(repr(value)), "f")
    return text[:-2] if text.endswith(".0") else text


def _complex(value: complex) -> str:
    """pydantic-core's complex format: ``1.5+2j``, ``2j`` when the real part is zero."""
    imag = _rust_float(value.imag)
    if value.real == 0:
        return f"{imag}j"
    sign = "-" if math.copysign(1.0, value.imag) < 0 else "+"
    return f"{_rust_float(value.real)}{sign}{imag.lstrip('-')}j"


def _duration(value: dt.timedelta) -> str:
    """ISO 8601 duration exactly as pydantic-core (speedate) writes it: 365-day years, no months."""
    total = abs(value)
    days = total.days
    seconds = total.seconds
    micros = total.microseconds
    sign = "-" if value < dt.timedelta(0) else ""
    years, days = divmod(days, 365)
    out = f"{sign}P"
    if years:
        out += f"{years}Y"
    if days:
        out += f"{days}D"
    hours, rem = divmod(seconds, 3600)
    minutes, secs = divmod(rem, 60)
    time = ""
    if hours:
        time += f"{hours}H"
    if minutes:
        time += f"{minutes}M"
    if secs or micros:
        frac = f".{micros:06d}".rstrip("0") if micros else ""
        time += f"{secs}{frac}S"
    if time:
        out += f"T{time}"
    if out in ("P", "-P"):
        return f"{sign}PT0S"
    return out


def _offset(value: dt.timedelta | None) -> str:
    if value is None:
        return ""
    if value == dt.timedelta(0):
        return "Z"
    sign = "-" if value < dt.timedelta(0) else "+"
    minutes = int(abs(value).total_seconds()) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _time(value: dt.time) -> str:
    return value.replace(tzinfo=None).isoformat() + _offset(value.utcoffset())


def _key(value: Any) -> str:
    encoded = encode_default(value)
    if isinstance(encoded, bool):
        return "true" if encoded else "false"
    if encoded is None:
        return "None"
    if isinstance(encoded, list):
        return ",".join(_key(v) for v in encoded)
    return str(encoded)


def _sorted(values: Iterable[Any]) -> list[Any]:
    items = list(values)
    try:
        return sorted(items)
    except TypeError:
        return items


def encode_default(value: Any) -> Any:
    """``TypeAdapter(type(value)).dump_python(value, mode="json")``, for static values."""
    if isinstance(value, EnumMember):
        return encode_default(value.value)
    if isinstance(value, Instance):
        return {k: encode_default(v) for k, v in value.values}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, complex):
        return _complex(value)
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError as exc:
            raise Unencodable("bytes that are not UTF-8") from exc
    if isinstance(value, (list, tuple)):
        return [encode_default(v) for v in value]
    if isinstance(value, (set, frozenset)):
        # iteration order, as pydantic; only a top-level default set is sorted (by the caller)
        return [encode_default(v) for v in value]
    if isinstance(value, dict):
        return {_key(k): encode_default(v) for k, v in value.items()}
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat() + _offset(value.utcoffset())
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return _time(value)
    if isinstance(value, dt.timedelta):
        return _duration(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (uuid.UUID, PurePath)):
        return str(value)
    raise Unencodable(f"a {type(value).__name__} value")


# ================================================================================================
# Type model: the subset of pydantic core schemas that parameters use.
# ================================================================================================


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


def _fixed(**json: Any) -> Fixed:
    return Fixed(tuple(json.items()))


_SCALARS: dict[str, Node] = {
    "builtins.int": Scalar("int"),
    "builtins.float": Scalar("float"),
    "builtins.str": Scalar("str"),
    "builtins.bool": Scalar("bool"),
    "builtins.bytes": Scalar("bytes"),
    "decimal.Decimal": Scalar("decimal"),
    "typing.Text": Scalar("str"),
    "builtins.complex": _fixed(type="string"),
    "datetime.datetime": _fixed(format="date-time", type="string"),
    "datetime.date": _fixed(format="date", type="string"),
    "datetime.time": _fixed(format="time", type="string"),
    "datetime.timedelta": _fixed(format="duration", type="string"),
    "uuid.UUID": _fixed(format="uuid", type="string"),
    "pathlib.Path": _fixed(format="path", type="string"),
    "pathlib.PurePath": _fixed(format="path", type="string"),
    "pathlib.PosixPath": _fixed(format="path", type="string"),
    "pathlib.PurePosixPath": _fixed(format="path", type="string"),
    "pathlib.WindowsPath": _fixed(format="path", type="string"),
    "pathlib.PureWindowsPath": _fixed(format="path", type="string"),
    "os.PathLike": _fixed(format="path", type="string"),
    "ipaddress.IPv4Address": _fixed(format="ipv4", type="string"),
    "ipaddress.IPv6Address": _fixed(format="ipv6", type="string"),
    "ipaddress.IPv4Network": _fixed(format="ipv4network", type="string"),
    "ipaddress.IPv6Network": _fixed(format="ipv6network", type="string"),
    "ipaddress.IPv4Interface": _fixed(format="ipv4interface", type="string"),
    "ipaddress.IPv6Interface": _fixed(format="ipv6interface", type="string"),
    "re.Pattern": _fixed(format="regex", type="string"),
    "typing.Pattern": _fixed(format="regex", type="string"),
    "pydantic.StrictInt": Scalar("int"),
    "pydantic.StrictFloat": Scalar("float"),
    "pydantic.StrictStr": Scalar("str"),
    "pydantic.StrictBool": Scalar("bool"),
    "pydantic.StrictBytes": Scalar("bytes"),
    "pydantic.FiniteFloat": Scalar("float"),
    "pydantic.PositiveInt": Scalar("int", (("gt", 0),)),
    "pydantic.NegativeInt": Scalar("int", (("lt", 0),)),
    "pydantic.NonNegativeInt": Scalar("int", (("ge", 0),)),
    "pydantic.NonPositiveInt": Scalar("int", (("le", 0),)),
    "pydantic.PositiveFloat": Scalar("float", (("gt", 0),)),
    "pydantic.NegativeFloat": Scalar("float", (("lt", 0),)),
    "pydantic.NonNegativeFloat": Scalar("float", (("ge", 0),)),
    "pydantic.NonPositiveFloat": Scalar("float", (("le", 0),)),
    "pydantic.SecretStr": _fixed(format="password", type="string", writeOnly=True),
    "pydantic.SecretBytes": _fixed(format="password", type="string", writeOnly=True),
    "pydantic.AwareDatetime": _fixed(format="date-time", type="string"),
    "pydantic.NaiveDatetime": _fixed(format="date-time", type="string"),
    "pydantic.PastDatetime": _fixed(format="date-time", type="string"),
    "pydantic.FutureDatetime": _fixed(format="date-time", type="string"),
    "pydantic.PastDate": _fixed(format="date", type="string"),
    "pydantic.FutureDate": _fixed(format="date", type="string"),
    "pydantic.FilePath": _fixed(format="file-path", type="string"),
    "pydantic.DirectoryPath": _fixed(format="directory-path", type="string"),
    "pydantic.NewPath": _fixed(format="path", type="string"),
    "pydantic.SocketPath": _fixed(format="path", type="string"),
    "pydantic.Base64Bytes": _fixed(format="base64", type="string"),
    "pydantic.Base64Str": _fixed(format="base64", type="string"),
    "pydantic.Base64UrlBytes": _fixed(format="base64url", type="string"),
    "pydantic.Base64UrlStr": _fixed(format="base64url", type="string"),
    "pydantic.ImportString": _fixed(type="string"),
    "pydantic.IPvAnyAddress": _fixed(format="ipvanyaddress", type="string"),
    "pydantic.IPvAnyInterface": _fixed(format="ipvanyinterface", type="string"),
    "pydantic.IPvAnyNetwork": _fixed(format="ipvanynetwork", type="string"),
    "pydantic.PaymentCardNumber": _fixed(maxLength=19, minLength=12, type="string"),
    "pydantic.Json": _fixed(contentMediaType="application/json", contentSchema={}, type="string"),
    "pydantic.JsonValue": NamedDef("pydantic.types.JsonValue", ()),
    "pydantic.UUID1": _fixed(format="uuid1", type="string"),
    "pydantic.UUID3": _fixed(format="uuid3", type="string"),
    "pydantic.UUID4": _fixed(format="uuid4", type="string"),
    "pydantic.UUID5": _fixed(format="uuid5", type="string"),
    "pydantic.UUID6": _fixed(format="uuid6", type="string"),
    "pydantic.UUID7": _fixed(format="uuid7", type="string"),
    "pydantic.UUID8": _fixed(format="uuid8", type="string"),
    "pydantic.ByteSize": _fixed(
        anyOf=[
            {"pattern": "^\\s*(\\d*\\.?\\d+)\\s*(\\w+)?", "type": "string"},
            {"minimum": 0, "type": "integer"},
        ]
    ),
}
for _url in ("AnyUrl", "AnyHttpUrl", "FileUrl", "FtpUrl", "AnyWebsocketUrl", "AmqpDsn", "KafkaDsn"):
    _SCALARS[f"pydantic.{_url}"] = _fixed(format="uri", minLength=1, type="string")
for _url in ("RedisDsn", "ClickHouseDsn", "CockroachDsn", "MariaDBDsn", "MySQLDsn", "SnowflakeDsn"):
    _SCALARS[f"pydantic.{_url}"] = _fixed(format="uri", minLength=1, type="string")
for _url in ("HttpUrl", "WebsocketUrl"):
    _SCALARS[f"pydantic.{_url}"] = _fixed(format="uri", maxLength=2083, minLength=1, type="string")
for _url in ("PostgresDsn", "MongoDsn", "NatsDsn"):
    _SCALARS[f"pydantic.{_url}"] = _fixed(format="multi-host-uri", minLength=1, type="string")

_ANY_TYPES = {
    "typing.Any",
    "builtins.object",
    "typing.Hashable",
    "collections.abc.Hashable",
    "typing.Collection",
    "collections.abc.Collection",
    "typing.Type",
    "builtins.type",
}
_LISTS = {
    "builtins.list",
    "typing.List",
    "typing.Sequence",
    "collections.abc.Sequence",
    "typing.MutableSequence",
    "collections.abc.MutableSequence",
    "typing.Iterable",
    "collections.abc.Iterable",
    "typing.Deque",
    "collections.deque",
}
_SETS = {
    "builtins.set",
    "typing.Set",
    "typing.AbstractSet",
    "collections.abc.Set",
    "typing.MutableSet",
    "collections.abc.MutableSet",
    "builtins.frozenset",
    "typing.FrozenSet",
}
_DICTS = {
    "builtins.dict",
    "typing.Dict",
    "typing.Mapping",
    "collections.abc.Mapping",
    "typing.MutableMapping",
    "collections.abc.MutableMapping",
    "typing.DefaultDict",
    "collections.defaultdict",
    "typing.OrderedDict",
    "collections.OrderedDict",
}
_COUNTERS = {"typing.Counter", "collections.Counter"}
_TUPLES = {"builtins.tuple", "typing.Tuple"}
_CALLABLES = {"typing.Callable", "collections.abc.Callable"}
_PASSTHROUGH = {"typing.Required", "typing.NotRequired", "typing.ReadOnly", "typing.Final"}
_CON_FUNCS = {
    "pydantic.conint": "int",
    "pydantic.confloat": "float",
    "pydantic.constr": "str",
    "pydantic.conbytes": "bytes",
    "pydantic.condecimal": "decimal",
    "pydantic.conlist": "list",
    "pydantic.conset": "set",
    "pydantic.confrozenset": "set",
}
_CONSTRAINTS = (
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
)
_ANNOTATED_TYPES = {
    "annotated_types.Gt": ("gt",),
    "annotated_types.Ge": ("ge",),
    "annotated_types.Lt": ("lt",),
    "annotated_types.Le": ("le",),
    "annotated_types.MultipleOf": ("multiple_of",),
    "annotated_types.MinLen": ("min_length",),
    "annotated_types.MaxLen": ("max_length",),
    "annotated_types.Len": ("min_length", "max_length"),
}
_PYDANTIC_SUBMODULES = (
    "types",
    "networks",
    "main",
    "fields",
    "config",
    "functional_validators",
    "json_schema",
    "dataclasses",
    "root_model",
)


def normalize_qualname(qualname: str) -> str:
    """One spelling per object: ``typing_extensions.X`` is ``typing.X``, and so on."""
    if qualname.startswith("typing_extensions."):
        return "typing." + qualname.removeprefix("typing_extensions.")
    if qualname.startswith("pydantic.") and not qualname.startswith("pydantic.v1"):
        parts = qualname.split(".")
        if len(parts) == 3 and parts[1] in _PYDANTIC_SUBMODULES and parts[1] != "dataclasses":
            return f"pydantic.{parts[2]}"
    if qualname.startswith("annotated_types."):
        return qualname
    if qualname == "pathlib._local.Path":
        return "pathlib.Path"
    return qualname


# ================================================================================================
# Classes defined in the repository: pydantic models, enums, dataclasses, TypedDicts.
# ================================================================================================


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


class _Unresolvable(Exception):
    """The parameter's annotation cannot be resolved the way Prefect resolves it: it becomes Any."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _InvalidJson(Exception):
    """pydantic's ``PydanticInvalidForJsonSchema``."""


_BUILTIN_TYPES = frozenset(
    {"int", "float", "str", "bool", "bytes", "list", "dict", "set", "tuple", "frozenset", "object"}
)
_FACTORIES: dict[str, Callable[[], Any]] = {
    "builtins.list": list,
    "builtins.dict": dict,
    "builtins.set": set,
    "builtins.tuple": tuple,
    "builtins.frozenset": frozenset,
}
_CONVERSIONS: dict[int, Callable[[Any], str]] = {115: str, 114: repr, 97: ascii}
_SAFE_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.BitOr: operator.or_,
}


class Analyzer:
    """Static knowledge about a repository's names, values and classes (shared across flows)."""

    def __init__(self, index: SourceIndex) -> None:
        self.index = index
        self._classes: dict[int, ClassInfo | None] = {}
        self._enum_members: dict[int, list[tuple[str, Any]]] = {}
        self._evaluating: set[tuple[str, str]] = set()
        self.warnings: list[ConfigWarning] = []

    def warn(self, message: str, module: Module, line: int | None) -> None:
        warning = ConfigWarning(message, Location(module.path, line))
        if warning not in self.warnings:
            self.warnings.append(warning)

    def target(self, module: Module, expr: ast.expr, *, before: int | None = None) -> Resolved:
        """What a name refers to, aliases followed; ``before``: as the statement there sees it."""
        found = self.index.follow(self.index.resolve_expr(module, expr, before=before))
        if isinstance(found, External):
            return External(normalize_qualname(found.qualname))
        return found

    # -- static values -------------------------------------------------------------------------

    def evaluate(self, module: Module, expr: ast.expr) -> Any:
        """The value of a constant expression; :class:`NotStatic` when only running it tells."""
        if isinstance(expr, ast.Constant):
            return expr.value
        if isinstance(expr, (ast.List, ast.Tuple, ast.Set)):
            if any(isinstance(e, ast.Starred) for e in expr.elts):
                raise NotStatic("unpacking", expr.lineno)
            items = [self.evaluate(module, e) for e in expr.elts]
            if isinstance(expr, ast.List):
                return items
            if isinstance(expr, ast.Tuple):
                return tuple(items)
            return _hashed(lambda: set(items), expr.lineno)
        if isinstance(expr, ast.Dict):
            if any(k is None for k in expr.keys):
                raise NotStatic("dict unpacking", expr.lineno)
            pairs = [
                (self.evaluate(module, k), self.evaluate(module, v))
                for k, v in zip(expr.keys, expr.values, strict=True)
                if k is not None
            ]
            return _hashed(lambda: dict(pairs), expr.lineno)
        if isinstance(expr, ast.UnaryOp):
            operand = self.evaluate(module, expr.operand)
            return self._unary(expr, operand)
        if isinstance(expr, ast.BinOp):
            return self._binop(module, expr)
        if isinstance(expr, ast.JoinedStr):
            return self._fstring(module, expr)
        if isinstance(expr, (ast.Name, ast.Attribute)):
            return self._named_value(module, expr)
        if isinstance(expr, ast.Call):
            return self._call(module, expr)
        raise NotStatic(f"{type(expr).__name__.lower()} expression", expr.lineno)

    def _unary(self, expr: ast.UnaryOp, operand: Any) -> Any:
        if isinstance(operand, (int, float, Decimal)) and not isinstance(operand, bool):
            if isinstance(expr.op, ast.USub):
                return -operand
            if isinstance(expr.op, ast.UAdd):
                return +operand
            if isinstance(expr.op, ast.Invert) and isinstance(operand, int):
                return ~operand
        if isinstance(expr.op, ast.Not):
            return not operand
        raise NotStatic("unary operation", expr.lineno)

    def _binop(self, module: Module, expr: ast.BinOp) -> Any:
        left = self.evaluate(module, expr.left)
        right = self.evaluate(module, expr.right)
        op = _SAFE_BINOPS.get(type(expr.op))
        simple = (int, float, complex, str, Decimal, dt.timedelta, dt.datetime, dt.date)
        if op is None or not isinstance(left, simple) or not isinstance(right, simple):
            raise NotStatic("operation on non-constant values", expr.lineno)
        if isinstance(expr.op, ast.Pow) and (not isinstance(right, int) or abs(right) > 256):
            raise NotStatic("large power", expr.lineno)
        if isinstance(expr.op, ast.Mult) and any(
            isinstance(v, str) and isinstance(w, int) and w > 100_000
            for v, w in ((left, right), (right, left))
        ):
            raise NotStatic("large string", expr.lineno)
        try:
            return op(left, right)
        except Exception as exc:  # e.g. ZeroDivisionError: then it is not a constant
            raise NotStatic(f"operation fails: {exc}", expr.lineno) from exc

    def _fstring(self, module: Module, expr: ast.JoinedStr) -> str:
        out = ""
        for part in expr.values:
            if isinstance(part, ast.Constant):
                out += str(part.value)
            elif isinstance(part, ast.FormattedValue):
                value = self.evaluate(module, part.value)
                convert: Callable[[Any], str] | None = _CONVERSIONS.get(part.conversion)
                if convert is not None:
                    value = convert(value)
                spec = part.format_spec
                text = self._fstring(module, spec) if isinstance(spec, ast.JoinedStr) else ""
                try:
                    out += format(value, text)
                except (TypeError, ValueError) as exc:
                    raise NotStatic(f"format fails: {exc}", expr.lineno) from exc
            else:
                raise NotStatic("f-string", expr.lineno)
        return out

    def _named_value(self, module: Module, expr: ast.Name | ast.Attribute) -> Any:
        found = self.target(module, expr)
        if isinstance(found, Value):
            key = (str(found.module.path), found.name)
            if key in self._evaluating:
                raise NotStatic("circular definition", expr.lineno)
            self._evaluating.add(key)
            try:
                return self.evaluate(found.module, found.expr)
            finally:
                self._evaluating.discard(key)
        if isinstance(found, Member):
            return self._member_value(found, expr.lineno)
        if isinstance(found, Definition):
            return ObjectRef(f"{found.module.name}.{found.node.name}")
        if isinstance(found, External):
            if found.qualname.startswith("builtins.") and found.qualname[9:] in _BUILTIN_TYPES:
                return ObjectRef(found.qualname)
            if found.qualname in ("datetime.timezone.utc", "datetime.UTC"):
                return dt.timezone.utc
            if found.qualname in ("math.inf", "math.pi", "math.e", "math.nan", "math.tau"):
                return getattr(math, found.qualname.split(".")[1])
        name = ast.unparse(expr)
        raise NotStatic(f"{name!r} is not a constant flowdeploy can read", expr.lineno)

    def _member_value(self, member: Member, line: int) -> Any:
        info = self.class_info(member.owner)
        if info is not None and info.kind == "enum":
            for name, value in self.enum_members(info):
                if name == member.attr:
                    return EnumMember(info.qualname, name, value)
            raise NotStatic(f"enum {info.qualname} has no member {member.attr!r}", line)
        node = member.owner.node
        if isinstance(node, ast.ClassDef):
            for stmt in node.body:
                value = _class_assignment(stmt, member.attr)
                if value is not None:
                    return self.evaluate(member.owner.module, value)
        raise NotStatic(f"class attribute {member.attr!r}", line)

    def _call(self, module: Module, call: ast.Call) -> Any:
        found = self.target(module, call.func)
        if any(isinstance(a, ast.Starred) for a in call.args) or any(
            k.arg is None for k in call.keywords
        ):
            raise NotStatic("call with unpacking", call.lineno)
        if isinstance(found, Definition):
            info = self.class_info(found)
            if info is None:
                raise NotStatic(f"call to {ast.unparse(call.func)}", call.lineno)
            args = [self.evaluate(module, a) for a in call.args]
            kwargs = {k.arg: self.evaluate(module, k.value) for k in call.keywords if k.arg}
            return self._instance(info, args, kwargs, call.lineno)
        if not isinstance(found, External):
            raise NotStatic(f"call to {ast.unparse(call.func)}", call.lineno)
        args = [self.evaluate(module, a) for a in call.args]
        kwargs = {k.arg: self.evaluate(module, k.value) for k in call.keywords if k.arg}
        factory = _CONSTRUCTORS.get(found.qualname)
        if factory is None:
            raise NotStatic(f"call to {found.qualname}", call.lineno)
        try:
            return factory(*args, **kwargs)
        except (TypeError, ValueError, OverflowError, InvalidOperation, ArithmeticError) as exc:
            raise NotStatic(f"{found.qualname}(...) fails: {exc}", call.lineno) from exc

    def _instance(self, info: ClassInfo, args: list[Any], kwargs: dict[str, Any], line: int) -> Any:
        """``Model(...)`` / ``Dataclass(...)`` / ``Enum(value)`` with constant arguments."""
        if info.kind == "enum":
            for name, value in self.enum_members(info):
                if args and len(args) == 1 and not kwargs and value == args[0]:
                    return EnumMember(info.qualname, name, value)
            raise NotStatic(f"{info.qualname}(...) is not a member", line)
        if info.kind == "typeddict":
            return dict(*args, **kwargs)
        if args and info.kind == "model":
            raise NotStatic(f"{info.qualname} takes keyword arguments only", line)
        fields = ClassFields(self).fields(info)
        values: list[tuple[str, Any]] = []
        positional = list(args)
        for spec in fields:
            if positional:
                value = positional.pop(0)
            elif spec.name in kwargs or spec.attr in kwargs:
                value = kwargs.pop(spec.name) if spec.name in kwargs else kwargs.pop(spec.attr)
            elif spec.has_default and spec.default is not _UNKNOWN:
                value = spec.default
            elif spec.info.attrs.get("default_factory") in _FACTORIES:
                value = _FACTORIES[spec.info.attrs["default_factory"]]()
            else:
                raise NotStatic(f"{info.qualname}(...): field {spec.attr!r} is not known", line)
            values.append((spec.name, value))
        if positional or kwargs:
            raise NotStatic(f"{info.qualname}(...): unexpected arguments", line)
        return Instance(info.qualname, tuple(values))

    # -- classes -------------------------------------------------------------------------------

    def class_info(self, definition: Definition, qualname: str | None = None) -> ClassInfo | None:
        """What kind of class this is, for schema purposes; None for a plain class."""
        key = id(definition.node)
        if key in self._classes:
            return self._classes[key]
        self._classes[key] = None  # recursion guard
        node = definition.node
        info: ClassInfo | None = None
        if isinstance(node, ast.ClassDef):
            kind = self._class_kind(definition, node)
            if kind is not None:
                info = ClassInfo(kind, definition, qualname or node.name)
        self._classes[key] = info
        return info

    def _class_kind(self, definition: Definition, node: ast.ClassDef) -> str | None:
        for base in node.bases:
            base_expr = base.value if isinstance(base, ast.Subscript) else base
            found = self.target(definition.module, base_expr, before=node.lineno)
            if isinstance(found, External):
                kind = _BASE_KINDS.get(found.qualname)
                if kind == "unsupported":
                    self.warn(
                        f"class {node.name} derives from {found.qualname}, which flowdeploy "
                        "does not model; its parameters get no type (Prefect would give one)",
                        definition.module,
                        node.lineno,
                    )
                    return None
                if kind is not None:
                    return kind
            elif isinstance(found, Definition):
                inner = self.class_info(found)
                if inner is not None and inner.kind != "dataclass":
                    return inner.kind
        for deco in node.decorator_list:
            func = deco.func if isinstance(deco, ast.Call) else deco
            found = self.target(definition.module, func)
            if isinstance(found, External) and found.qualname in (
                "dataclasses.dataclass",
                "pydantic.dataclasses.dataclass",
            ):
                return "dataclass"
        return None

    def bases(self, info: ClassInfo) -> list[ClassInfo]:
        out: list[ClassInfo] = []
        for base in info.node.bases:
            base_expr = base.value if isinstance(base, ast.Subscript) else base
            found = self.target(info.module, base_expr, before=info.node.lineno)
            if isinstance(found, Definition):
                inner = self.class_info(found)
                if inner is not None:
                    out.append(inner)
        return out

    def enum_members(self, info: ClassInfo) -> list[tuple[str, Any]]:
        key = id(info.node)
        if key in self._enum_members:
            return self._enum_members[key]
        self._enum_members[key] = []
        mixin = self._enum_mixin(info)
        members: list[tuple[str, Any]] = []
        last: list[Any] = []
        for stmt in info.node.body:
            if isinstance(stmt, ast.FunctionDef) and stmt.name in (
                "__new__",
                "_generate_next_value_",
            ):
                self.warn(
                    f"enum {info.qualname} defines {stmt.name}; member values are read as written",
                    info.module,
                    stmt.lineno,
                )
            targets, value = _enum_assignment(stmt)
            if value is None:
                continue
            for name in targets:
                member_value = self._enum_value(info, mixin, name, value, last)
                last.append(member_value)
                members.append((name, member_value))
        self._enum_members[key] = members
        return members

    def _enum_mixin(self, info: ClassInfo) -> str | None:
        for base in info.node.bases:
            found = self.target(info.module, base, before=info.node.lineno)
            if isinstance(found, External):
                mixin = {
                    "builtins.str": "str",
                    "enum.StrEnum": "str",
                    "builtins.int": "int",
                    "enum.IntEnum": "int",
                    "enum.IntFlag": "flag",
                    "enum.Flag": "flag",
                }.get(found.qualname)
                if mixin:
                    return mixin
            elif isinstance(found, Definition):
                inner = self.class_info(found)
                if inner is not None:
                    mixin = self._enum_mixin(inner)
                    if mixin:
                        return mixin
        return None

    def _enum_value(
        self, info: ClassInfo, mixin: str | None, name: str, value: ast.expr, last: list[Any]
    ) -> Any:
        if isinstance(value, ast.Call):
            func = self.target(info.module, value.func)
            if isinstance(func, External) and func.qualname == "enum.auto":
                return _auto_value(mixin, name, last)
        try:
            raw = self.evaluate(info.module, value)
        except NotStatic as exc:
            self.warn(
                f"value of enum member {info.qualname}.{name} is not a constant ({exc.reason})",
                info.module,
                value.lineno,
            )
            return None
        if mixin == "str" and not isinstance(raw, str):
            return str(raw)
        if mixin in ("int", "flag") and isinstance(raw, str):
            try:
                return int(raw)
            except ValueError:
                return raw
        return raw


def _hashed(build: Callable[[], Any], line: int) -> Any:
    """Build a set or dict; unhashable members mean the code would fail, not a constant."""
    try:
        return build()
    except TypeError as exc:
        raise NotStatic(f"unhashable value: {exc}", line) from exc


def _auto_value(mixin: str | None, name: str, last: list[Any]) -> Any:
    """``enum.auto()`` as Python 3.11 computes it."""
    if mixin == "str":
        return name.lower()
    if mixin == "flag":
        highest = max((v for v in last if isinstance(v, int)), default=0)
        return 1 if highest <= 0 else 2 ** highest.bit_length()
    for previous in reversed(last):
        if isinstance(previous, int):
            return previous + 1
    return 1


def _enum_assignment(stmt: ast.stmt) -> tuple[list[str], ast.expr | None]:
    if isinstance(stmt, ast.Assign):
        names = [t.id for t in stmt.targets if isinstance(t, ast.Name)]
        if len(names) == len(stmt.targets):
            names = [n for n in names if not (n.startswith("_") and n.endswith("_"))]
            names = [n for n in names if not n.startswith("__")]
            return names, stmt.value
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value:
        name = stmt.target.id
        if not name.startswith("_"):
            return [name], stmt.value
    return [], None


def _class_assignment(stmt: ast.stmt, name: str) -> ast.expr | None:
    if isinstance(stmt, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == name for t in stmt.targets
    ):
        return stmt.value
    if (
        isinstance(stmt, ast.AnnAssign)
        and isinstance(stmt.target, ast.Name)
        and stmt.target.id == name
    ):
        return stmt.value
    return None


_BASE_KINDS = {
    "pydantic.BaseModel": "model",
    "enum.Enum": "enum",
    "enum.IntEnum": "enum",
    "enum.StrEnum": "enum",
    "enum.Flag": "enum",
    "enum.IntFlag": "enum",
    "typing.TypedDict": "typeddict",
    "pydantic.RootModel": "unsupported",
    "pydantic.v1.BaseModel": "unsupported",
    "typing.NamedTuple": "unsupported",
    "typing.Generic": None,
}


def _timezone(offset: dt.timedelta, name: str | None = None) -> dt.timezone:
    return dt.timezone(offset) if name is None else dt.timezone(offset, name)


def _decimal(value: Any = "0") -> Decimal:
    if isinstance(value, float):
        return Decimal(value)
    return Decimal(value)


_CONSTRUCTORS: dict[str, Callable[..., Any]] = {
    "datetime.datetime": dt.datetime,
    "datetime.date": dt.date,
    "datetime.time": dt.time,
    "datetime.timedelta": dt.timedelta,
    "datetime.timezone": _timezone,
    "decimal.Decimal": _decimal,
    "uuid.UUID": uuid.UUID,
    "pathlib.Path": PurePosixPath,
    "pathlib.PurePath": PurePosixPath,
    "pathlib.PosixPath": PurePosixPath,
    "pathlib.PurePosixPath": PurePosixPath,
    "builtins.set": set,
    "builtins.frozenset": frozenset,
    "builtins.list": list,
    "builtins.tuple": tuple,
    "builtins.dict": dict,
    "builtins.str": str,
    "builtins.int": int,
    "builtins.float": float,
    "builtins.bool": bool,
}


# ================================================================================================
# Annotations (AST) to the type model.
# ================================================================================================

# What a string forward reference can name when Prefect builds its model: the globals of
# ``prefect._internal.pydantic.v2_schema`` (where ``create_model`` is called) and builtins.
_PREFECT_NAMESPACE = {
    "typing": "typing",
    "t": "typing",
    "pydantic": "pydantic",
    "inspect": "inspect",
    "ConfigDict": "pydantic.ConfigDict",
    "FieldInfo": "pydantic.fields.FieldInfo",
    "TypeAdapter": "pydantic.TypeAdapter",
    "V2BaseModel": "pydantic.BaseModel",
    "create_model": "pydantic.create_model",
}
_BUILTINS = frozenset(dir(builtins))

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
_VALIDATOR_CONSTRAINTS = frozenset(
    {
        "gt",
        "ge",
        "lt",
        "le",
        "multiple_of",
        "min_length",
        "max_length",
        "max_digits",
        "decimal_places",
    }
)


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


class Translator:
    """Turns annotation expressions into :data:`Node` values.

    ``foreign_strings``: string forward references nested in a parameter annotation are resolved
    by pydantic in Prefect's module, not the user's (so ``Optional["Model"]`` is untyped there).
    """

    def __init__(self, analyzer: Analyzer, *, line: int, foreign_strings: bool) -> None:
        self.analyzer = analyzer
        self.line = line
        self.foreign_strings = foreign_strings
        self._aliases: set[tuple[str, str]] = set()

    def warn(self, message: str, module: Module) -> None:
        self.analyzer.warn(message, module, self.line)

    # -- entry points --------------------------------------------------------------------------

    def peel(self, module: Module, expr: ast.expr | None, foreign: bool = False) -> Peeled:
        """Translate a field annotation, keeping top-level ``Annotated`` metadata separate."""
        if expr is None:
            return Peeled(AnyT(), [], [])
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            parsed = self._parse_string(module, expr.value)
            return self.peel(module, parsed, foreign or self.foreign_strings)
        if isinstance(expr, ast.Subscript):
            base = self._resolve(module, expr.value, foreign)
            if isinstance(base, External) and base.qualname == "typing.Annotated":
                args = _subscript_args(expr)
                inner = self.peel(module, args[0], foreign)
                fields = list(inner.fields)
                constraints = list(inner.constraints)
                node = inner.node
                for item in args[1:]:
                    meta = self._metadata(module, item, foreign)
                    if isinstance(meta, FieldArgs):
                        fields.append(meta)
                    elif isinstance(meta, list):
                        constraints.extend(meta)
                    elif meta is not None:
                        node = meta
                return Peeled(node, fields, constraints)
        if isinstance(expr, (ast.Name, ast.Attribute)) and not foreign:
            found = self.analyzer.target(module, expr)
            if isinstance(found, Value) and isinstance(found.expr, ast.Subscript):
                with self._alias(found):
                    return self.peel(found.module, found.expr)
        return Peeled(self.node(module, expr, foreign), [], [])

    def node(self, module: Module, expr: ast.expr | None, foreign: bool = False) -> Node:
        """Translate a type expression (``Annotated`` metadata applies to the type itself)."""
        if expr is None:
            return AnyT()
        if isinstance(expr, ast.Constant):
            if expr.value is None:
                return NoneT()
            if isinstance(expr.value, str):
                parsed = self._parse_string(module, expr.value)
                return self.node(module, parsed, foreign or self.foreign_strings)
            raise _Unresolvable(f"{expr.value!r} is not a type")
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.BitOr):
            return make_union(
                [self.node(module, expr.left, foreign), self.node(module, expr.right, foreign)]
            )
        if isinstance(expr, ast.Subscript):
            base = self._resolve(module, expr.value, foreign)
            return self._target(module, base, _subscript_args(expr), foreign, expr)
        if isinstance(expr, (ast.Name, ast.Attribute)):
            return self._target(module, self._resolve(module, expr, foreign), None, foreign, expr)
        if isinstance(expr, ast.Call):
            return self._call(module, expr, foreign)
        raise _Unresolvable(f"annotation {ast.unparse(expr)!r} is not a type flowdeploy can read")

    # -- helpers -------------------------------------------------------------------------------

    def _parse_string(self, module: Module, text: str) -> ast.expr:
        try:
            return ast.parse(text, mode="eval").body
        except SyntaxError as exc:
            raise _Unresolvable(f"string annotation {text!r} is not valid Python") from exc

    def _resolve(self, module: Module, expr: ast.expr, foreign: bool) -> Resolved:
        if not foreign:
            return self.analyzer.target(module, expr)
        if isinstance(expr, ast.Name):
            if expr.id in _PREFECT_NAMESPACE:
                return External(_PREFECT_NAMESPACE[expr.id])
            if expr.id in _BUILTINS:
                return External(f"builtins.{expr.id}")
            return Unresolved(expr.id, f"{expr.id!r} is not visible where pydantic resolves it")
        if isinstance(expr, ast.Attribute):
            base = self._resolve(module, expr.value, foreign)
            if isinstance(base, External):
                return External(normalize_qualname(f"{base.qualname}.{expr.attr}"))
            return base
        return Unresolved(ast.unparse(expr), "not a name")

    @contextlib.contextmanager
    def _alias(self, value: Value) -> Iterator[None]:
        """Follow a type alias once; an alias that reaches itself is not a type."""
        key = (str(value.module.path), value.name)
        if key in self._aliases:
            raise _Unresolvable(f"recursive type alias {value.name!r}")
        self._aliases.add(key)
        try:
            yield
        finally:
            self._aliases.discard(key)

    def _target(
        self,
        module: Module,
        found: Resolved,
        args: list[ast.expr] | None,
        foreign: bool,
        expr: ast.expr,
    ) -> Node:
        if isinstance(found, External):
            return self._external(module, found.qualname, args, foreign, expr)
        if isinstance(found, Unresolved):
            raise _Unresolvable(found.reason)
        if isinstance(found, Value):
            if args is not None:
                self.warn(f"generic alias {ast.unparse(expr)!r} is not supported; untyped", module)
                return AnyT()
            with self._alias(found):
                return self._value_type(found)
        if isinstance(found, Member):
            nested = _nested_class(found)
            if nested is not None:
                qualname = f"{found.owner.node.name}.{found.attr}"
                return self._class(module, nested, qualname, args, expr)
            self.warn(f"{ast.unparse(expr)!r} is not a type flowdeploy can read; untyped", module)
            return AnyT()
        if isinstance(found, Definition):
            if isinstance(found.node, ast.ClassDef):
                return self._class(module, found, found.node.name, args, expr)
            self.warn(f"{ast.unparse(expr)!r} is a function, not a type; untyped", module)
            return AnyT()
        self.warn(f"{ast.unparse(expr)!r} is a module, not a type; untyped", module)
        return AnyT()

    def _class(
        self,
        module: Module,
        definition: Definition,
        qualname: str,
        args: list[ast.expr] | None,
        expr: ast.expr,
    ) -> Node:
        info = self.analyzer.class_info(definition, qualname)
        if args is not None:
            self.warn(f"generic class {ast.unparse(expr)!r} is not supported; untyped", module)
            return AnyT()
        if info is None:
            node = definition.node
            if isinstance(node, ast.ClassDef) and any(
                isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef))
                and stmt.name in ("__get_pydantic_core_schema__", "__get_pydantic_json_schema__")
                for stmt in node.body
            ):
                self.warn(
                    f"class {qualname} customizes its pydantic schema; flowdeploy cannot run "
                    "that hook, so the parameter is untyped",
                    module,
                )
            return AnyT()
        return Ref(info)

    def _value_type(self, value: Value) -> Node:
        expr = value.expr
        if isinstance(expr, ast.Call):
            func = self.analyzer.target(value.module, expr.func)
            if isinstance(func, External) and func.qualname == "typing.NewType" and expr.args:
                return self.node(value.module, expr.args[-1])
            if isinstance(func, External) and func.qualname == "typing.TypeVar":
                return self._typevar(value.module, expr)
        return self.node(value.module, expr)

    def _typevar(self, module: Module, call: ast.Call) -> Node:
        for kw in call.keywords:
            if kw.arg == "bound":
                return self.node(module, kw.value)
        if len(call.args) > 1:
            return make_union([self.node(module, a) for a in call.args[1:]])
        return AnyT()

    def _external(
        self,
        module: Module,
        qualname: str,
        args: list[ast.expr] | None,
        foreign: bool,
        expr: ast.expr,
    ) -> Node:
        if args is None:
            return self._bare(module, qualname, expr)
        if qualname == "typing.Optional":
            return make_union([self.node(module, args[0], foreign), NoneT()])
        if qualname == "typing.Union":
            return make_union([self.node(module, a, foreign) for a in args])
        if qualname == "typing.Literal":
            return Lit(tuple(self._literal_values(module, args, foreign)))
        if qualname == "typing.Annotated":
            peeled = self.peel(module, expr, foreign)
            return _apply_fields(peeled)
        if qualname in _LISTS:
            return Seq("list", self.node(module, args[0], foreign))
        if qualname in _SETS:
            return Seq("set", self.node(module, args[0], foreign))
        if qualname in _DICTS:
            key = self.node(module, args[0], foreign)
            return Mapping(key, self.node(module, args[1], foreign) if len(args) > 1 else AnyT())
        if qualname in _COUNTERS:
            return Mapping(self.node(module, args[0], foreign), Scalar("int"))
        if qualname in _TUPLES:
            return self._tuple(module, args, foreign)
        if qualname in _CALLABLES:
            return Invalid("Callable")
        if qualname in _ANY_TYPES:
            return AnyT()
        if qualname in _PASSTHROUGH:
            return self.node(module, args[0], foreign)
        self.warn(
            f"{ast.unparse(expr)!r} ({qualname}) is not a type flowdeploy knows; untyped", module
        )
        return AnyT()

    def _bare(self, module: Module, qualname: str, expr: ast.expr) -> Node:
        known = _SCALARS.get(qualname)
        if known is not None:
            return known
        if qualname in _ANY_TYPES:
            return AnyT()
        if qualname in _LISTS:
            return Seq("list", AnyT())
        if qualname in _SETS:
            return Seq("set", AnyT())
        if qualname in _DICTS:
            return Mapping(AnyT(), AnyT())
        if qualname in _COUNTERS:
            return Mapping(AnyT(), Scalar("int"))
        if qualname in _TUPLES:
            return Tup((AnyT(),), variadic=True)
        if qualname in _CALLABLES:
            return Invalid("Callable")
        if qualname in ("types.NoneType", "builtins.NoneType"):
            return NoneT()
        if qualname.startswith("pydantic.v1."):
            self.warn(f"pydantic.v1 type {qualname} is not supported; untyped", module)
            return AnyT()
        self.warn(
            f"{ast.unparse(expr)!r} ({qualname}) is defined outside the repository; flowdeploy "
            "assumes a plain class (no type in the schema), as Prefect does for those",
            module,
        )
        return AnyT()

    def _tuple(self, module: Module, args: list[ast.expr], foreign: bool) -> Node:
        if len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is Ellipsis:
            return Tup((self.node(module, args[0], foreign),), variadic=True)
        if len(args) == 1 and isinstance(args[0], ast.Tuple) and not args[0].elts:
            return Tup((), variadic=False)
        return Tup(tuple(self.node(module, a, foreign) for a in args), variadic=False)

    def _literal_values(self, module: Module, args: list[ast.expr], foreign: bool) -> list[Any]:
        values: list[Any] = []
        for arg in args:
            if isinstance(arg, ast.Subscript) and not foreign:
                base = self.analyzer.target(module, arg.value)
                if isinstance(base, External) and base.qualname == "typing.Literal":
                    values.extend(self._literal_values(module, _subscript_args(arg), foreign))
                    continue
            try:
                value = (
                    arg.value
                    if foreign and isinstance(arg, ast.Constant)
                    else self.analyzer.evaluate(module, arg)
                )
            except NotStatic as exc:
                raise _Unresolvable(f"Literal value {ast.unparse(arg)!r}: {exc.reason}") from exc
            try:
                encoded = encode_default(value)
            except Unencodable as exc:
                raise _Unresolvable(f"Literal value {ast.unparse(arg)!r}") from exc
            pair = (type(encoded), encoded)
            if pair not in [(type(v), v) for v in values]:
                values.append(encoded)
        return values

    def _call(self, module: Module, call: ast.Call, foreign: bool) -> Node:
        func = self._resolve(module, call.func, foreign)
        if (
            isinstance(func, External)
            and func.qualname == "builtins.type"
            and len(call.args) == 1
            and isinstance(call.args[0], ast.Constant)
            and call.args[0].value is None
        ):
            return NoneT()
        if isinstance(func, External) and func.qualname in _CON_FUNCS:
            kind = _CON_FUNCS[func.qualname]
            args = FieldArgs()
            for kw in call.keywords:
                if kw.arg in _CONSTRAINTS:
                    args.constraints.append((kw.arg, self._static(module, kw.value)))
            if kind in ("list", "set"):
                item_expr = call.args[0] if call.args else None
                for kw in call.keywords:
                    if kw.arg == "item_type":
                        item_expr = kw.value
                node: Node = Seq(kind, self.node(module, item_expr, foreign))
            else:
                node = Scalar(kind)
            return constrain(node, args.constraints)
        raise _Unresolvable(f"annotation {ast.unparse(call)!r} is a call flowdeploy cannot follow")

    def _static(self, module: Module, expr: ast.expr) -> Any:
        try:
            return self.analyzer.evaluate(module, expr)
        except NotStatic as exc:
            raise _Unresolvable(f"{ast.unparse(expr)!r} is not a constant ({exc.reason})") from exc

    # -- Annotated metadata --------------------------------------------------------------------

    def _metadata(
        self, module: Module, expr: ast.expr, foreign: bool
    ) -> FieldArgs | list[tuple[str, Any]] | Node | None:
        if not isinstance(expr, ast.Call):
            return None
        func = self._resolve(module, expr.func, foreign)
        if not isinstance(func, External):
            return None
        name = func.qualname
        if name in ("pydantic.Field", "pydantic.fields.Field"):
            return self.field_args(module, expr)
        if name in _ANNOTATED_TYPES:
            keys = _ANNOTATED_TYPES[name]
            values = [self._static(module, a) for a in expr.args]
            pairs = list(zip(keys, values, strict=False))
            pairs += [(k.arg, self._static(module, k.value)) for k in expr.keywords if k.arg]
            return [(k, v) for k, v in pairs if v is not None]
        if name == "annotated_types.Interval":
            pairs = [(k.arg, self._static(module, k.value)) for k in expr.keywords if k.arg]
            return [(k, v) for k, v in pairs if v is not None]
        if name == "pydantic.StringConstraints":
            found = [(k.arg, self._static(module, k.value)) for k in expr.keywords if k.arg]
            return [(k, v) for k, v in found if k in _CONSTRAINTS and v is not None]
        if name == "pydantic.PlainValidator":
            return AnyT()
        if name == "pydantic.WithJsonSchema" and expr.args:
            value = self._static(module, expr.args[0])
            if isinstance(value, dict):
                return Fixed(tuple(value.items()))
        return None

    def field_args(self, module: Module, call: ast.Call) -> FieldArgs:
        """A ``pydantic.Field(...)`` (or ``dataclasses.field(...)``) call, read statically."""
        args = FieldArgs()
        if call.args:
            self.read_into(module, args, "default", call.args[0])
        for kw in call.keywords:
            key = kw.arg
            if key is None:
                self.warn("Field(**...) is not read; its settings are ignored", module)
            elif key == "default_factory":
                factory = self.analyzer.target(module, kw.value)
                known = isinstance(factory, External) and factory.qualname in _FACTORIES
                name = factory.qualname if isinstance(factory, External) else ""
                args.attrs["default_factory"] = name if known else True
            elif key in (
                "default",
                "alias",
                "validation_alias",
                "title",
                "description",
                "examples",
                "json_schema_extra",
                "deprecated",
            ):
                self.read_into(module, args, key, kw.value)
            elif key in _CONSTRAINTS:
                try:
                    args.constraints.append((key, self.analyzer.evaluate(module, kw.value)))
                except NotStatic as exc:
                    self.warn(f"Field({key}=...) is not a constant ({exc.reason}); ignored", module)
            elif key == "discriminator":
                self.warn("Field(discriminator=...) is not reproduced", module)
        return args

    def read_into(self, module: Module, args: FieldArgs, key: str, expr: ast.expr) -> None:
        """Set ``args.attrs[key]`` to the constant ``expr``; warn when it is not one."""
        try:
            args.attrs[key] = self.analyzer.evaluate(module, expr)
        except NotStatic as exc:
            if key == "default":
                args.attrs[key] = _UNKNOWN
            self.warn(f"Field({key}=...) is not a constant ({exc.reason}); ignored", module)


class _Unknown:
    """A default that exists but cannot be read statically."""

    def __repr__(self) -> str:
        return "<unknown>"


_UNKNOWN = _Unknown()


def _subscript_args(expr: ast.Subscript) -> list[ast.expr]:
    if isinstance(expr.slice, ast.Tuple):
        return list(expr.slice.elts)
    return [expr.slice]


def _nested_class(member: Member) -> Definition | None:
    node = member.owner.node
    if isinstance(node, ast.ClassDef):
        for stmt in node.body:
            if isinstance(stmt, ast.ClassDef) and stmt.name == member.attr:
                return Definition(member.owner.module, stmt)
    return None


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
    if isinstance(node, Scalar):
        return Scalar(node.kind, _replace(node.constraints, key, value))
    if isinstance(node, Seq):
        return Seq(node.kind, node.item, _replace(node.constraints, key, value))
    if isinstance(node, Tup):
        return Tup(node.items, node.variadic, _replace(node.constraints, key, value))
    if isinstance(node, Mapping):
        return Mapping(node.key, node.value, _replace(node.constraints, key, value))
    return node  # temporal bounds: validated, not in the JSON schema


def _updates(info: FieldArgs) -> tuple[tuple[tuple[str, Any], ...], tuple[tuple[str, Any], ...]]:
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
        try:
            extra_pairs = tuple(encode_default(extra).items())
        except Unencodable:
            extra_pairs = ()
    return tuple(updates.items()), extra_pairs


def _apply_fields(peeled: Peeled) -> Node:
    """``Annotated`` metadata on a nested type: constraints, then JSON updates on that type."""
    node = constrain(peeled.node, peeled.constraints)
    for info in peeled.fields:
        node = constrain(node, info.constraints)
        updates, extra = _updates(info)
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


# ================================================================================================
# Fields of classes defined in the repository.
# ================================================================================================

_FIELD_CALLS = ("pydantic.Field", "dataclasses.field")


def _is_classvar(analyzer: Analyzer, module: Module, annotation: ast.expr) -> bool:
    expr = annotation.value if isinstance(annotation, ast.Subscript) else annotation
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return expr.value.startswith(("ClassVar", "typing.ClassVar"))
    if isinstance(expr, (ast.Name, ast.Attribute)):
        found = analyzer.target(module, expr)
        return isinstance(found, External) and found.qualname in (
            "typing.ClassVar",
            "dataclasses.InitVar",
        )
    return False


def _assigned(translator: Translator, module: Module, value: ast.expr | None) -> FieldArgs:
    if value is None:
        return FieldArgs()
    if isinstance(value, ast.Call):
        func = translator.analyzer.target(module, value.func)
        if isinstance(func, External) and func.qualname in _FIELD_CALLS:
            return translator.field_args(module, value)
    args = FieldArgs()
    translator.read_into(module, args, "default", value)
    return args


def field_spec(
    translator: Translator,
    module: Module,
    name: str,
    annotation: ast.expr | None,
    value: ast.expr | None,
) -> FieldSpec:
    """A model/dataclass field: ``Annotated`` metadata merged with what is assigned to it."""
    try:
        peeled = translator.peel(module, annotation)
    except _Unresolvable as exc:
        translator.warn(f"field {name!r}: {exc.reason}; untyped", module)
        peeled = Peeled(AnyT(), [], [])
    info = merge_fields([*peeled.fields, _assigned(translator, module, value)])
    node = constrain(peeled.node, [*peeled.constraints, *info.constraints])
    alias = info.attrs.get("validation_alias")
    if not isinstance(alias, str):
        alias = info.attrs.get("alias")
    spec = FieldSpec(alias if isinstance(alias, str) else name, node, info, True, attr=name)
    default = info.attrs.get("default", Ellipsis)
    if default is not Ellipsis:
        spec.required = False
        spec.has_default = True
        spec.default = default
    elif info.attrs.get("default_factory"):
        spec.required = False
    return spec


class ClassFields:
    """Fields and settings of repository classes, as pydantic collects them."""

    def __init__(self, analyzer: Analyzer) -> None:
        self.analyzer = analyzer

    def _translator(self, node: ast.ClassDef) -> Translator:
        return Translator(self.analyzer, line=node.lineno, foreign_strings=False)

    def fields(self, info: ClassInfo) -> list[FieldSpec]:
        collected: dict[str, FieldSpec] = {}
        for base in reversed(self.analyzer.bases(info)):
            if base.kind in ("model", "dataclass", "typeddict"):
                for spec in self.fields(base):
                    collected[spec.attr] = spec
        translator = self._translator(info.node)
        total = self._total(info)
        for stmt in info.node.body:
            if not isinstance(stmt, ast.AnnAssign) or not isinstance(stmt.target, ast.Name):
                continue
            name = stmt.target.id
            if name.startswith("_") or name == "model_config":
                continue
            if _is_classvar(self.analyzer, info.module, stmt.annotation):
                continue
            translator.line = stmt.lineno
            if info.kind == "typeddict":
                spec = self._typeddict_field(translator, info.module, name, stmt.annotation, total)
            else:
                spec = field_spec(translator, info.module, name, stmt.annotation, stmt.value)
            collected[name] = spec
        return list(collected.values())

    def _total(self, info: ClassInfo) -> bool:
        for kw in info.node.keywords:
            if kw.arg == "total" and isinstance(kw.value, ast.Constant):
                return bool(kw.value.value)
        return True

    def _typeddict_field(
        self, translator: Translator, module: Module, name: str, annotation: ast.expr, total: bool
    ) -> FieldSpec:
        required = total
        expr = annotation
        if isinstance(expr, ast.Subscript):
            base = self.analyzer.target(module, expr.value)
            if isinstance(base, External) and base.qualname in (
                "typing.Required",
                "typing.NotRequired",
            ):
                required = base.qualname == "typing.Required"
                expr = _subscript_args(expr)[0]
        spec = field_spec(translator, module, name, expr, None)
        spec.required = required
        return spec

    def config(self, info: ClassInfo) -> dict[str, Any]:
        config: dict[str, Any] = {}
        for base in reversed(self.analyzer.bases(info)):
            if base.kind == "model":
                config.update(self.config(base))
        for stmt in info.node.body:
            value = _class_assignment(stmt, "model_config")
            if value is not None:
                config.update(self._config_value(info, value))
        for kw in info.node.keywords:
            if kw.arg and kw.arg not in ("metaclass", "total"):
                config[kw.arg] = self._static(info, kw.value)
        return config

    def _config_value(self, info: ClassInfo, value: ast.expr) -> dict[str, Any]:
        if isinstance(value, ast.Call):
            return {kw.arg: self._static(info, kw.value) for kw in value.keywords if kw.arg}
        found = self._static(info, value)
        return found if isinstance(found, dict) else {}

    def _static(self, info: ClassInfo, expr: ast.expr) -> Any:
        try:
            return self.analyzer.evaluate(info.module, expr)
        except NotStatic as exc:
            self.analyzer.warn(
                f"setting of {info.qualname} is not a constant ({exc.reason}); ignored",
                info.module,
                expr.lineno,
            )
            return None


# ================================================================================================
# JSON generation: pydantic's GenerateJsonSchema rules, for the type model above.
# ================================================================================================


# settings that change a model's JSON schema and are not modelled here
_UNSUPPORTED_CONFIG = frozenset(
    {
        "alias_generator",
        "field_title_generator",
        "model_title_generator",
        "str_min_length",
        "str_max_length",
        "use_attribute_docstrings",
    }
)


class _InvalidDefinition(_InvalidJson):
    """A class whose schema is invalid: a reference to it is invalid too (a union skips it)."""


def _title_from_name(name: str) -> str:
    return name.title().replace("_", " ").strip()


def _title_should_be_set(node: Node) -> bool:
    if isinstance(node, (Ref, NamedDef)):
        return False
    if isinstance(node, (Nullable, Meta)):
        return _title_should_be_set(node.inner)
    return True


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


def _dedupe(schemas: Iterable[Json]) -> list[Json]:
    return list({_hashable(s): s for s in schemas}.values())


def _normalize_name(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9.\-_]", "_", name).replace(".", "__")


class JsonGenerator:
    """Generates JSON for nodes; class definitions are collected under internal keys."""

    def __init__(self, analyzer: Analyzer) -> None:
        self.analyzer = analyzer
        self.classes = ClassFields(analyzer)
        self.definitions: dict[str, Json] = {}
        self.choices: dict[str, list[str]] = {}
        self._refs: dict[int, str] = {}
        self._invalid: set[str] = set()
        self._counter: Counter[str] = Counter()

    # -- nodes ---------------------------------------------------------------------------------

    def gen(self, node: Node) -> Json:
        if isinstance(node, AnyT):
            return {}
        if isinstance(node, NoneT):
            return {"type": "null"}
        if isinstance(node, Scalar):
            return _scalar(node)
        if isinstance(node, Fixed):
            return copy.deepcopy(dict(node.json))
        if isinstance(node, Seq):
            out: Json = {"type": "array", "items": self.gen(node.item)}
            if node.kind == "set":
                out["uniqueItems"] = True
            return _with(
                out, node.constraints, {"min_length": "minItems", "max_length": "maxItems"}
            )
        if isinstance(node, Tup):
            return self._tuple(node)
        if isinstance(node, Mapping):
            return self._dict(node)
        if isinstance(node, Lit):
            return _literal(node.values)
        if isinstance(node, UnionT):
            return self._union(node)
        if isinstance(node, Nullable):
            inner = self.gen(node.inner)
            null = {"type": "null"}
            return null if inner == null else self._any_of([inner, null])
        if isinstance(node, Ref):
            return self._ref(node.cls)
        if isinstance(node, NamedDef):
            return self._named(node)
        if isinstance(node, Meta):
            out = {**self.gen(node.inner), **dict(node.updates)}
            out.update(dict(node.extra))
            return out
        raise _InvalidJson(node.reason)

    def _tuple(self, node: Tup) -> Json:
        out: Json = {"type": "array"}
        if node.variadic:
            out["items"] = self.gen(node.items[0])
        else:
            prefix = [self.gen(item) for item in node.items]
            if prefix:
                out["prefixItems"] = prefix
            out["minItems"] = len(prefix)
            out["maxItems"] = len(prefix)
        return _with(out, node.constraints, {"min_length": "minItems", "max_length": "maxItems"})

    def _dict(self, node: Mapping) -> Json:
        out: Json = {"type": "object"}
        keys = dict(self.gen(node.key))
        pattern = None
        if "$ref" not in keys:
            pattern = keys.pop("pattern", None)
            keys.pop("title", None)
        values = dict(self.gen(node.value))
        values.pop("title", None)
        if values or pattern is not None:
            if pattern is None:
                out["additionalProperties"] = values
            else:
                out["patternProperties"] = {pattern: values}
        else:
            out["additionalProperties"] = True
        if (keys.get("type") == "string" and len(keys) > 1) or "$ref" in keys:
            keys.pop("type", None)
            out["propertyNames"] = keys
        return _with(
            out, node.constraints, {"min_length": "minProperties", "max_length": "maxProperties"}
        )

    def _union(self, node: UnionT) -> Json:
        generated: list[Json] = []
        for choice in node.choices:
            try:
                generated.append(self.gen(choice))
            except _InvalidJson:
                continue  # pydantic skips choices it cannot express
        if len(generated) == 1:
            return generated[0]
        return self._any_of(generated)

    @staticmethod
    def _any_of(schemas: list[Json]) -> Json:
        members: list[Json] = []
        for schema in schemas:
            if len(schema) == 1 and "anyOf" in schema:
                members.extend(schema["anyOf"])
            else:
                members.append(schema)
        members = _dedupe(members)
        if len(members) == 1:
            return members[0]
        return {"anyOf": members}

    # -- fields and objects --------------------------------------------------------------------

    def field(self, spec: FieldSpec, *, auto_title: bool) -> Json:
        """A field's schema: its type, its default, then ``Field`` updates and extras."""
        out = dict(self.gen(spec.node))
        if spec.has_default and spec.default is not _UNKNOWN:
            default = spec.default
            if isinstance(default, (set, frozenset)) and len(default) > 1:
                default = _sorted(default)
            # pydantic leaves defaults it cannot serialize out of the schema
            with contextlib.suppress(Unencodable):
                out["default"] = encode_default(default)
        updates, extra = _updates(spec.info)
        out = {**out, **dict(updates)}
        out.update(dict(extra))
        if auto_title and "title" not in out and _title_should_be_set(spec.node):
            out["title"] = _title_from_name(spec.name)
        return self._ref_overrides(out)

    def object(self, fields: Sequence[FieldSpec]) -> Json:
        properties: Json = {}
        required: list[str] = []
        for spec in fields:
            properties[spec.name] = self.field(spec, auto_title=True)
            if spec.required:
                required.append(spec.name)
        out: Json = {"type": "object", "properties": properties}
        if required:
            out["required"] = required
        return out

    def _ref_overrides(self, schema: Json) -> Json:
        """Drop keys next to ``$ref`` that only repeat the referenced schema."""
        ref = schema.get("$ref")
        if not isinstance(ref, str):
            return schema
        referenced = self.definitions.get(ref.rpartition("/")[2])
        if referenced is None:
            return schema
        return {k: v for k, v in schema.items() if k == "$ref" or referenced.get(k, _MISSING) != v}

    # -- class definitions ---------------------------------------------------------------------

    def _ref(self, info: ClassInfo) -> Json:
        key = id(info.node)
        defs_ref = self._refs.get(key)
        if defs_ref is None:
            defs_ref = self._defs_ref(f"{info.core_ref}:{key}")
            self._refs[key] = defs_ref
            try:
                self.definitions[defs_ref] = self._class(info)
            except (_InvalidJson, _InvalidDefinition) as exc:
                self._invalid.add(defs_ref)
                self.definitions.pop(defs_ref, None)
                raise _InvalidDefinition(str(exc)) from exc
        elif defs_ref in self._invalid:
            raise _InvalidDefinition(info.qualname)
        return {"$ref": REF_TEMPLATE.format(model=defs_ref)}

    def _named(self, node: NamedDef) -> Json:
        key = id(node.core_ref)
        defs_ref = self._refs.get(key)
        if defs_ref is None:
            defs_ref = self._defs_ref(f"{node.core_ref}:{key}")
            self._refs[key] = defs_ref
            self.definitions[defs_ref] = dict(node.json)
        return {"$ref": REF_TEMPLATE.format(model=defs_ref)}

    def _defs_ref(self, core_ref: str) -> str:
        """pydantic's ``get_defs_ref``: a unique key, plus simpler names to try at the end."""
        no_id = core_ref.rsplit(":", 1)[0]
        short = re.sub(r"(?:[^.[\]]+\.)+((?:[^.[\]]+))", r"\1", no_id)
        name = _normalize_name(short)
        module_qualname = _normalize_name(no_id)
        self._counter[module_qualname] += 1
        occurrence = self._counter[module_qualname]
        unique = f"{module_qualname}-Input__{occurrence}"
        self.choices[unique] = [
            name,
            f"{name}-Input",
            module_qualname,
            f"{module_qualname}-Input",
            f"{module_qualname}__{occurrence}",
            unique,
        ]
        return unique

    def _class(self, info: ClassInfo) -> Json:
        if info.kind == "enum":
            return self._enum(info)
        out = self.object(self.classes.fields(info))
        config = self.classes.config(info) if info.kind == "model" else {}
        for key in sorted(_UNSUPPORTED_CONFIG & config.keys()):
            if config[key]:
                self.analyzer.warn(
                    f"model_config[{key!r}] of {info.qualname} changes its JSON schema in ways "
                    "flowdeploy does not reproduce",
                    info.module,
                    info.node.lineno,
                )
        title = config.get("title")
        out["title"] = title if isinstance(title, str) else info.node.name
        docstring = ast.get_docstring(info.node, clean=False)
        if docstring:
            out.setdefault("description", inspect.cleandoc(docstring))
        extra = config.get("extra")
        if "additionalProperties" not in out and extra in ("allow", "forbid"):
            out["additionalProperties"] = extra == "allow"
        schema_extra = config.get("json_schema_extra")
        if isinstance(schema_extra, dict):
            out.update(encode_default(schema_extra))
        return out

    def _enum(self, info: ClassInfo) -> Json:
        out: Json = {"title": info.node.name}
        docstring = ast.get_docstring(info.node, clean=False)
        description = inspect.cleandoc(docstring) if docstring else None
        if description and description != "An enumeration.":
            out["description"] = description
        values = []
        for _, value in self.analyzer.enum_members(info):
            try:
                values.append(encode_default(value))
            except Unencodable as exc:
                raise _InvalidJson(f"enum {info.qualname}") from exc
        out["enum"] = values
        kind = _json_type({type(v) for v in values})
        if kind is not None and kind != "null":
            out["type"] = kind
        return out

    # -- finishing -----------------------------------------------------------------------------

    def finish(self, root: Json) -> Json:
        """Keep reachable definitions, give them their short names, sort like pydantic."""
        reachable: set[str] = set()
        pending = _all_refs(root)
        while pending:
            ref = pending.pop()
            key = ref.rpartition("/")[2]
            if key in reachable or key not in self.definitions:
                continue
            reachable.add(key)
            pending |= _all_refs(self.definitions[key])
        definitions = {k: v for k, v in self.definitions.items() if k in reachable}
        remapping = _remapping({k: self.choices[k] for k in definitions}, definitions)
        out: Json = copy.deepcopy(root)
        if definitions:
            out["$defs"] = copy.deepcopy(definitions)
        result: Json = _sort(_remap(out, remapping), None)
        return result


_MISSING = object()


def _with(out: Json, constraints: tuple[tuple[str, Any], ...], mapping: dict[str, str]) -> Json:
    for key, value in constraints:
        if key in mapping:
            out[mapping[key]] = value
    return out


def _scalar(node: Scalar) -> Json:
    constraints = dict(node.constraints)
    numeric = {
        "multiple_of": "multipleOf",
        "le": "maximum",
        "ge": "minimum",
        "lt": "exclusiveMaximum",
        "gt": "exclusiveMinimum",
    }
    if node.kind in ("int", "float"):
        out: Json = {"type": "integer" if node.kind == "int" else "number"}
        for key, target in numeric.items():
            if key in constraints:
                out[target] = constraints[key]
        return {k: v for k, v in out.items() if not (isinstance(v, float) and math.isinf(v))}
    if node.kind == "decimal":
        number: Json = {"type": "number"}
        for key, target in numeric.items():
            if key in constraints:
                number[target] = float(constraints[key])
        number = {k: v for k, v in number.items() if not (isinstance(v, float) and math.isinf(v))}
        return {"anyOf": [number, {"type": "string"}]}
    if node.kind == "str":
        out = {"type": "string"}
        for key, target in (
            ("min_length", "minLength"),
            ("max_length", "maxLength"),
            ("pattern", "pattern"),
        ):
            if key in constraints:
                out[target] = constraints[key]
        return out
    if node.kind == "bytes":
        out = {"type": "string", "format": "binary"}
        for key, target in (("min_length", "minLength"), ("max_length", "maxLength")):
            if key in constraints:
                out[target] = constraints[key]
        return out
    return {"type": "boolean"}


def _json_type(types: set[type]) -> str | None:
    names = {
        str: "string",
        int: "integer",
        float: "number",
        bool: "boolean",
        list: "array",
        type(None): "null",
    }
    if len(types) == 1:
        return names.get(next(iter(types)))
    return None


def _literal(values: tuple[Any, ...]) -> Json:
    out: Json = {}
    if len(values) == 1:
        out["const"] = values[0]
    else:
        out["enum"] = list(values)
    kind = _json_type({type(v) for v in values})
    if kind is not None:
        out["type"] = kind
    return out


def _all_refs(schema: Any) -> set[str]:
    refs: set[str] = set()
    stack = [schema]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            for key, value in current.items():
                if key == "examples" and isinstance(value, list):
                    continue
                if key == "$ref" and isinstance(value, str):
                    refs.add(value)
                elif isinstance(value, (dict, list)):
                    stack.append(value)
        elif isinstance(current, list):
            stack.extend(current)
    return refs


_Remapping = tuple[dict[str, str], dict[str, str]]


def _remap(schema: Any, remapping: _Remapping) -> Any:
    """pydantic's ``remap_json_schema``: rewrites ``$ref`` values and ``$defs`` keys in place."""
    defs_map, json_map = remapping
    if isinstance(schema, str):
        return json_map.get(schema, schema)
    if isinstance(schema, list):
        return [_remap(item, remapping) for item in schema]
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                schema[key] = json_map.get(value, value)
            elif key == "$defs" and isinstance(value, dict):
                schema[key] = {defs_map.get(k, k): _remap(v, remapping) for k, v in value.items()}
            else:
                schema[key] = _remap(value, remapping)
    return schema


def _remapping(choices: dict[str, list[str]], definitions: dict[str, Json]) -> _Remapping:
    """pydantic's ``_DefinitionsRemapping.from_prioritized_choices``: shortest unambiguous names."""
    copied = copy.deepcopy(definitions)
    previous: Json = {"$defs": copied}
    remapping: _Remapping = ({}, {})
    for _ in range(100):
        alternatives: defaultdict[str, list[Json]] = defaultdict(list)
        for defs_ref, schema in copied.items():
            for alternative in choices[defs_ref]:
                alternatives[alternative].append(schema)
        for name, schemas in alternatives.items():
            if len(schemas) > 1:
                alternatives[name] = _dedupe(schemas)
        defs_map: dict[str, str] = {}
        json_map: dict[str, str] = {}
        for original in definitions:
            options = choices[original]
            chosen = next(x for x in options if len(alternatives[x]) == 1)
            defs_map[original] = chosen
            for alternative in options[options.index(chosen) :]:
                json_map[REF_TEMPLATE.format(model=alternative)] = REF_TEMPLATE.format(model=chosen)
        remapping = (defs_map, json_map)
        current = _remap({"$defs": copied}, remapping)
        if current == previous:
            break
        previous = current
    return remapping


def _sort(value: Any, parent_key: str | None) -> Any:
    """pydantic's ``GenerateJsonSchema.sort``: keys sorted except under properties/default."""
    if isinstance(value, dict):
        keys = list(value.keys())
        if parent_key not in ("properties", "default"):
            keys = sorted(keys)
        return {key: _sort(value[key], key) for key in keys}
    if isinstance(value, list):
        return [_sort(item, parent_key) for item in value]
    return value


# ================================================================================================
# The parameter schema of a flow function.
# ================================================================================================


@dataclass(frozen=True)
class _Param:
    name: str
    kind: str  # positional | var_positional | keyword | var_keyword
    annotation: ast.expr | None
    default: ast.expr | None
    line: int


def _params(func: FuncDef) -> list[_Param]:
    """Parameters in ``inspect.signature`` order, with their default expressions."""
    args = func.args
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += args.defaults
    out = [
        _Param(a.arg, "positional", a.annotation, d, a.lineno)
        for a, d in zip(positional, defaults, strict=True)
    ]
    if args.vararg is not None:
        out.append(
            _Param(
                args.vararg.arg, "var_positional", args.vararg.annotation, None, args.vararg.lineno
            )
        )
    for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        out.append(_Param(a.arg, "keyword", a.annotation, d, a.lineno))
    if args.kwarg is not None:
        out.append(
            _Param(args.kwarg.arg, "var_keyword", args.kwarg.annotation, None, args.kwarg.lineno)
        )
    return out


def _string_annotation(expr: ast.expr | None, future: bool) -> tuple[bool, ast.expr | None]:
    """Whether ``inspect.signature(eval_str=True)`` evaluates it, and what it evaluates."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        try:
            return True, ast.parse(expr.value, mode="eval").body
        except SyntaxError:
            return True, None
    return (future and expr is not None), expr


def _unevaluable_name(
    index: SourceIndex, module: Module, func: FuncDef, future: bool
) -> str | None:
    """The first name that makes Prefect's ``eval_str=True`` fail (then no string is evaluated)."""
    annotations = [p.annotation for p in _params(func)] + [func.returns]
    for annotation in annotations:
        is_string, expr = _string_annotation(annotation, future)
        if not is_string or expr is None:
            continue
        for node in ast.walk(expr):
            if isinstance(node, ast.Name) and not index.is_runtime_name(module, node.id):
                return node.id
    return None


def parameter_schema(
    analyzer: Analyzer, module: Module, func: FuncDef, docstring: str | None
) -> SchemaResult:
    """The ``parameter_openapi_schema`` Prefect registers for flow function ``func``.

    ``docstring`` is the flow function's docstring as written (Prefect reads parameter
    descriptions from ``inspect.getdoc``).
    """
    first_warning = len(analyzer.warnings)
    source = analyzer.index.source(module)
    future = bool(source and source.future_annotations)
    missing = _unevaluable_name(analyzer.index, module, func, future)
    if missing is not None:
        analyzer.warn(
            f"annotations of {func.name} cannot be evaluated when the module runs ({missing!r} "
            "is not defined then, e.g. imported under TYPE_CHECKING); Prefect then keeps them "
            "as strings, and so does flowdeploy: most of these parameters get no type",
            module,
            func.lineno,
        )
    docs = parameter_docstrings(docstring)
    generator = JsonGenerator(analyzer)
    properties: Json = {}
    required: list[str] = []
    for position, param in enumerate(_params(func)):
        if param.name in ("self", "cls"):
            continue
        spec = _param_field(analyzer, module, param, position, docs, future, missing is not None)
        try:
            properties[param.name] = generator.field(spec, auto_title=False)
        except _InvalidJson:
            # Prefect's ``CheckParameter`` fallback: the whole annotation becomes ``Any``
            spec.node = AnyT()
            spec.info = spec.fallback or spec.info
            properties[param.name] = generator.field(spec, auto_title=False)
        if spec.required:
            required.append(param.name)
    root: Json = {"type": "object", "properties": properties, "title": "Parameters"}
    if required:
        root["required"] = required
    generated = generator.finish(root)
    schema: Json = {
        "title": "Parameters",
        "type": "object",
        "properties": generated["properties"],
    }
    if required:
        schema["required"] = generated["required"]
    if "$defs" in generated:
        schema["definitions"] = generated["$defs"]
    return SchemaResult(schema, tuple(analyzer.warnings[first_warning:]))


def _param_field(
    analyzer: Analyzer,
    module: Module,
    param: _Param,
    position: int,
    docs: dict[str, str],
    future: bool,
    strings_fail: bool,
) -> FieldSpec:
    translator = Translator(analyzer, line=param.line, foreign_strings=True)
    is_string, annotation = _string_annotation(param.annotation, future)
    foreign = is_string and strings_fail
    if is_string and annotation is None:
        translator.warn(f"annotation of {param.name!r} is not valid Python; untyped", module)
    try:
        if param.kind in ("var_positional", "var_keyword"):
            item = translator.node(module, annotation, foreign)
            node: Node = (
                Seq("list", item)
                if param.kind == "var_positional"
                else Mapping(Scalar("str"), item)
            )
            peeled = Peeled(node, [], [])
        else:
            peeled = translator.peel(module, annotation, foreign)
    except _Unresolvable as exc:
        if not foreign:
            translator.warn(f"parameter {param.name!r}: {exc.reason}; it gets no type", module)
        peeled = Peeled(AnyT(), [], [])
        if param.kind == "var_positional":
            peeled = Peeled(Seq("list", AnyT()), [], [])
        elif param.kind == "var_keyword":
            peeled = Peeled(Mapping(Scalar("str"), AnyT()), [], [])

    existing: FieldArgs | None = None
    default: Any = Ellipsis
    if param.kind == "var_positional":
        default = []
    elif param.kind == "var_keyword":
        default = {}
    elif param.default is not None:
        existing, default = _param_default(translator, module, param)

    description = None
    if existing is not None and existing.attrs.get("description"):
        description = existing.attrs["description"]
    else:
        description = docs.get(param.name)
    extra: dict[str, Any] = {}
    if existing is not None and isinstance(existing.attrs.get("json_schema_extra"), dict):
        extra.update(existing.attrs["json_schema_extra"])
    extra.setdefault("position", position)
    prefect = FieldArgs(
        attrs={
            "default": default,
            "title": param.name,
            "description": description,
            "alias": None,
            "json_schema_extra": extra,
        }
    )
    info = merge_fields([*peeled.fields, prefect])
    node = constrain(peeled.node, [*peeled.constraints, *info.constraints])
    has_default = default is not Ellipsis
    return FieldSpec(
        param.name,
        node,
        info,
        required=not has_default,
        default=default,
        has_default=has_default,
        fallback=prefect,
    )


def _param_default(
    translator: Translator, module: Module, param: _Param
) -> tuple[FieldArgs | None, Any]:
    expr = param.default
    assert expr is not None
    if isinstance(expr, ast.Call):
        func = translator.analyzer.target(module, expr.func)
        if isinstance(func, External) and func.qualname == "pydantic.Field":
            existing = translator.field_args(module, expr)
            value = existing.attrs.get("default", Ellipsis)
            return existing, (None if value is _UNKNOWN else value)
    try:
        return None, translator.analyzer.evaluate(module, expr)
    except NotStatic as exc:
        translator.warn(
            f"default of {param.name!r} is not a constant flowdeploy can read ({exc.reason}); "
            "the schema says null, as Prefect's static fallback does",
            module,
        )
        return None, None
