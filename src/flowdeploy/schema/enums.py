"""The members of a repository enum, read from its class body as ``enum.EnumType`` makes them.

A class body is code: only statements whose effect on the members is the same in Python 3.11
to 3.13 (Prefect 3.9.1 needs 3.11 or later) are read: member assignments of constants,
``auto()``, docstrings, methods, bare annotations. Anything else (``locals().update(...)``,
loops, a nested class, a custom ``__new__``, a value only running tells) makes the enum
*unreadable*: its members are not guessed, and whoever needs them says so and leaves the type
open.
"""

from __future__ import annotations

import ast
import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from flowdeploy.schema.model import ClassInfo
from flowdeploy.schema.values import UNKNOWN, EnumMember, Instance, NotStatic
from flowdeploy.sources import Definition, External, Resolved

if TYPE_CHECKING:
    from flowdeploy.schema.analyzer import Analyzer


@dataclass(frozen=True)
class EnumBody:
    """An enum's ``__members__``: by attribute name, aliases included (an alias is its
    canonical member, as Python makes it); a value is ``UNKNOWN`` where source cannot say."""

    info: ClassInfo
    members: dict[str, EnumMember]
    unreadable: str | None = None  # why the members cannot all be known; None: they can

    def member(self, attr: str, line: int | None) -> EnumMember:
        """``Enum.attr``; :class:`NotStatic` unless source says exactly which member it is."""
        found = self.members.get(attr)
        if found is None and self.unreadable is not None:
            raise NotStatic(self._cannot_read(), line)
        if found is None:
            raise NotStatic(f"enum {self.info.qualname} has no member {attr!r}", line)
        if found.value is UNKNOWN:
            raise NotStatic(self._cannot_read(), line)
        return found

    def by_value(self, value: Any, line: int | None) -> EnumMember:
        """``Enum(value)``: ``_value2member_map_`` first, then ``==`` (unhashable values)."""
        if isinstance(value, EnumMember) and value.enum == self.info.qualname:
            return self.member(value.name, line)
        if self.unreadable is not None:
            raise NotStatic(self._cannot_read(), line)
        for found in self.members.values():
            if _same_key(found.value, value):
                return found
        for found in self.members.values():
            if found.value == value:
                return found
        raise NotStatic(f"{self.info.qualname}({value!r}) is not a member", line)

    def _cannot_read(self) -> str:
        qualname = self.info.qualname
        return f"the members of enum {qualname} cannot be read from source: {self.unreadable}"


def _same_key(a: Any, b: Any) -> bool:
    """Whether ``b`` finds ``a`` in a dict (equal hashes and values); False when unhashable."""
    try:
        return hash(a) == hash(b) and bool(a == b)
    except TypeError:
        return False


@dataclass
class _Traits:
    """What the bases decide: the type member values are converted to (``_member_type_``),
    and the ``_generate_next_value_`` that ``auto()`` calls."""

    data_type: str = "object"  # object | str | int | float
    str_enum: bool = False  # StrEnum's own __new__ refuses values that are not str
    generator: str | None = None  # default | lower | flag; None: code flowdeploy does not run
    unknown_values: str | None = None  # why no value can be read (a __new__, a foreign mixin)


_EXTERNAL_ENUMS: dict[str, tuple[str, bool, str]] = {
    "enum.Enum": ("object", False, "default"),
    "enum.ReprEnum": ("object", False, "default"),
    "enum.IntEnum": ("int", False, "default"),
    "enum.StrEnum": ("str", True, "lower"),
    "enum.Flag": ("object", False, "flag"),
    "enum.IntFlag": ("int", False, "flag"),
}
_MIXINS = {"builtins.str": "str", "builtins.int": "int", "builtins.float": "float"}
# Class decorators of the standard library that check or export an enum, never change it
_HARMLESS_DECORATORS = frozenset({"enum.unique", "enum.verify", "enum.global_enum"})


def read_enum(analyzer: Analyzer, info: ClassInfo) -> EnumBody:
    return _Reader(analyzer, info).read()


class _Reader:
    def __init__(self, analyzer: Analyzer, info: ClassInfo) -> None:
        self.analyzer = analyzer
        self.info = info
        self.traits = _traits(analyzer, info.definition, set())
        self.members: dict[str, EnumMember] = {}
        self.last_values: list[Any] = []  # what ``auto()`` sees: values as assigned
        self.unreadable: str | None = None
        # Once something unknown may be among the values, a later member could be an alias
        # of it (then it is that member, with that member's name and value).
        self.tainted = False
        self.ignore: set[str] = set()
        self.bound: set[str] = set()  # names the class body has bound so far

    def read(self) -> EnumBody:
        node = self.info.node
        for deco in node.decorator_list:
            func = deco.func if isinstance(deco, ast.Call) else deco
            found = self.analyzer.target(self.info.module, func)
            if not (isinstance(found, External) and found.qualname in _HARMLESS_DECORATORS):
                self._problem(f"its decorator {ast.unparse(func)} may change it")
        if any(k.arg == "metaclass" for k in node.keywords):
            self._problem("it names its own metaclass")
        for stmt in node.body:
            self._statement(stmt)
            self.bound |= _bindings(stmt)
        return EnumBody(self.info, self.members, self.unreadable)

    def _problem(self, reason: str, *, taints: bool = True) -> None:
        if self.unreadable is None:
            self.unreadable = reason
        self.tainted = self.tainted or taints

    def _statement(self, stmt: ast.stmt) -> None:
        line = stmt.lineno
        if isinstance(stmt, ast.Pass) or (
            isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
        ):
            return
        # A function or class equals nothing but itself: no later member can be its alias.
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if "enum.member" in self._decorators(stmt):
                self._problem(f"method {stmt.name} (line {line}) is made a member", taints=False)
            return
        if isinstance(stmt, ast.ClassDef):
            if "enum.nonmember" in self._decorators(stmt):
                return
            self._problem(
                f"nested class {stmt.name} (line {line}) is a member before Python 3.13 "
                "and not from 3.13 on",
                taints=False,
            )
            return
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            if stmt.value is not None:
                self._assign([stmt.target.id], stmt.value, line)
            return
        if isinstance(stmt, ast.Assign):
            pairs = _assignment_pairs(stmt)
            if pairs is not None:
                for names, value in pairs:
                    self._assign(names, value, line)
                return
        if isinstance(stmt, ast.If) and self._is_type_checking(stmt.test):
            # False when the class is made: only an ``else`` branch runs
            for inner in stmt.orelse:
                self._statement(inner)
            return
        code = ast.unparse(stmt).splitlines()[0]
        if len(code) > 60:
            code = code[:57] + "..."
        self._problem(f"line {line} runs code ({code})")

    def _is_type_checking(self, test: ast.expr) -> bool:
        if not isinstance(test, (ast.Name, ast.Attribute)):
            return False
        found = self.analyzer.target(self.info.module, test)
        return isinstance(found, External) and found.qualname in (
            "typing.TYPE_CHECKING",
            "typing_extensions.TYPE_CHECKING",
        )

    def _decorators(self, stmt: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> set[str]:
        out: set[str] = set()
        for deco in stmt.decorator_list:
            found = self.analyzer.target(self.info.module, deco)
            if isinstance(found, External):
                out.add(found.qualname)
        return out

    def _assign(self, names: list[str], value: ast.expr, line: int) -> None:
        """``A = B = value``: Python evaluates ``value`` once, then binds left to right."""
        raw: Any = None
        evaluated = False
        for source_name in names:
            name = _mangled(self.info.node.name, source_name)
            if name == "_ignore_":
                self._read_ignore(value, line)
                continue
            if name == "_generate_next_value_":
                self.traits.generator = None
                continue
            if not _is_member_name(self.info.node.name, name) or name in self.ignore:
                continue
            if name in self.members:
                self._problem(
                    f"member {name} is assigned twice (line {line}): Python cannot make the class"
                )
                continue
            if not evaluated:
                raw = self._raw_value(name, value, line)
                evaluated = True
            self._add(name, raw, line)

    def _read_ignore(self, value: ast.expr, line: int) -> None:
        try:
            names = self.analyzer.evaluate(self.info.module, value)
        except NotStatic:
            names = None
        if isinstance(names, str):
            self.ignore.update(names.replace(",", " ").split())
        elif isinstance(names, (list, tuple)) and all(isinstance(n, str) for n in names):
            self.ignore.update(names)
        else:
            self._problem(f"_ignore_ (line {line}) is not a constant flowdeploy can read")

    def _raw_value(self, name: str, value: ast.expr, line: int) -> Any:
        """The value as assigned, before the data type converts it (``auto()`` computed)."""
        if isinstance(value, ast.Call) and not value.args and not value.keywords:
            func = self.analyzer.target(self.info.module, value.func)
            if isinstance(func, External) and func.qualname == "enum.auto":
                return self._auto(name, line)
        own = sorted({n.id for n in ast.walk(value) if isinstance(n, ast.Name)} & self.bound)
        if own:
            # The class body sees its own names before the module's; the evaluator only these.
            self._problem(f"the value of {name} (line {line}) uses the class's own name {own[0]}")
            return UNKNOWN
        try:
            return self.analyzer.evaluate(self.info.module, value)
        except NotStatic as exc:
            self._problem(
                f"the value of {name} (line {line}) is not a constant flowdeploy can read "
                f"({exc.reason})"
            )
            return UNKNOWN

    def _auto(self, name: str, line: int) -> Any:
        """``_generate_next_value_`` of ``Enum``, ``StrEnum`` and ``Flag``, where Python 3.11
        to 3.13 agree (``last_values``: every value assigned so far, ``auto()`` ones included)."""
        generator = self.traits.generator
        last = self.last_values
        if generator == "lower":
            return name.lower()
        if generator == "flag" and all(type(v) in (int, bool) for v in last):
            return 2 ** max(last).bit_length() if last else 1
        if generator == "default" and all(type(v) in (int, float, bool) for v in last):
            return sorted(last)[-1] + 1 if last else 1
        if generator is None:
            why = "the enum defines its own _generate_next_value_"
        elif any(v is UNKNOWN for v in last):
            why = "it follows a value flowdeploy cannot read"
        elif generator == "flag":
            why = "a Flag numbers auto() from integer values only"
        else:
            # 3.11 and 3.12 fall back to an older rule with a DeprecationWarning; 3.13 raises
            why = "after a value that is not a number, Python versions number it differently"
        self._problem(f"auto() for {name} (line {line}): {why}")
        return UNKNOWN

    def _add(self, name: str, raw: Any, line: int) -> None:
        self.last_values.append(raw)
        value = UNKNOWN if raw is UNKNOWN else self._converted(name, raw, line)
        if value is UNKNOWN:
            self.tainted = True
        if value is UNKNOWN or self.tainted:
            self.members[name] = EnumMember(self.info.qualname, name, UNKNOWN)
            return
        canonical = self._canonical(value)
        self.members[name] = canonical or EnumMember(self.info.qualname, name, value)

    def _canonical(self, value: Any) -> EnumMember | None:
        """The member an equal value makes this one an alias of (``_value2member_map_``)."""
        earlier = list(self.members.values())
        for member in earlier:
            if _same_key(member.value, value):
                return member
        try:
            hash(value)
        except TypeError:
            return next((m for m in earlier if m.value == value), None)
        return None

    def _converted(self, name: str, raw: Any, line: int) -> Any:
        """``_value_``: the value as assigned, or ``member_type(*args)`` for a mixed-in type."""
        traits = self.traits
        if traits.unknown_values is not None:
            self._problem(traits.unknown_values)
            return UNKNOWN
        kind = traits.data_type
        if kind == "object":
            if _plain(raw, containers=True):
                return raw
            self._problem(f"the value of {name} (line {line}) is not plain data")
            return UNKNOWN
        if traits.str_enum and not isinstance(raw, str):
            self._problem(
                f"StrEnum member {name} (line {line}) is not a string: Python cannot make the class"
            )
            return UNKNOWN
        if isinstance(raw, tuple):
            self._problem(f"the value of {name} (line {line}) is a tuple, unpacked into {kind}()")
            return UNKNOWN
        if not _plain(raw, containers=False):
            self._problem(f"the value of {name} (line {line}) is not a plain {kind} argument")
            return UNKNOWN
        convert = {"str": str, "int": int, "float": float}[kind]
        try:
            return convert(raw)
        except (TypeError, ValueError, OverflowError):
            self._problem(
                f"{kind}({raw!r}) fails for member {name} (line {line}): "
                "Python cannot make the class"
            )
            return UNKNOWN


def _assignment_pairs(stmt: ast.Assign) -> list[tuple[list[str], ast.expr]] | None:
    """``A = B = v`` and ``A, B = v1, v2`` as (names, value) in binding order; None otherwise."""
    if all(isinstance(t, ast.Name) for t in stmt.targets):
        return [([t.id for t in stmt.targets if isinstance(t, ast.Name)], stmt.value)]
    if (
        len(stmt.targets) == 1
        and isinstance(stmt.targets[0], (ast.Tuple, ast.List))
        and isinstance(stmt.value, (ast.Tuple, ast.List))
    ):
        targets, values = stmt.targets[0].elts, stmt.value.elts
        if (
            len(targets) == len(values)
            and all(isinstance(t, ast.Name) for t in targets)
            and not any(isinstance(v, ast.Starred) for v in values)
        ):
            return [
                ([t.id], v) for t, v in zip(targets, values, strict=True) if isinstance(t, ast.Name)
            ]
    return None


def _bindings(stmt: ast.stmt) -> set[str]:
    """Names a class-body statement binds (as written, before mangling)."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    return {
        n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }


def _mangled(class_name: str, name: str) -> str:
    """The name the compiler stores: ``__x`` in class ``C`` is ``_C__x``."""
    if not name.startswith("__") or name.endswith("__") or "." in name:
        return name
    stripped = class_name.lstrip("_")
    return f"_{stripped}{name}" if stripped else name


def _is_member_name(class_name: str, name: str) -> bool:
    """Not private, sunder or dunder, by ``enum``'s own tests (the same in 3.11 to 3.13)."""
    dunder = len(name) > 4 and name[:2] == name[-2:] == "__" and name[2] != "_" and name[-3] != "_"
    sunder = len(name) > 2 and name[0] == name[-1] == "_" and name[1] != "_" and name[-2] != "_"
    pattern = f"_{class_name}__"
    private = (
        len(name) > len(pattern)
        and name.startswith(pattern)
        and (name[-1] != "_" or name[-2] != "_")
    )
    return not (dunder or sunder or private)


_SCALARS = (
    type(None),
    bool,
    int,
    float,
    complex,
    str,
    bytes,
    Decimal,
    dt.date,
    dt.time,
    dt.timedelta,
    dt.timezone,
    uuid.UUID,
    PurePath,
)


def _plain(value: Any, *, containers: bool) -> bool:
    """A value flowdeploy holds exactly as Python would (stand-ins too, for a plain enum)."""
    if isinstance(value, _SCALARS):
        return True
    if not containers:
        return False
    if isinstance(value, (EnumMember, Instance)):
        return True
    if isinstance(value, (list, tuple, set, frozenset)):
        return all(_plain(v, containers=True) for v in value)
    if isinstance(value, dict):
        return all(
            _plain(k, containers=True) and _plain(v, containers=True) for k, v in value.items()
        )
    return False


# -- what the bases decide ---------------------------------------------------------------------


def _bases(analyzer: Analyzer, definition: Definition) -> Iterator[Resolved]:
    node = definition.node
    assert isinstance(node, ast.ClassDef)
    for base in node.bases:
        expr = base.value if isinstance(base, ast.Subscript) else base
        yield analyzer.target(definition.module, expr, before=node.lineno)


def _traits(analyzer: Analyzer, definition: Definition, seen: set[int]) -> _Traits:
    """Traits of the enum ``definition``: its own hooks first, then its bases in order."""
    traits = _Traits()
    seen.add(id(definition.node))
    node = definition.node
    assert isinstance(node, ast.ClassDef)
    hooks = _hooks(node)
    data_types: list[tuple[str, bool]] = []
    generator_found = "_generate_next_value_" in hooks
    for found in _bases(analyzer, definition):
        if isinstance(found, External):
            if found.qualname in _EXTERNAL_ENUMS:
                kind, str_enum, generator = _EXTERNAL_ENUMS[found.qualname]
                if kind != "object":
                    data_types.append((kind, str_enum))
                if not generator_found:
                    traits.generator, generator_found = generator, True
            elif found.qualname in _MIXINS:
                data_types.append((_MIXINS[found.qualname], False))
            elif found.qualname != "builtins.object":
                traits.unknown_values = f"it mixes in {found.qualname}"
        elif isinstance(found, Definition) and isinstance(found.node, ast.ClassDef):
            if id(found.node) in seen:
                continue
            info = analyzer.class_info(found)
            if info is not None and info.kind == "enum":
                inner = _traits(analyzer, found, seen)
                if inner.unknown_values is not None:
                    traits.unknown_values = inner.unknown_values
                if inner.data_type != "object":
                    data_types.append((inner.data_type, inner.str_enum))
                if not generator_found:
                    traits.generator, generator_found = inner.generator, True
            elif _mixin_matters(found.node):
                traits.unknown_values = f"it mixes in {found.node.name}, which makes the values"
        else:
            traits.unknown_values = "one of its base classes cannot be followed"
    if "__new__" in hooks or "__init__" in hooks:
        which = "__new__" if "__new__" in hooks else "__init__"
        traits.unknown_values = f"{node.name}.{which} (line {hooks[which]}) makes the values"
    if data_types:
        traits.data_type, traits.str_enum = data_types[0]
    return traits


def _hooks(node: ast.ClassDef) -> dict[str, int]:
    """Methods that decide member values: ``__new__``, an ``__init__`` that sets ``_value_``,
    ``_generate_next_value_``; by name, with their line."""
    out: dict[str, int] = {}
    for stmt in node.body:
        if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if stmt.name == "__init__" and not any(
            isinstance(n, ast.Attribute) and n.attr == "_value_" and isinstance(n.ctx, ast.Store)
            for n in ast.walk(stmt)
        ):
            continue
        if stmt.name in ("__new__", "__init__", "_generate_next_value_"):
            out[stmt.name] = stmt.lineno
    return out


def _mixin_matters(node: ast.ClassDef) -> bool:
    """A repository class mixed into an enum changes its values if it is a data type
    (``__new__``, a dataclass, a base of its own) or its ``__init__`` sets ``_value_``."""
    return bool(
        node.bases or node.decorator_list or _hooks(node).keys() - {"_generate_next_value_"}
    )
