"""Read Python sources once and resolve names to where they are defined, without importing.

flowdeploy must never run user code, so everything Prefect learns by importing a flow module is
reconstructed here from the syntax tree: which file a dotted module name maps to (in the order
Python's import system would search), and what a name used in a module refers to (a definition in
the repository, a module-level value, a repository module, or a qualified name outside the
repository such as ``typing.Optional``).
"""

from __future__ import annotations

import ast
import builtins
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from flowdeploy import readfile
from flowdeploy.errors import ConfigError, Location, outside_repository

# Modules that are never taken from the repository: they are imported by the interpreter (or by
# Prefect) before any user code runs, so a same-named file in the project cannot shadow them.
_ALWAYS_EXTERNAL = frozenset(sys.stdlib_module_names) | {
    "prefect",
    "pydantic",
    "pydantic_core",
    "typing_extensions",
    "annotated_types",
}

BUILTIN_NAMES = frozenset(dir(builtins))

MAX_SOURCE_BYTES = 10 * 1024 * 1024
"""The largest Python file read (flowdeploy's own largest module is about 30 KB)."""


def within(path: Path, bounds: Sequence[Path]) -> bool:
    """Whether the resolved ``path`` is one of ``bounds`` (resolved directories) or under one."""
    return any(path.is_relative_to(bound) for bound in bounds)


def read_source(path: Path, shown: Path | str | None = None) -> bytes:
    """The bytes of a regular file of at most ``MAX_SOURCE_BYTES``; a ConfigError otherwise
    (see ``readfile``)."""
    shown = shown if shown is not None else path
    try:
        return readfile.read_bounded(path, MAX_SOURCE_BYTES)
    except readfile.NotRegular:
        raise ConfigError(
            f"{shown} is not a regular file",
            why="flowdeploy reads flow code from Python source files only",
            fix="point the entrypoint at a .py file in the repository",
            where=Location(shown),
        ) from None
    except readfile.TooLarge:
        raise ConfigError(
            f"{shown} is too large to read as flow code",
            why=f"flowdeploy reads at most {MAX_SOURCE_BYTES // (1024 * 1024)} MiB of Python",
            fix="move the flow into a smaller module (generated data belongs in a data file)",
            where=Location(shown),
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read {shown}",
            why=exc.strerror or str(exc),
            fix="check that the file exists and that the user running flowdeploy may read it",
            where=Location(shown),
        ) from exc


# --- bindings: what a top-level statement binds a name to ------------------------------------


@dataclass(frozen=True)
class ImportBinding:
    """``import a.b`` binds ``a`` to module ``a``; ``import a.b as c`` binds ``c`` to ``a.b``."""

    module: str
    line: int
    type_checking: bool


@dataclass(frozen=True)
class FromBinding:
    """``from ..pkg import attr``: resolved lazily because relative imports need the module name."""

    level: int
    module: str
    attr: str
    line: int
    type_checking: bool


@dataclass(frozen=True)
class DefBinding:
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    line: int
    type_checking: bool


@dataclass(frozen=True)
class AssignBinding:
    value: ast.expr
    line: int
    type_checking: bool


@dataclass(frozen=True)
class OpaqueBinding:
    """A binding flowdeploy cannot follow (tuple unpacking, loops, ``global``...)."""

    line: int
    type_checking: bool


Binding = ImportBinding | FromBinding | DefBinding | AssignBinding | OpaqueBinding


@dataclass(frozen=True)
class StarImport:
    level: int
    module: str
    line: int


@dataclass(frozen=True, eq=False)
class SourceFile:
    """One parsed file. Parsed once per :class:`SourceIndex`, shared by every module view."""

    path: Path
    data: bytes
    tree: ast.Module
    bindings: dict[str, Binding]
    star_imports: tuple[StarImport, ...]
    future_annotations: bool
    # every binding of each name, in execution order (``class Model(Model)`` needs the earlier one)
    history: dict[str, list[Binding]] = field(default_factory=dict)
    # for names another branch of an ``if`` or ``try`` may bind instead of ``bindings[name]``
    alternatives: dict[str, tuple[Binding, ...]] = field(default_factory=dict)

    def binding_before(self, name: str, line: int | None) -> Binding | None:
        """The binding of ``name`` in effect when the statement at ``line`` starts."""
        if line is None:
            return self.bindings.get(name)
        earlier = [b for b in self.history.get(name, ()) if b.line < line]
        return earlier[-1] if earlier else None


class _Recorder(dict[str, Binding]):
    """The final bindings, plus the history of every name and what each may be bound to.

    ``possible`` holds, for the point reached in the module, every binding a name may have
    there: one after a plain statement, several after an ``if`` or ``try`` whose branches bind
    it differently. The dict itself keeps the single binding chosen for each name.
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[Binding]] = {}
        self.possible: dict[str, tuple[Binding, ...]] = {}

    def __setitem__(self, name: str, binding: Binding) -> None:
        super().__setitem__(name, binding)
        self.history.setdefault(name, []).append(binding)
        self.possible[name] = (binding,)

    def alternatives(self) -> dict[str, tuple[Binding, ...]]:
        """The runtime bindings other than the chosen one, for names that have any."""
        out: dict[str, tuple[Binding, ...]] = {}
        for name, possible in self.possible.items():
            if len(possible) > 1:
                chosen = self[name]
                others = tuple(b for b in possible if b is not chosen and not b.type_checking)
                if others:
                    out[name] = others
        return out


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def is_main_guard(test: ast.expr) -> bool:
    """Whether an ``if`` test is ``__name__ == "__main__"`` (public for the import graph)."""
    return _is_main_guard(test)


def _is_main_guard(test: ast.expr) -> bool:
    """``if __name__ == "__main__":`` does not run when Prefect imports the module."""
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.Eq)
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )


def _is_not_type_checking(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.UnaryOp)
        and isinstance(test.op, ast.Not)
        and _is_type_checking(test.operand)
    )


def _bind_targets(target: ast.expr, line: int, tc: bool, out: _Recorder) -> None:
    if isinstance(target, ast.Name):
        out[target.id] = OpaqueBinding(line, tc)
    elif isinstance(target, (ast.Tuple, ast.List)):
        for elt in target.elts:
            _bind_targets(elt, line, tc, out)
    elif isinstance(target, ast.Starred):
        _bind_targets(target.value, line, tc, out)


def _collect(body: Sequence[ast.stmt], tc: bool, out: _Recorder, stars: list[StarImport]) -> None:
    """Record top-level bindings in execution order, so a later binding replaces an earlier one."""
    for stmt in body:
        line = stmt.lineno
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    out[alias.asname] = ImportBinding(alias.name, line, tc)
                else:
                    top = alias.name.split(".")[0]
                    out[top] = ImportBinding(top, line, tc)
        elif isinstance(stmt, ast.ImportFrom):
            for alias in stmt.names:
                if alias.name == "*":
                    stars.append(StarImport(stmt.level, stmt.module or "", line))
                else:
                    out[alias.asname or alias.name] = FromBinding(
                        stmt.level, stmt.module or "", alias.name, line, tc
                    )
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out[stmt.name] = DefBinding(stmt, line, tc)
        elif isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    out[target.id] = AssignBinding(stmt.value, line, tc)
                else:
                    _bind_targets(target, line, tc, out)
        elif isinstance(stmt, ast.AnnAssign):
            if isinstance(stmt.target, ast.Name) and stmt.value is not None:
                out[stmt.target.id] = AssignBinding(stmt.value, line, tc)
        elif isinstance(stmt, ast.AugAssign):
            _bind_targets(stmt.target, line, tc, out)
        elif isinstance(stmt, ast.If):
            if _is_type_checking(stmt.test):
                _collect(stmt.body, True, out, stars)
                _collect(stmt.orelse, tc, out, stars)
            elif _is_main_guard(stmt.test):
                _collect(stmt.orelse, tc, out, stars)
            elif _is_not_type_checking(stmt.test):
                _collect(stmt.orelse, True, out, stars)
                _collect(stmt.body, tc, out, stars)
            else:
                # Which branch runs is unknown; the first branch is the usual "modern" one
                # (``if sys.version_info >= ...``), so it wins.
                _branches([stmt.orelse, stmt.body], tc, out, stars)
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            handlers = [
                h.body for h in getattr(stmt, "handlers", []) if isinstance(h, ast.ExceptHandler)
            ]
            # The ``try`` body is what runs when imports succeed, which they did for Prefect.
            success = [*getattr(stmt, "body", []), *getattr(stmt, "orelse", [])]
            _branches([*handlers, success], tc, out, stars)
            _collect(getattr(stmt, "finalbody", []), tc, out, stars)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                if item.optional_vars is not None:
                    _bind_targets(item.optional_vars, line, tc, out)
            _collect(stmt.body, tc, out, stars)
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            _bind_targets(stmt.target, line, tc, out)
        elif type(stmt).__name__ == "TypeAlias":  # ``type X = ...`` (Python 3.12+)
            name = getattr(stmt, "name", None)
            value = getattr(stmt, "value", None)
            if isinstance(name, ast.Name) and isinstance(value, ast.expr):
                out[name.id] = AssignBinding(value, line, tc)


def _branches(
    branches: Sequence[Sequence[ast.stmt]], tc: bool, out: _Recorder, stars: list[StarImport]
) -> None:
    """Collect branches of which one runs, the chosen one last (so its bindings win in ``out``);
    afterwards a name may be bound as any branch left it."""
    before = out.possible
    ends: list[dict[str, tuple[Binding, ...]]] = []
    for branch in branches:
        out.possible = dict(before)
        _collect(branch, tc, out, stars)
        ends.append(out.possible)
    changed = {name for end in ends for name, b in end.items() if before.get(name) is not b}
    merged = dict(before)
    for name in changed:
        # a branch that leaves the name alone keeps what it was before the statement
        merged[name] = tuple(dict.fromkeys(b for end in ends for b in end.get(name, ())))
    out.possible = merged


def _has_future_annotations(tree: ast.Module) -> bool:
    return any(
        isinstance(stmt, ast.ImportFrom)
        and stmt.module == "__future__"
        and any(alias.name == "annotations" for alias in stmt.names)
        for stmt in tree.body
    )


# --- modules and resolution results -------------------------------------------------------------


@dataclass(frozen=True)
class Module:
    """A module as Python would name it. ``search_dirs`` is ``__path__`` for packages."""

    name: str
    path: Path
    is_package: bool = False
    search_dirs: tuple[Path, ...] = ()
    is_namespace: bool = False


@dataclass(frozen=True)
class Definition:
    """A ``def`` or ``class`` statement in the repository."""

    module: Module
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


@dataclass(frozen=True)
class Value:
    """A module-level assignment in the repository (a constant, an alias, a flow object...)."""

    module: Module
    name: str
    expr: ast.expr
    line: int


@dataclass(frozen=True)
class Member:
    """An attribute of a class defined in the repository, e.g. an enum member ``Color.RED``."""

    owner: Definition
    attr: str


@dataclass(frozen=True)
class ModuleRef:
    module: Module


@dataclass(frozen=True)
class External:
    """Something outside the repository, by qualified name, e.g. ``typing.Optional``."""

    qualname: str


@dataclass(frozen=True)
class Unresolved:
    name: str
    reason: str
    where: Location | None = None


Resolved = Definition | Value | Member | ModuleRef | External | Unresolved


@dataclass
class _Shared:
    """State shared by every view of one index: the parse cache."""

    files: dict[Path, SourceFile] = field(default_factory=dict)
    by_path: dict[Path, SourceFile] = field(default_factory=dict)
    resolved: dict[Path, Path] = field(default_factory=dict)
    """``files`` by the path as asked for: resolving a path costs a system call per part,
    and names are resolved thousands of times in a large repository."""
    scripts: dict[tuple[Path, Path], tuple[SourceIndex, Module]] = field(default_factory=dict)
    bounds: tuple[Path, ...] = ()
    """The directories files are read from (the repository): nothing outside is ever read."""
    outside: dict[str, Path] = field(default_factory=dict)
    """Modules whose file resolves outside ``bounds`` (a symlink), by name: treated as
    external, so that an error can say why a module was not found."""
    locate: Callable[[str], Path | None] | None = None
    """The fallback for a top-level name no root holds: the folder of the repository that
    holds it (``roots.PackageLocator.holder``), standing for a package installed from there."""

    listings: dict[Path, frozenset[str]] = field(default_factory=dict)

    def listing(self, directory: Path) -> frozenset[str]:
        """The names in ``directory``, read once (as ``FileFinder`` caches them): a module
        name is looked up in every root of every flow file's search order, and a system call
        per candidate path made real repositories spend seconds on ``stat``."""
        found = self.listings.get(directory)
        if found is None:
            try:
                found = frozenset(os.listdir(directory))
            except OSError:
                found = frozenset()
            self.listings[directory] = found
        return found

    def resolve(self, path: Path) -> Path:
        """``path.resolve()``, once per path: every flow file makes a view of the roots."""
        found = self.resolved.get(path)
        if found is None:
            found = self.resolved[path] = path.resolve()
        return found

    def resolve_file(self, path: Path) -> Path:
        """``path.resolve()`` for a file: its folder is resolved once for all its files,
        so a thousand flow files in one folder cost a ``lstat`` each, not one per part."""
        found = self.resolved.get(path)
        if found is None:
            candidate = self.resolve(path.parent) / path.name
            found = candidate.resolve() if candidate.is_symlink() else candidate
            self.resolved[path] = found
        return found


class SourceIndex:
    """Parses each file at most once and resolves names across the repository.

    ``roots`` are searched in order, like ``sys.path``. :meth:`for_script` returns a view for a
    flow file loaded by path (Prefect puts the file's directory first on ``sys.path``), sharing
    the parse cache. Only files that resolve (symlinks followed) inside ``bounds`` (default: the
    roots) are read; a module found elsewhere is taken as external, as the standard library is.

    ``locate`` is asked for the folder holding a top-level name that no root holds (or holds
    only as a namespace package): a package installed from the repository in a way the roots
    do not show. Without it, such a module is external.
    """

    def __init__(
        self,
        roots: Sequence[Path],
        *,
        bounds: Sequence[Path] | None = None,
        locate: Callable[[str], Path | None] | None = None,
        _shared: _Shared | None = None,
    ) -> None:
        seen: list[Path] = []
        resolve = _shared.resolve if _shared is not None else Path.resolve
        for root in roots:
            resolved = resolve(root)
            if resolved not in seen:
                seen.append(resolved)
        self.roots: tuple[Path, ...] = tuple(seen)
        if _shared is None:
            limits = self.roots if bounds is None else tuple(b.resolve() for b in bounds)
            _shared = _Shared(bounds=limits, locate=locate)
        self._shared = _shared
        self._modules: dict[str, Module | None] = {}
        self._virtual: dict[str, Module] = {}

    # -- parsing -----------------------------------------------------------------------------

    @property
    def bounds(self) -> tuple[Path, ...]:
        """The directories files may be read from."""
        return self._shared.bounds

    def contains(self, path: Path) -> bool:
        """Whether ``path`` resolves (symlinks followed) inside the index's bounds."""
        return within(self._shared.resolve(path), self._shared.bounds)

    def outside(self, name: str) -> Path | None:
        """Where module ``name`` (or a package above it) resolved outside the bounds, if it
        was looked up and skipped for that reason."""
        parts = name.split(".")
        for i in range(len(parts), 0, -1):
            found = self._shared.outside.get(".".join(parts[:i]))
            if found is not None:
                return found
        return None

    def resolve_file(self, path: Path) -> Path:
        """``path.resolve()`` of a file, with each folder resolved once per index."""
        return self._shared.resolve_file(path)

    def parse(self, path: Path) -> SourceFile:
        """Parse ``path`` once; a syntax error becomes a :class:`ConfigError` at its line."""
        cached = self._shared.by_path.get(path)
        if cached is not None:
            return cached
        key = self._shared.resolve_file(path)
        cached = self._shared.files.get(key)
        if cached is not None:
            self._shared.by_path[path] = cached
            return cached
        if not within(key, self._shared.bounds):
            raise outside_repository(path, key, self._shared.bounds[-1])
        data = read_source(key, path)
        try:
            tree = ast.parse(data, filename=str(key))
        except (RecursionError, MemoryError):
            raise ConfigError(
                f"cannot parse {path}",
                why="its code nests too deeply for Python's parser (maximum recursion depth "
                "or memory exceeded)",
                fix="split the deeply nested expression into several statements",
                where=Location(path),
            ) from None
        except (SyntaxError, ValueError) as exc:
            line = exc.lineno if isinstance(exc, SyntaxError) else None
            reason = exc.msg if isinstance(exc, SyntaxError) else str(exc)
            raise ConfigError(
                f"cannot parse {path}",
                why=f"syntax error: {reason}",
                fix="fix the syntax error (flowdeploy parses with "
                f"Python {sys.version_info.major}.{sys.version_info.minor})",
                where=Location(path, line),
            ) from exc
        bindings = _Recorder()
        stars: list[StarImport] = []
        _collect(tree.body, False, bindings, stars)
        future = _has_future_annotations(tree)
        source = SourceFile(
            key,
            data,
            tree,
            dict(bindings),
            tuple(stars),
            future,
            bindings.history,
            bindings.alternatives(),
        )
        self._shared.files[key] = self._shared.by_path[path] = source
        return source

    def with_roots(self, roots: Sequence[Path]) -> SourceIndex:
        """Another search order over the same files, sharing this index's parse cache."""
        return SourceIndex(roots, _shared=self._shared)

    @property
    def parsed_files(self) -> int:
        """How many files have been parsed so far (for tests and benchmarks)."""
        return len(self._shared.files)

    # -- module lookup -------------------------------------------------------------------------

    def for_script(self, path: Path, project_dir: Path) -> tuple[SourceIndex, Module]:
        """A view for a flow file Prefect loads by path, and the module it becomes.

        Prefect names the module after the file stem, puts the file's directory and the working
        directory first on ``sys.path``, and gives the module those two directories as
        ``__path__`` (so ``from .x import y`` finds a sibling file).
        """
        path = self._shared.resolve_file(path)
        key = (path, self._shared.resolve(project_dir))
        cached = self._shared.scripts.get(key)
        if cached is not None:
            return cached
        parent = path.parent
        view = SourceIndex((parent, project_dir, *self.roots), _shared=self._shared)
        dirs = tuple(dict.fromkeys((parent, key[1])))
        module = Module(path.stem, path, is_package=True, search_dirs=dirs)
        view._virtual[module.name] = module
        self._shared.scripts[key] = (view, module)
        return view, module

    def find_module(self, name: str) -> Module | None:
        """The repository module ``name`` maps to, or None when it lives outside the repository."""
        if name in self._modules:
            return self._modules[name]
        found = self._find_module(name)
        self._modules[name] = found
        return found

    def _find_module(self, name: str) -> Module | None:
        parts = name.split(".")
        if not all(part.isidentifier() for part in parts):
            return None
        head = self._virtual.get(parts[0])
        if head is None:
            if parts[0] in _ALWAYS_EXTERNAL:
                return None
            head = _find_in(parts[0], self.roots, self._shared)
            if head is None or head.is_namespace:
                head = self._located(parts[0]) or head
        if head is None:
            return None
        module = head
        for i in range(2, len(parts) + 1):
            if not module.search_dirs:
                return None
            child = _find_in(".".join(parts[:i]), module.search_dirs, self._shared)
            if child is None:
                return None
            module = child
        return module

    def _located(self, name: str) -> Module | None:
        """A regular top-level module found by ``locate``. A regular package anywhere on
        ``sys.path`` wins over namespace portions, so the fallback may replace a namespace
        package; it never replaces a module that resolved outside the repository (the
        interpreter would have imported that one)."""
        locate = self._shared.locate
        if locate is None or name in self._shared.outside:
            return None
        folder = locate(name)
        if folder is None:
            return None
        found = _find_in(name, (folder,), self._shared)
        return found if found is not None and not found.is_namespace else None

    def module_for_file(self, path: Path) -> Module | None:
        """The dotted module a repository file is importable as, from the first root holding it."""
        path = path.resolve()
        for root in self.roots:
            try:
                rel = path.relative_to(root)
            except ValueError:
                continue
            parts = list(rel.with_suffix("").parts)
            if parts and parts[-1] == "__init__":
                parts = parts[:-1]
            if parts and all(p.isidentifier() for p in parts):
                found = self.find_module(".".join(parts))
                if found is not None and found.path == path:
                    return found
        return None

    def source(self, module: Module) -> SourceFile | None:
        """The parsed file of a module; None for namespace packages, which have no file."""
        if module.is_namespace:
            return None
        return self.parse(module.path)

    # -- name resolution -----------------------------------------------------------------------

    def resolve_name(self, module: Module, name: str, *, before: int | None = None) -> Resolved:
        """What ``name`` refers to at module level in ``module``.

        ``before``: as seen by the statement at that line (default: once the module has run).
        """
        return self._resolve_name(module, name, set(), before)

    def resolve_expr(
        self, module: Module, expr: ast.expr, *, before: int | None = None
    ) -> Resolved:
        """What a ``Name`` or a dotted ``Attribute`` chain refers to."""
        return self._resolve_expr(module, expr, set(), before)

    def is_runtime_name(self, module: Module, name: str) -> bool:
        """Whether ``name`` exists in the module's globals when it runs (not TYPE_CHECKING-only)."""
        source = self.source(module)
        if source is None:
            return False
        binding = source.bindings.get(name)
        if binding is not None:
            return not binding.type_checking
        if source.star_imports:
            return True  # a star import may bind it; assume it does rather than guess it doesn't
        return name in BUILTIN_NAMES

    def follow(self, resolved: Resolved) -> Resolved:
        """Follow module-level aliases (``X = other.Y``) to what they finally name."""
        seen: set[tuple[Path, str]] = set()
        while isinstance(resolved, Value) and isinstance(resolved.expr, (ast.Name, ast.Attribute)):
            key = (resolved.module.path, resolved.name)
            if key in seen:
                return Unresolved(resolved.name, "circular alias")
            seen.add(key)
            resolved = self.resolve_expr(resolved.module, resolved.expr)
        return resolved

    def possible(self, module: Module, expr: ast.expr) -> tuple[Resolved, ...]:
        """Everything a ``Name`` or dotted ``Attribute`` chain may refer to once the module has
        run, aliases followed: what :meth:`resolve_expr` and :meth:`follow` give comes first,
        then what another branch of an ``if`` or ``try`` on the way may bind instead.

        Reading source cannot tell which branch runs; a caller that knows which outcome the
        program needs (Prefect's ``flow`` under ``prefect deploy``) picks it from these.
        """
        return tuple(dict.fromkeys(self._possible_expr(module, expr, set())))

    def _possible_expr(
        self, module: Module, expr: ast.expr, seen: set[tuple[Path, str]]
    ) -> list[Resolved]:
        if isinstance(expr, ast.Name):
            return self._possible_name(module, expr.id, seen)
        if isinstance(expr, ast.Attribute):
            found: list[Resolved] = []
            for base in self._possible_expr(module, expr.value, seen):
                if isinstance(base, ModuleRef):
                    found += self._possible_attribute(base.module, expr.attr, seen)
                else:
                    found.append(self._attribute(base, expr.attr, seen))
            return found
        return [self._resolve_expr(module, expr, seen, None)]

    def _possible_name(
        self, module: Module, name: str, seen: set[tuple[Path, str]]
    ) -> list[Resolved]:
        source = self.source(module)
        if source is None or name not in source.bindings or (module.path, name) in seen:
            # star imports, builtins, namespace packages and cycles have one answer
            return [self.follow(self._resolve_name(module, name, seen))]
        seen = seen | {(module.path, name)}
        found: list[Resolved] = []
        for binding in (source.bindings[name], *source.alternatives.get(name, ())):
            if isinstance(binding, FromBinding):
                target = self._absolute(module, binding.level, binding.module)
                inner = self.find_module(target) if target else None
                if inner is not None:
                    found += self._possible_attribute(inner, binding.attr, seen)
                    continue
            elif isinstance(binding, AssignBinding) and isinstance(
                binding.value, (ast.Name, ast.Attribute)
            ):
                found += self._possible_expr(module, binding.value, seen)
                continue
            found.append(self._bound(module, name, binding, seen))
        return found

    def _possible_attribute(
        self, module: Module, attr: str, seen: set[tuple[Path, str]]
    ) -> list[Resolved]:
        source = self.source(module)
        if source is None or not (attr in source.bindings or source.star_imports):
            return [self.follow(self._module_attribute(module, attr, seen))]
        found = self._possible_name(module, attr, seen)
        if isinstance(found[0], Unresolved):  # maybe a submodule, as `_module_attribute` tries
            found[0] = self.follow(self._module_attribute(module, attr, seen))
        return found

    def _resolve_expr(
        self, module: Module, expr: ast.expr, seen: set[tuple[Path, str]], before: int | None
    ) -> Resolved:
        if isinstance(expr, ast.Name):
            return self._resolve_name(module, expr.id, seen, before)
        if isinstance(expr, ast.Attribute):
            base = self.follow(self._resolve_expr(module, expr.value, seen, before))
            return self._attribute(base, expr.attr, seen)
        return Unresolved(ast.unparse(expr), "not a name", Location(module.path, expr.lineno))

    def _attribute(self, base: Resolved, attr: str, seen: set[tuple[Path, str]]) -> Resolved:
        if isinstance(base, ModuleRef):
            return self._module_attribute(base.module, attr, seen)
        if isinstance(base, External):
            return External(f"{base.qualname}.{attr}")
        if isinstance(base, Definition) and isinstance(base.node, ast.ClassDef):
            return Member(base, attr)
        if isinstance(base, Unresolved):
            return base
        return Unresolved(attr, "attribute of a value flowdeploy cannot follow")

    def _module_attribute(self, module: Module, attr: str, seen: set[tuple[Path, str]]) -> Resolved:
        source = self.source(module)
        if source is not None and (attr in source.bindings or source.star_imports):
            found = self._resolve_name(module, attr, seen)
            if not isinstance(found, Unresolved):
                return found
        sub = self.find_module(f"{module.name}.{attr}")
        if sub is not None:
            return ModuleRef(sub)
        return Unresolved(attr, f"module {module.name!r} does not define {attr!r}")

    def _resolve_name(
        self, module: Module, name: str, seen: set[tuple[Path, str]], before: int | None = None
    ) -> Resolved:
        key = (module.path, name)
        if key in seen:
            return Unresolved(name, "circular import", Location(module.path))
        seen = seen | {key}
        source = self.source(module)
        if source is None:  # namespace package: only submodules
            sub = self.find_module(f"{module.name}.{name}")
            return ModuleRef(sub) if sub else Unresolved(name, "not found")
        binding = source.binding_before(name, before)
        if binding is None:
            return self._unbound(module, source, name, seen)
        return self._bound(module, name, binding, seen)

    def _bound(
        self, module: Module, name: str, binding: Binding, seen: set[tuple[Path, str]]
    ) -> Resolved:
        where = Location(module.path, binding.line)
        if isinstance(binding, DefBinding):
            return Definition(module, binding.node)
        if isinstance(binding, AssignBinding):
            return Value(module, name, binding.value, binding.line)
        if isinstance(binding, ImportBinding):
            found = self.find_module(binding.module)
            return ModuleRef(found) if found else External(binding.module)
        if isinstance(binding, FromBinding):
            target = self._absolute(module, binding.level, binding.module)
            if target is None:
                return Unresolved(name, "relative import beyond the top-level package", where)
            found = self.find_module(target)
            if found is None:
                return External(f"{target}.{binding.attr}" if target else binding.attr)
            return self._module_attribute(found, binding.attr, seen)
        return Unresolved(name, "bound in a way flowdeploy cannot follow", where)

    def _unbound(
        self, module: Module, source: SourceFile, name: str, seen: set[tuple[Path, str]]
    ) -> Resolved:
        for star in reversed(source.star_imports):
            target = self._absolute(module, star.level, star.module)
            found = self.find_module(target) if target else None
            if found is not None:
                inner = self.source(found)
                if inner is not None and name in inner.bindings and not name.startswith("_"):
                    return self._resolve_name(found, name, seen)
            elif target and _external_has(target, name):
                return External(f"{target}.{name}")
        if name in BUILTIN_NAMES:
            return External(f"builtins.{name}")
        return Unresolved(name, f"{name!r} is not defined in {module.name}", Location(module.path))

    @staticmethod
    def _absolute(module: Module, level: int, name: str) -> str | None:
        if level == 0:
            return name
        package = module.name if module.is_package else module.name.rpartition(".")[0]
        parts = package.split(".") if package else []
        if level - 1 > len(parts) or not parts:
            return None
        base = parts[: len(parts) - (level - 1)]
        if not base:
            return None
        return ".".join([*base, name]) if name else ".".join(base)


def _find_in(qualified: str, dirs: Sequence[Path], shared: _Shared) -> Module | None:
    """Find the last component of ``qualified`` in ``dirs`` the way ``FileFinder`` does.

    A candidate that resolves outside the bounds (a symlink leaving the repository) is never
    read: the module is taken as external, and remembered in ``shared.outside``.
    """
    part = qualified.rpartition(".")[2]
    namespace: list[Path] = []

    def inside(path: Path) -> bool:
        if within(path, shared.bounds):
            return True
        shared.outside.setdefault(qualified, path)
        return False

    for directory in dirs:
        names = shared.listing(directory)
        if part not in names and f"{part}.py" not in names:
            continue
        package = directory / part
        init = package / "__init__.py"
        if init.is_file():
            resolved = init.resolve()
            if not inside(resolved):
                return None
            return Module(qualified, resolved, True, (package.resolve(),))
        file = directory / f"{part}.py"
        if file.is_file():
            resolved = file.resolve()
            return Module(qualified, resolved) if inside(resolved) else None
        if package.is_dir():
            resolved = package.resolve()
            if inside(resolved):
                namespace.append(resolved)
    if namespace:
        return Module(qualified, namespace[0], True, tuple(namespace), is_namespace=True)
    return None


# Star imports from these are common in flow code (``from typing import *``). Their public names
# are read from the copies flowdeploy itself already imported (pydantic needs them all); nothing
# is imported on the user's behalf.
_STAR_SAFE = frozenset(
    {"typing", "typing_extensions", "datetime", "decimal", "uuid", "pathlib", "enum"}
)


def _external_has(module: str, name: str) -> bool:
    loaded = sys.modules.get(module) if module in _STAR_SAFE else None
    if loaded is None:
        return False
    public = getattr(loaded, "__all__", None)
    return name in public if isinstance(public, (list, tuple)) else hasattr(loaded, name)
