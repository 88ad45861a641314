"""The parameter schema of a flow function, as ``prefect.utilities.callables.parameter_schema``.

Prefect makes every parameter a field of a pydantic model: ``title`` is the parameter name,
``position`` goes in ``json_schema_extra``, ``description`` comes from the docstring, and
``*args``/``**kwargs`` become a list and a dict. This module builds those fields from the
function's signature, as ``inspect.signature(eval_str=True)`` would see it, and has them generated.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from flowdeploy.errors import ConfigWarning
from flowdeploy.schema.analyzer import Analyzer
from flowdeploy.schema.annotations import Translator, Unresolvable
from flowdeploy.schema.docstrings import parameter_docstrings
from flowdeploy.schema.jsonschema import InvalidJson, Json, JsonGenerator
from flowdeploy.schema.model import (
    AnyT,
    FieldArgs,
    FieldSpec,
    Mapping,
    Node,
    Peeled,
    Scalar,
    Seq,
    constrain,
    merge_fields,
)
from flowdeploy.schema.values import UNKNOWN, NotStatic
from flowdeploy.sources import External, Module, SourceIndex

FuncDef = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class SchemaResult:
    schema: Json
    warnings: tuple[ConfigWarning, ...]


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
        except InvalidJson:
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
            peeled = Peeled(_collected(param.kind, item), [], [])
        else:
            peeled = translator.peel(module, annotation, foreign)
    except Unresolvable as exc:
        if not foreign:
            translator.warn(f"parameter {param.name!r}: {exc.reason}; it gets no type", module)
        peeled = Peeled(_collected(param.kind, AnyT()), [], [])

    existing: FieldArgs | None = None
    default: Any = Ellipsis
    if param.kind == "var_positional":
        default = []
    elif param.kind == "var_keyword":
        default = {}
    elif param.default is not None:
        existing, default = _param_default(translator, module, param)

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


def _collected(kind: str, item: Node) -> Node:
    """The type of a parameter annotated ``item``: ``*args`` are a list, ``**kwargs`` a dict."""
    if kind == "var_positional":
        return Seq("list", item)
    if kind == "var_keyword":
        return Mapping(Scalar("str"), item)
    return item


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
            return existing, (None if value is UNKNOWN else value)
    try:
        return None, translator.analyzer.evaluate(module, expr)
    except NotStatic as exc:
        # Prefect evaluates the expression, importing the flow or, failing that, in its
        # static fallback (``safe_load_namespace``), which turns only a failure into None.
        translator.warn(
            f"default of {param.name!r} is not a constant flowdeploy can read ({exc.reason}); "
            "the schema says null, where Prefect, which runs the code, has the value it "
            "computes (null only if computing it fails)",
            module,
        )
        return None, None
