"""Fields and settings of repository classes, collected the way pydantic collects them.

A field's type comes from its annotation (``Annotated`` metadata included), its default and
``Field(...)`` settings from what is assigned to it; bases contribute first, and ``model_config``
and class keywords make up a model's settings.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from flowdeploy.schema.annotations import Translator, Unresolvable, subscript_args
from flowdeploy.schema.model import (
    AnyT,
    ClassInfo,
    FieldArgs,
    FieldSpec,
    Peeled,
    constrain,
    merge_fields,
)
from flowdeploy.schema.values import NotStatic
from flowdeploy.sources import External, Module

if TYPE_CHECKING:
    from flowdeploy.schema.analyzer import Analyzer

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
    except Unresolvable as exc:
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
                expr = subscript_args(expr)[0]
        spec = field_spec(translator, module, name, expr, None)
        spec.required = required
        return spec

    def config(self, info: ClassInfo) -> dict[str, Any]:
        config: dict[str, Any] = {}
        for base in reversed(self.analyzer.bases(info)):
            if base.kind == "model":
                config.update(self.config(base))
        for stmt in info.node.body:
            value = class_assignment(stmt, "model_config")
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


def class_assignment(stmt: ast.stmt, name: str) -> ast.expr | None:
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
