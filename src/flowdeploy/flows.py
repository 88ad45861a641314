"""Read flows from source: what Prefect's ``load_flow_from_entrypoint`` gives, without importing.

An entrypoint is ``path/to/file.py:function`` (relative to the project directory, loaded by
path like Prefect does) or ``package.module:function`` (imported from the project directory,
then the repository root). The function may be defined elsewhere and imported into the
entrypoint module; it must be a flow: decorated with ``@flow`` / ``@prefect.flow(...)``, or
built at module level with ``flow(fn, ...)``, ``flow(...)(fn)``, ``Flow(fn, ...)`` or
``other_flow.with_options(...)``.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from flowdeploy.errors import ConfigError, ConfigWarning, Location, outside_repository
from flowdeploy.roots import PackageLocator, source_roots
from flowdeploy.schema import Analyzer, NotStatic, parameter_schema
from flowdeploy.sources import (
    Definition,
    External,
    Member,
    Module,
    ModuleRef,
    Resolved,
    SourceIndex,
    Unresolved,
    Value,
)

FLOW_DECORATORS = frozenset({"prefect.flow", "prefect.flows.flow", "prefect.main.flow"})
FLOW_CLASSES = frozenset({"prefect.Flow", "prefect.flows.Flow", "prefect.main.Flow"})
TASK_DECORATORS = frozenset({"prefect.task", "prefect.tasks.task", "prefect.main.task"})
BANNED_CHARACTERS = ("/", "%", "&", ">", "<")
RESERVED_ARGUMENTS = ("return_state", "wait_for")
# ``Flow(fn, name, version, flow_run_name, retries, retry_delay_seconds, task_runner, description)``
_FLOW_POSITIONAL = {1: "name", 2: "version", 7: "description"}
_METHOD_WRAPPERS = frozenset({"builtins.classmethod", "builtins.staticmethod"})

FuncDef = ast.FunctionDef | ast.AsyncFunctionDef


class FlowInfo(BaseModel):
    """What Prefect learns about a flow by importing it, read from source instead."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    function: str
    entrypoint: str
    description: str | None
    version: str
    version_given: bool = False
    """``@flow(version=…)``; otherwise the version is the hash of the flow's file."""
    parameter_openapi_schema: dict[str, Any]
    source_path: Path
    line: int
    is_async: bool
    warnings: tuple[ConfigWarning, ...] = ()


@dataclass(frozen=True)
class _Options:
    """Flow settings given where the flow is built, as expressions in ``module``."""

    module: Module
    keywords: dict[str, ast.expr]


@dataclass(frozen=True)
class _FlowSource:
    """A flow function and the options stacked on it (innermost first)."""

    function: Definition
    options: tuple[_Options, ...]


def _md5(data: bytes) -> str:
    """``prefect.utilities.hashing.file_hash``: the MD5 hex digest of the file's bytes."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _default_name(function: str) -> str:
    return function.replace("_", "-").replace("<lambda>", "unknown-lambda")


class FlowReader:
    """Reads flow entrypoints; every file is parsed at most once across all reads."""

    def __init__(
        self, project_dir: Path, repo_root: Path, *, locator: PackageLocator | None = None
    ) -> None:
        """``locator``: the fallback for packages the project does not declare; pass one
        :class:`PackageLocator` of the repository to share its single walk between readers."""
        self.project_dir = project_dir.resolve()
        self.repo_root = repo_root.resolve()
        # Nothing outside the repository is read: a worker would not have it. The search order
        # is the import graph's too, so a schema and a change detection see the same modules.
        self.index = SourceIndex(
            source_roots(self.project_dir, self.repo_root),
            bounds=[self.project_dir, self.repo_root],
            locate=(locator or PackageLocator(self.repo_root)).holder,
        )
        self._analyzers: dict[int, Analyzer] = {}
        self._cache: dict[str, FlowInfo] = {}
        self._failed: dict[str, ConfigError] = {}

    def read(self, entrypoint: str, where: Location | None = None) -> FlowInfo:
        """The flow at ``entrypoint``; a :class:`ConfigError` says why there is none.

        Both are remembered per entrypoint: a failure found in the source is raised again as
        the same object for every deployment that uses the entrypoint, so that it can be
        reported once.
        """
        cached = self._cache.get(entrypoint)
        if cached is not None:
            return cached
        failed = self._failed.get(entrypoint)
        if failed is not None:
            raise failed.with_traceback(None)
        try:
            cached = self._read(entrypoint, where)
        except ConfigError as exc:
            # An error placed at ``where`` (this deployment's line in prefect.yaml) would point
            # the next deployment at the wrong line, so only errors in the source are kept.
            if exc.where is not None and exc.where != where:
                self._failed[entrypoint] = exc
            raise
        self._cache[entrypoint] = cached
        return cached

    # -- locating ------------------------------------------------------------------------------

    def _read(self, entrypoint: str, where: Location | None) -> FlowInfo:
        module_part, attr_path = _split(entrypoint, where)
        index, module = self._module(entrypoint, module_part, where)
        analyzer = self._analyzers.setdefault(id(index), Analyzer(index))
        analyzer.warnings = []
        found = self._object(index, module, attr_path, entrypoint, where)
        source = self._flow_source(analyzer, found, entrypoint, where)
        return self._info(analyzer, source, entrypoint)

    def _module(
        self, entrypoint: str, module_part: str, where: Location | None
    ) -> tuple[SourceIndex, Module]:
        if module_part.endswith(".py"):
            path = self._script_path(entrypoint, module_part, where)
            return self.index.for_script(path, self.project_dir)
        module = self.index.find_module(module_part)
        outside = self.index.outside(module_part) if module is None else None
        if outside is not None:
            raise outside_repository(
                f"module {module_part!r} of entrypoint {entrypoint!r}",
                outside,
                self.repo_root,
                where=where,
            )
        if module is None or module.is_namespace:
            roots = ", ".join(str(r) for r in self.index.roots)
            raise ConfigError(
                f"module {module_part!r} of entrypoint {entrypoint!r} was not found",
                why=f"searched {roots}",
                fix="use path/to/file.py:function, or a module importable from the project "
                "directory or the repository root",
                where=where,
            )
        return self.index, module

    def _script_path(self, entrypoint: str, module_part: str, where: Location | None) -> Path:
        """The flow file of ``path/to/file.py:fn``: relative to the project directory, and
        inside the repository once symlinks are followed."""
        given = Path(module_part)
        if given.is_absolute():
            raise ConfigError(
                f"entrypoint {entrypoint!r} is an absolute path",
                why="a worker runs the flow from its own copy of the repository, where this "
                "path does not exist; flowdeploy reads only files inside the repository",
                fix="write the path relative to the project directory (where prefect deploy "
                "runs), e.g. flows/etl.py:etl",
                where=where,
            )
        path = self.project_dir / given
        resolved = self.index.resolve_file(path)
        if not resolved.is_relative_to(self.repo_root):
            raise outside_repository(
                f"flow file {module_part} of entrypoint {entrypoint!r}",
                resolved,
                self.repo_root,
                where=where,
            )
        if path.exists() and not path.is_file():
            raise ConfigError(
                f"flow file {module_part} of entrypoint {entrypoint!r} is not a regular file",
                why=f"{path} is a directory or a special file",
                fix="point the entrypoint at a .py file: path/to/file.py:function",
                where=where,
            )
        if not path.is_file():
            raise ConfigError(
                f"flow file {module_part} of entrypoint {entrypoint!r} does not exist",
                why=f"looked for {path}",
                fix="write the path relative to the project directory (where prefect deploy "
                "runs), and check that the file is committed",
                where=where,
            )
        return path

    def _object(
        self,
        index: SourceIndex,
        module: Module,
        attr_path: str,
        entrypoint: str,
        where: Location | None,
    ) -> Resolved:
        parts = attr_path.split(".")
        found = index.follow(index.resolve_name(module, parts[0]))
        for attr in parts[1:]:
            found = _class_attribute(found, attr)
        if isinstance(found, Unresolved):
            raise ConfigError(
                f"flow function {attr_path!r} not found in {module.path.name}",
                why=found.reason,
                fix=f"check the function name in entrypoint {entrypoint!r}",
                where=where or Location(module.path),
            )
        return found

    # -- recognizing flows ---------------------------------------------------------------------

    def _flow_source(
        self, analyzer: Analyzer, found: Resolved, entrypoint: str, where: Location | None
    ) -> _FlowSource:
        if isinstance(found, Definition) and isinstance(found.node, FuncDef):
            options = self._decorator_options(analyzer, found)
            if options is None:
                raise self._not_a_flow(analyzer, entrypoint, found)
            return _FlowSource(found, (options,))
        if isinstance(found, Value):
            built = self._built_flow(analyzer, found.module, found.expr, set())
            if built is not None:
                return built
            if not isinstance(found.expr, ast.Call):
                raise ConfigError(
                    f"{found.name!r} (entrypoint {entrypoint!r}) is not a flow",
                    why=f"it is `{ast.unparse(found.expr)}`",
                    fix="point the entrypoint at a function decorated with @flow",
                    where=Location(found.module.path, found.line),
                )
            raise ConfigError(
                f"{found.name!r} (entrypoint {entrypoint!r}) is not a flow flowdeploy can read",
                why=f"it is assigned `{ast.unparse(found.expr)}`, which is not a flow built from "
                "a function with flow(...), Flow(...) or .with_options(...)",
                fix="decorate the function with @flow and use it as the entrypoint",
                where=Location(found.module.path, found.line),
            )
        if isinstance(found, External):
            raise ConfigError(
                f"entrypoint {entrypoint!r} names {found.qualname}, defined outside the repository",
                why="flowdeploy reads flows from the repository's source only",
                fix="point the entrypoint at the module that defines the flow",
                where=where,
            )
        what = "a module" if isinstance(found, ModuleRef) else "not a function"
        raise ConfigError(
            f"entrypoint {entrypoint!r} is {what}, not a flow",
            why="Prefect loads the object after ':' and requires a flow",
            fix="use path/to/file.py:flow_function",
            where=where,
        )

    def _decorator_options(self, analyzer: Analyzer, function: Definition) -> _Options | None:
        node = function.node
        assert isinstance(node, FuncDef)
        for decorator in node.decorator_list:
            options = self._flow_call(analyzer, function.module, decorator, applied=True)
            if options is not None:
                self._warn_other_decorators(analyzer, function, decorator)
                return options
        return None

    def _warn_other_decorators(
        self, analyzer: Analyzer, function: Definition, flow_decorator: ast.expr
    ) -> None:
        node = function.node
        assert isinstance(node, FuncDef)
        below = node.decorator_list[node.decorator_list.index(flow_decorator) + 1 :]
        for decorator in below:
            target = analyzer.target(function.module, _callee(decorator))
            if isinstance(target, External) and target.qualname in _METHOD_WRAPPERS:
                continue
            analyzer.warn(
                f"@{ast.unparse(decorator)} wraps flow {node.name}; flowdeploy assumes it keeps "
                "the function's signature and docstring (functools.wraps)",
                function.module,
                decorator.lineno,
            )

    def _flow_call(
        self, analyzer: Analyzer, module: Module, expr: ast.expr, *, applied: bool
    ) -> _Options | None:
        """Options if ``expr`` is ``flow`` or ``flow(...)`` used as a decorator (no function)."""
        call = expr if isinstance(expr, ast.Call) else None
        target = _target_among(analyzer, module, _callee(expr), FLOW_DECORATORS)
        if isinstance(target, External) and target.qualname in FLOW_DECORATORS:
            if call is None:
                return _Options(module, {})
            if call.args:
                return None  # flow(fn) is a flow, not a decorator
            return _Options(module, {k.arg: k.value for k in call.keywords if k.arg})
        if call is None and isinstance(target, Value) and applied:
            # ``my_flow = flow(retries=3)`` then ``@my_flow``
            return self._flow_call(analyzer, target.module, target.expr, applied=False)
        return None

    def _built_flow(
        self, analyzer: Analyzer, module: Module, expr: ast.expr, seen: set[int]
    ) -> _FlowSource | None:
        """A flow built at module level: ``flow(fn)``, ``flow(...)(fn)``, ``Flow(fn)``..."""
        if not isinstance(expr, ast.Call) or id(expr) in seen:
            return None
        seen.add(id(expr))
        func = expr.func
        if isinstance(func, ast.Attribute) and func.attr == "with_options":
            base = self._flow_object(analyzer, module, func.value, seen)
            if base is None:
                return None
            options = _Options(module, {k.arg: k.value for k in expr.keywords if k.arg})
            return _FlowSource(base.function, (*base.options, options))
        decorator = self._flow_call(analyzer, module, func, applied=False)
        if decorator is not None and isinstance(func, ast.Call) and expr.args:
            function = self._function(analyzer, module, expr.args[0])
            return _FlowSource(function, (decorator,)) if function else None
        target = _target_among(analyzer, module, _callee(func), FLOW_DECORATORS | FLOW_CLASSES)
        if isinstance(target, External) and target.qualname in FLOW_DECORATORS | FLOW_CLASSES:
            keywords = {k.arg: k.value for k in expr.keywords if k.arg}
            fn_expr = expr.args[0] if expr.args else keywords.pop("fn", keywords.pop("__fn", None))
            if target.qualname in FLOW_CLASSES:
                for i, arg in enumerate(expr.args[1:], start=1):
                    if i in _FLOW_POSITIONAL:
                        keywords.setdefault(_FLOW_POSITIONAL[i], arg)
            function = self._function(analyzer, module, fn_expr) if fn_expr else None
            return _FlowSource(function, (_Options(module, keywords),)) if function else None
        return None

    def _flow_object(
        self, analyzer: Analyzer, module: Module, expr: ast.expr, seen: set[int]
    ) -> _FlowSource | None:
        found = analyzer.target(module, expr)
        if isinstance(found, Definition) and isinstance(found.node, FuncDef):
            options = self._decorator_options(analyzer, found)
            return _FlowSource(found, (options,)) if options else None
        if isinstance(found, Value):
            return self._built_flow(analyzer, found.module, found.expr, seen)
        return None

    def _function(self, analyzer: Analyzer, module: Module, expr: ast.expr) -> Definition | None:
        found = analyzer.target(module, expr)
        if isinstance(found, Definition) and isinstance(found.node, FuncDef):
            return found
        return None

    def _not_a_flow(self, analyzer: Analyzer, entrypoint: str, function: Definition) -> ConfigError:
        node = function.node
        assert isinstance(node, FuncDef)
        callees = [_callee(d) for d in node.decorator_list]
        targets = [analyzer.target(function.module, c) for c in callees]
        if any(isinstance(t, External) and t.qualname in TASK_DECORATORS for t in targets):
            why = "it is a task (@task), not a flow"
        elif not callees:
            why = "it is not decorated with @flow"
        else:
            # Say what each decorator really is: "not decorated with @flow" is false for an
            # ``@flow`` that is the repository's own function.
            said = [
                f"{ast.unparse(c)!r} is {self._shown(t)}"
                for c, t in zip(callees, targets, strict=True)
            ]
            if len(said) == 1:
                why = f"{said[0]}, not prefect.flow"
            else:
                why = "none of its decorators is prefect.flow: " + "; ".join(said)
        return ConfigError(
            f"function {node.name!r} of entrypoint {entrypoint!r} is not a flow",
            why=why,
            fix="decorate it with @flow (from prefect import flow)",
            where=Location(function.module.path, node.lineno),
        )

    def _shown(self, found: Resolved) -> str:
        """What a name resolved to, for a message: where it is defined, or what it is."""
        if isinstance(found, Definition):
            kind = {ast.ClassDef: "class", ast.AsyncFunctionDef: "async def"}.get(
                type(found.node), "def"
            )
            return (
                f"{self._relative(found.module.path)}:{found.node.lineno} {kind} {found.node.name}"
            )
        if isinstance(found, Value):
            text = ast.unparse(found.expr)
            text = text if len(text) <= 60 else text[:57] + "..."
            return f"{self._relative(found.module.path)}:{found.line} {found.name} = {text}"
        if isinstance(found, ModuleRef):
            return f"module {found.module.name} ({self._relative(found.module.path)})"
        if isinstance(found, Member):
            return f"{found.owner.node.name}.{found.attr}"
        if isinstance(found, External):
            return found.qualname
        return f"unresolved ({found.reason})"

    def _relative(self, path: Path) -> str:
        return str(
            path.relative_to(self.repo_root) if path.is_relative_to(self.repo_root) else path
        )

    # -- flow settings -------------------------------------------------------------------------

    def _info(self, analyzer: Analyzer, source: _FlowSource, entrypoint: str) -> FlowInfo:
        function = source.function
        node = function.node
        assert isinstance(node, FuncDef)
        module = function.module
        file = analyzer.index.parse(module.path)
        docstring = ast.get_docstring(node, clean=False)

        name = _default_name(node.name)
        description = inspect.cleandoc(docstring) if docstring is not None else None
        version = _md5(file.data)
        version_given = False
        validate = True
        warnings: list[ConfigWarning] = []
        for options in source.options:
            # each layer is ``Flow(name=name or previous.name, ...)``: falsy values keep it
            name = self._name(analyzer, options) or name
            description = _setting(analyzer, options, "description", warnings) or description
            given = _setting(analyzer, options, "version", warnings)
            version, version_given = (given, True) if given else (version, version_given)
            if "validate_parameters" in options.keywords:
                validate = _setting(analyzer, options, "validate_parameters", warnings) is not False
        _check_name(name, module, node)
        _check_parameters(node, module, validate)

        schema = parameter_schema(analyzer, module, node, docstring).schema
        warnings.extend(analyzer.warnings)
        return FlowInfo(
            name=name,
            function=node.name,
            entrypoint=entrypoint,
            description=description,
            version=str(version),
            version_given=version_given,
            parameter_openapi_schema=schema,
            source_path=module.path,
            line=node.lineno,
            is_async=isinstance(node, ast.AsyncFunctionDef),
            warnings=tuple(dict.fromkeys(warnings)),
        )

    def _name(self, analyzer: Analyzer, options: _Options) -> str | None:
        expr = options.keywords.get("name")
        if expr is None:
            return None
        try:
            value = analyzer.evaluate(options.module, expr)
        except NotStatic as exc:
            raise ConfigError(
                "the flow name is not a constant flowdeploy can read",
                why=f"`name={ast.unparse(expr)}`: {exc.reason}",
                fix="use a string literal or a module-level constant for the flow name",
                where=Location(options.module.path, expr.lineno),
            ) from exc
        if value is not None and not isinstance(value, str):
            raise ConfigError(
                f"the flow name must be a string, not {type(value).__name__}",
                why=f"`name={ast.unparse(expr)}`",
                fix="pass a string as the flow name",
                where=Location(options.module.path, expr.lineno),
            )
        return value


def _setting(analyzer: Analyzer, options: _Options, key: str, warnings: list[ConfigWarning]) -> Any:
    expr = options.keywords.get(key)
    if expr is None:
        return None
    try:
        return analyzer.evaluate(options.module, expr)
    except NotStatic as exc:
        fallback = "the docstring" if key == "description" else "the default"
        warnings.append(
            ConfigWarning(
                f"flow {key} `{ast.unparse(expr)}` is not a constant ({exc.reason}); "
                f"flowdeploy uses {fallback} instead",
                Location(options.module.path, expr.lineno),
            )
        )
        return None


def _callee(expr: ast.expr) -> ast.expr:
    return expr.func if isinstance(expr, ast.Call) else expr


def _target_among(
    analyzer: Analyzer, module: Module, expr: ast.expr, names: frozenset[str]
) -> Resolved:
    """What ``expr`` refers to; one of ``names`` (Prefect's) if any branch may bind it so.

    Source alone cannot tell which branch of ``if SKIP_PREFECT: def flow... else: from prefect
    import flow`` (or of a ``try``/``except ImportError``) runs. Under ``prefect deploy``, which
    imports the flow, the Prefect one does: a module whose flow is the other would not deploy.
    """
    target = analyzer.target(module, expr)
    if isinstance(target, External) and target.qualname in names:
        return target
    for other in analyzer.index.possible(module, expr):
        if isinstance(other, External) and other.qualname in names:
            return other
    return target


def _class_attribute(found: Resolved, attr: str) -> Resolved:
    if isinstance(found, Definition) and isinstance(found.node, ast.ClassDef):
        for stmt in found.node.body:
            if isinstance(stmt, FuncDef) and stmt.name == attr:
                return Definition(found.module, stmt)
        return Member(found, attr)
    if isinstance(found, Unresolved):
        return found
    return Unresolved(attr, f"cannot look up {attr!r} on this object")


def _split(entrypoint: str, where: Location | None) -> tuple[str, str]:
    """``path.py:fn`` / ``pkg.mod:fn`` / ``pkg.mod.fn``, split as ``import_object`` does."""
    if ":" in entrypoint:
        module_part, _, attr_path = entrypoint.rpartition(":")
    elif "." in entrypoint and not entrypoint.endswith(".py"):
        module_part, _, attr_path = entrypoint.rpartition(".")
    else:
        module_part, attr_path = "", ""
    module_ok = module_part.endswith(".py") or all(
        part.isidentifier() for part in module_part.split(".")
    )
    attr_ok = bool(attr_path) and all(part.isidentifier() for part in attr_path.split("."))
    if not module_part or not module_ok or not attr_ok:
        raise ConfigError(
            f"entrypoint {entrypoint!r} is not valid",
            why="expected path/to/file.py:function or package.module:function",
            fix="write the entrypoint as path/to/file.py:function (relative to prefect.yaml)",
            where=where,
        )
    return module_part, attr_path


def _check_name(name: str, module: Module, node: FuncDef) -> None:
    banned = [c for c in BANNED_CHARACTERS if c in name]
    if banned:
        raise ConfigError(
            f"flow name {name!r} contains an invalid character",
            why=f"Prefect rejects names containing any of {' '.join(BANNED_CHARACTERS)}",
            fix="remove " + " ".join(repr(c) for c in banned) + " from the flow name",
            where=Location(module.path, node.lineno),
        )


def _check_parameters(node: FuncDef, module: Module, validate: bool) -> None:
    """Parameters that make Prefect fail while loading the flow."""
    args = node.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    every += [a for a in (args.vararg, args.kwarg) if a is not None]
    for arg in every:
        problem = None
        if arg.arg in RESERVED_ARGUMENTS:
            problem = f"{arg.arg!r} is a reserved argument name in Prefect"
        elif arg.arg.startswith("_"):
            problem = "pydantic (used by Prefect for parameters) rejects names starting with '_'"
        elif arg.arg == "model_config" and validate:
            problem = "'model_config' clashes with pydantic when parameters are validated"
        if problem:
            raise ConfigError(
                f"flow {node.name} has a parameter Prefect cannot load: {arg.arg!r}",
                why=problem,
                fix=f"rename parameter {arg.arg!r}",
                where=Location(module.path, arg.lineno),
            )
