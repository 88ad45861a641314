"""Annotations, as syntax trees, to the type model.

Names are resolved the way pydantic resolves them when Prefect builds the parameter model: in the
user's module, except for string forward references nested in a parameter annotation, which
pydantic evaluates in Prefect's own module. Third-party types are recognised by qualified name
(the tables below); anything else from outside the repository is a plain class to pydantic, so
it gets no type, and a warning says so.
"""

from __future__ import annotations

import ast
import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from flowdeploy.schema.model import (
    CONSTRAINTS,
    AnyT,
    FieldArgs,
    Fixed,
    Invalid,
    Lit,
    Mapping,
    NamedDef,
    Node,
    NoneT,
    Peeled,
    Ref,
    Scalar,
    Seq,
    Tup,
    apply_fields,
    constrain,
    make_union,
)
from flowdeploy.schema.values import FACTORIES, UNKNOWN, NotStatic, Unencodable, encode_default
from flowdeploy.sources import (
    BUILTIN_NAMES,
    Definition,
    External,
    Member,
    Module,
    Resolved,
    Unresolved,
    Value,
)

if TYPE_CHECKING:
    from flowdeploy.schema.analyzer import Analyzer


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
# pydantic re-exports their names at top level; not ``dataclasses``, whose ``dataclass`` is
# matched by its full name
_PYDANTIC_SUBMODULES = (
    "types",
    "networks",
    "main",
    "fields",
    "config",
    "functional_validators",
    "json_schema",
    "root_model",
)


def normalize_qualname(qualname: str) -> str:
    """One spelling per object: ``typing_extensions.X`` is ``typing.X``, and so on."""
    if qualname.startswith("typing_extensions."):
        return "typing." + qualname.removeprefix("typing_extensions.")
    if qualname.startswith("pydantic.") and not qualname.startswith("pydantic.v1"):
        parts = qualname.split(".")
        if len(parts) == 3 and parts[1] in _PYDANTIC_SUBMODULES:
            return f"pydantic.{parts[2]}"
    if qualname == "pathlib._local.Path":
        return "pathlib.Path"
    return qualname


class Unresolvable(Exception):
    """The parameter's annotation cannot be resolved the way Prefect resolves it: it becomes Any."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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
                args = subscript_args(expr)
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
            raise Unresolvable(f"{expr.value!r} is not a type")
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.BitOr):
            return make_union(
                [self.node(module, expr.left, foreign), self.node(module, expr.right, foreign)]
            )
        if isinstance(expr, ast.Subscript):
            base = self._resolve(module, expr.value, foreign)
            return self._target(module, base, subscript_args(expr), foreign, expr)
        if isinstance(expr, (ast.Name, ast.Attribute)):
            return self._target(module, self._resolve(module, expr, foreign), None, foreign, expr)
        if isinstance(expr, ast.Call):
            return self._call(module, expr, foreign)
        raise Unresolvable(f"annotation {ast.unparse(expr)!r} is not a type flowdeploy can read")

    # -- helpers -------------------------------------------------------------------------------

    def _parse_string(self, module: Module, text: str) -> ast.expr:
        try:
            return ast.parse(text, mode="eval").body
        except SyntaxError as exc:
            raise Unresolvable(f"string annotation {text!r} is not valid Python") from exc

    def _resolve(self, module: Module, expr: ast.expr, foreign: bool) -> Resolved:
        if not foreign:
            return self.analyzer.target(module, expr)
        if isinstance(expr, ast.Name):
            if expr.id in _PREFECT_NAMESPACE:
                return External(_PREFECT_NAMESPACE[expr.id])
            if expr.id in BUILTIN_NAMES:
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
            raise Unresolvable(f"recursive type alias {value.name!r}")
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
            raise Unresolvable(found.reason)
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
        if info.kind == "enum":
            unreadable = self.analyzer.enum_body(info).unreadable
            if unreadable is not None:
                self.analyzer.warn(
                    f"the members of enum {qualname} cannot be read from source: {unreadable}; "
                    "parameters and fields of this type get no type (Prefect imports the flow "
                    "and takes the members from the class Python creates)",
                    info.module,
                    info.node.lineno,
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
            return apply_fields(peeled)
        generic = self._generic(module, qualname, args, foreign)
        if generic is not None:
            return generic
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
        generic = self._generic(module, qualname, None, False)
        if generic is not None:
            return generic
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

    def _generic(
        self, module: Module, qualname: str, args: list[ast.expr] | None, foreign: bool
    ) -> Node | None:
        """Collections and the like; unsubscripted (``list``), their parameters are Any."""

        def arg(i: int) -> Node:
            return AnyT() if args is None else self.node(module, args[i], foreign)

        if qualname in _LISTS:
            return Seq("list", arg(0))
        if qualname in _SETS:
            return Seq("set", arg(0))
        if qualname in _DICTS:
            key = arg(0)
            return Mapping(key, arg(1) if args is None or len(args) > 1 else AnyT())
        if qualname in _COUNTERS:
            return Mapping(arg(0), Scalar("int"))
        if qualname in _TUPLES:
            if args is None:
                return Tup((AnyT(),), variadic=True)
            return self._tuple(module, args, foreign)
        if qualname in _CALLABLES:
            return Invalid("Callable")
        if qualname in _ANY_TYPES:
            return AnyT()
        return None

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
                    values.extend(self._literal_values(module, subscript_args(arg), foreign))
                    continue
            try:
                value = (
                    arg.value
                    if foreign and isinstance(arg, ast.Constant)
                    else self.analyzer.evaluate(module, arg)
                )
            except NotStatic as exc:
                raise Unresolvable(f"Literal value {ast.unparse(arg)!r}: {exc.reason}") from exc
            try:
                encoded = encode_default(value)
            except Unencodable as exc:
                raise Unresolvable(f"Literal value {ast.unparse(arg)!r}") from exc
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
                if kw.arg in CONSTRAINTS:
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
        raise Unresolvable(f"annotation {ast.unparse(call)!r} is a call flowdeploy cannot follow")

    def _static(self, module: Module, expr: ast.expr) -> Any:
        try:
            return self.analyzer.evaluate(module, expr)
        except NotStatic as exc:
            raise Unresolvable(f"{ast.unparse(expr)!r} is not a constant ({exc.reason})") from exc

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
            values = [self._static(module, a) for a in expr.args]
            pairs = zip(_ANNOTATED_TYPES[name], values, strict=False)
            return [(k, v) for k, v in pairs if v is not None] + self._bounds(module, expr)
        if name == "annotated_types.Interval":
            return self._bounds(module, expr)
        if name == "pydantic.StringConstraints":
            return [(k, v) for k, v in self._bounds(module, expr) if k in CONSTRAINTS]
        if name == "pydantic.PlainValidator":
            return AnyT()
        if name == "pydantic.WithJsonSchema" and expr.args:
            value = self._static(module, expr.args[0])
            if isinstance(value, dict):
                return Fixed(tuple(value.items()))
        return None

    def _bounds(self, module: Module, call: ast.Call) -> list[tuple[str, Any]]:
        """Keyword arguments of a constraint call; ``None`` means that bound is not set."""
        pairs = [(k.arg, self._static(module, k.value)) for k in call.keywords if k.arg]
        return [(k, v) for k, v in pairs if v is not None]

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
                known = isinstance(factory, External) and factory.qualname in FACTORIES
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
            elif key in CONSTRAINTS:
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
                args.attrs[key] = UNKNOWN
            self.warn(f"Field({key}=...) is not a constant ({exc.reason}); ignored", module)


def subscript_args(expr: ast.Subscript) -> list[ast.expr]:
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
