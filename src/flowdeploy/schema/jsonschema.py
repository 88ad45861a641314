"""JSON schema from the type model, by pydantic's ``GenerateJsonSchema`` rules.

Titles, ``$ref`` handling, ``anyOf`` flattening, definition names and their collisions, and key
order all follow pydantic (``ref_template="#/definitions/{model}"``, with Prefect's
``GenerateEmptySchemaForUserClasses``), so the result matches what Prefect registers.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import inspect
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from flowdeploy.schema.analyzer import Analyzer
from flowdeploy.schema.fields import ClassFields
from flowdeploy.schema.model import (
    AnyT,
    ClassInfo,
    FieldSpec,
    Fixed,
    Lit,
    Mapping,
    Meta,
    NamedDef,
    Node,
    NoneT,
    Nullable,
    Ref,
    Scalar,
    Seq,
    Tup,
    UnionT,
    json_updates,
)
from flowdeploy.schema.values import UNKNOWN, Unencodable, encode_default

Json = dict[str, Any]

REF_TEMPLATE = "#/definitions/{model}"


class InvalidJson(Exception):
    """pydantic's ``PydanticInvalidForJsonSchema``."""


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


class _InvalidDefinition(InvalidJson):
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
        raise InvalidJson(node.reason)

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
            except InvalidJson:
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
        if spec.has_default and spec.default is not UNKNOWN:
            default = spec.default
            if isinstance(default, (set, frozenset)) and len(default) > 1:
                default = _sorted(default)
            # pydantic leaves defaults it cannot serialize out of the schema
            with contextlib.suppress(Unencodable):
                out["default"] = encode_default(default)
        updates, extra = json_updates(spec.info)
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
        if info.kind == "enum" and not self.analyzer.enum_body(info).members:
            # pydantic checks a member-less enum with isinstance and writes it in place
            return self._enum(info)
        key = id(info.node)
        defs_ref = self._refs.get(key)
        if defs_ref is None:
            defs_ref = self._defs_ref(info.core_ref, key)
            try:
                self.definitions[defs_ref] = self._class(info)
            except InvalidJson as exc:
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
            defs_ref = self._defs_ref(node.core_ref, key)
            self.definitions[defs_ref] = dict(node.json)
        return {"$ref": REF_TEMPLATE.format(model=defs_ref)}

    def _defs_ref(self, core_ref: str, key: int) -> str:
        """pydantic's ``get_defs_ref`` for object ``key``: a unique name, simpler ones to try."""
        short = re.sub(r"(?:[^.[\]]+\.)+((?:[^.[\]]+))", r"\1", core_ref)
        name = _normalize_name(short)
        module_qualname = _normalize_name(core_ref)
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
        self._refs[key] = unique
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
        description = _docstring(info.node)
        if description is not None:
            out.setdefault("description", description)
        extra = config.get("extra")
        if "additionalProperties" not in out and extra in ("allow", "forbid"):
            out["additionalProperties"] = extra == "allow"
        schema_extra = config.get("json_schema_extra")
        if isinstance(schema_extra, dict):
            out.update(encode_default(schema_extra))
        return out

    def _enum(self, info: ClassInfo) -> Json:
        out: Json = {"title": info.node.name}
        description = _docstring(info.node)
        if description and description != "An enumeration.":
            out["description"] = description
        values = []
        for member in self.analyzer.enum_body(info).members.values():
            try:
                values.append(encode_default(member.value))
            except Unencodable as exc:
                raise InvalidJson(f"enum {info.qualname}") from exc
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
        tree = {**root, "$defs": definitions} if definitions else root
        result: Json = _sort(_remap(tree, remapping), None)
        return result


_MISSING = object()


def _with(out: Json, constraints: tuple[tuple[str, Any], ...], mapping: dict[str, str]) -> Json:
    for key, value in constraints:
        if key in mapping:
            out[mapping[key]] = value
    return out


_NUMBER_KEYS = (
    ("multiple_of", "multipleOf"),
    ("le", "maximum"),
    ("ge", "minimum"),
    ("lt", "exclusiveMaximum"),
    ("gt", "exclusiveMinimum"),
)
_LENGTH_KEYS = (("min_length", "minLength"), ("max_length", "maxLength"))


def _scalar(node: Scalar) -> Json:
    constraints = dict(node.constraints)
    if node.kind in ("int", "float", "decimal"):
        # pydantic's decimal is a number (its bounds as floats) or a string
        decimal = node.kind == "decimal"
        out: Json = {"type": "integer" if node.kind == "int" else "number"}
        for key, target in _NUMBER_KEYS:
            if key in constraints:
                out[target] = float(constraints[key]) if decimal else constraints[key]
        out = {k: v for k, v in out.items() if not (isinstance(v, float) and math.isinf(v))}
        return {"anyOf": [out, {"type": "string"}]} if decimal else out
    if node.kind in ("str", "bytes"):
        is_str = node.kind == "str"
        out = {"type": "string"} if is_str else {"type": "string", "format": "binary"}
        for key, target in (*_LENGTH_KEYS, ("pattern", "pattern")) if is_str else _LENGTH_KEYS:
            if key in constraints:
                out[target] = constraints[key]
        return out
    return {"type": "boolean"}


def _docstring(node: ast.ClassDef) -> str | None:
    """A class's description as pydantic takes it: ``inspect.cleandoc`` of the docstring."""
    docstring = ast.get_docstring(node, clean=False)
    return inspect.cleandoc(docstring) if docstring else None


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
    """pydantic's ``remap_json_schema``: rewrites ``$ref`` values and ``$defs`` keys, into a
    new tree (the generator's own trees are left as they are)."""
    defs_map, json_map = remapping
    if isinstance(schema, str):
        return json_map.get(schema, schema)
    if isinstance(schema, list):
        return [_remap(item, remapping) for item in schema]
    if isinstance(schema, dict):
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                out[key] = json_map.get(value, value)
            elif key == "$defs" and isinstance(value, dict):
                out[key] = {defs_map.get(k, k): _remap(v, remapping) for k, v in value.items()}
            else:
                out[key] = _remap(value, remapping)
        return out
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


def _sorted(values: Iterable[Any]) -> list[Any]:
    items = list(values)
    try:
        return sorted(items)
    except TypeError:
        return items
