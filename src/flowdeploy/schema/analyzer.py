"""Static knowledge about a repository: the values of constant expressions and its classes.

flowdeploy never runs user code, so a default such as ``timedelta(hours=1)`` or ``Color.RED`` is
evaluated here from the syntax tree, with only side-effect-free operations and constructors; what
needs running raises :class:`~flowdeploy.schema.values.NotStatic`. Classes are sorted into the
kinds pydantic gives a schema (models, enums, dataclasses, TypedDicts).
"""

from __future__ import annotations

import ast
import datetime as dt
import math
import operator
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from pathlib import PurePosixPath
from typing import Any

from flowdeploy.errors import ConfigWarning, Location
from flowdeploy.schema.annotations import normalize_qualname

# Evaluating ``Model(...)`` needs the model's fields, and reading fields (or enum members)
# evaluates constants: so the modules imported here see this one only while type checking.
from flowdeploy.schema.enums import EnumBody, read_enum
from flowdeploy.schema.fields import ClassFields, class_assignment
from flowdeploy.schema.model import ClassInfo
from flowdeploy.schema.values import (
    FACTORIES,
    UNKNOWN,
    EnumMember,
    Instance,
    NotStatic,
    ObjectRef,
)
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

_BUILTIN_TYPES = frozenset(
    {"int", "float", "str", "bool", "bytes", "list", "dict", "set", "tuple", "frozenset", "object"}
)


_MEMBER_ATTRIBUTES = {"value": "value", "_value_": "value", "name": "name", "_name_": "name"}
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
        self._enum_bodies: dict[int, EnumBody] = {}
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
        if (
            isinstance(found, Unresolved)
            and isinstance(expr, ast.Attribute)
            and expr.attr in _MEMBER_ATTRIBUTES
        ):
            # ``Color.RED.value``: names resolve no further than the member, so evaluate it
            base = self.evaluate(module, expr.value)
            if isinstance(base, EnumMember):
                return base.value if _MEMBER_ATTRIBUTES[expr.attr] == "value" else base.name
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
            return self.enum_body(info).member(member.attr, line)
        node = member.owner.node
        if isinstance(node, ast.ClassDef):
            for stmt in node.body:
                value = class_assignment(stmt, member.attr)
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
            return self._instance(info, *self._arguments(module, call), call.lineno)
        if not isinstance(found, External):
            raise NotStatic(f"call to {ast.unparse(call.func)}", call.lineno)
        args, kwargs = self._arguments(module, call)
        factory = _CONSTRUCTORS.get(found.qualname)
        if factory is None:
            raise NotStatic(f"call to {found.qualname}", call.lineno)
        try:
            return factory(*args, **kwargs)
        except (TypeError, ValueError, OverflowError, InvalidOperation, ArithmeticError) as exc:
            raise NotStatic(f"{found.qualname}(...) fails: {exc}", call.lineno) from exc

    def _arguments(self, module: Module, call: ast.Call) -> tuple[list[Any], dict[str, Any]]:
        args = [self.evaluate(module, a) for a in call.args]
        kwargs = {k.arg: self.evaluate(module, k.value) for k in call.keywords if k.arg}
        return args, kwargs

    def _instance(self, info: ClassInfo, args: list[Any], kwargs: dict[str, Any], line: int) -> Any:
        """``Model(...)`` / ``Dataclass(...)`` / ``Enum(value)`` with constant arguments."""
        if info.kind == "enum":
            if len(args) != 1 or kwargs:
                raise NotStatic(f"{info.qualname}(...) takes one value", line)
            return self.enum_body(info).by_value(args[0], line)
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
            elif spec.has_default and spec.default is not UNKNOWN:
                value = spec.default
            elif spec.info.attrs.get("default_factory") in FACTORIES:
                value = FACTORIES[spec.info.attrs["default_factory"]]()
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

    def _base_targets(self, module: Module, node: ast.ClassDef) -> Iterator[Resolved]:
        """What each base class names (``Generic[T]`` as ``Generic``), as the class sees it."""
        for base in node.bases:
            base_expr = base.value if isinstance(base, ast.Subscript) else base
            yield self.target(module, base_expr, before=node.lineno)

    def _class_kind(self, definition: Definition, node: ast.ClassDef) -> str | None:
        for found in self._base_targets(definition.module, node):
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
        for found in self._base_targets(info.module, info.node):
            if isinstance(found, Definition):
                inner = self.class_info(found)
                if inner is not None:
                    out.append(inner)
        return out

    def enum_body(self, info: ClassInfo) -> EnumBody:
        """The members of a repository enum, as far as its class body tells them."""
        key = id(info.node)
        found = self._enum_bodies.get(key)
        if found is None:
            # A value naming the enum being read (a NameError in Python, whose class does not
            # exist yet) would read it again: meanwhile it is unreadable, not a recursion.
            self._enum_bodies[key] = EnumBody(info, {}, "its members refer to each other")
            found = read_enum(self, info)
            self._enum_bodies[key] = found
        return found


def _hashed(build: Callable[[], Any], line: int) -> Any:
    """Build a set or dict; unhashable members mean the code would fail, not a constant."""
    try:
        return build()
    except TypeError as exc:
        raise NotStatic(f"unhashable value: {exc}", line) from exc


_BASE_KINDS = {
    "pydantic.BaseModel": "model",
    "enum.Enum": "enum",
    "enum.ReprEnum": "enum",
    "enum.IntEnum": "enum",
    "enum.StrEnum": "enum",
    "enum.Flag": "enum",
    "enum.IntFlag": "enum",
    "typing.TypedDict": "typeddict",
    "pydantic.RootModel": "unsupported",
    "pydantic.v1.BaseModel": "unsupported",
    "typing.NamedTuple": "unsupported",
}


def _timezone(offset: dt.timedelta, name: str | None = None) -> dt.timezone:
    return dt.timezone(offset) if name is None else dt.timezone(offset, name)


def _decimal(value: Any = "0") -> Decimal:
    """``Decimal(value)``: a ``context`` argument is never a constant, so it is not taken."""
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
