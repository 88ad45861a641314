"""Which repository files run when Prefect loads a flow: the import graph, read without importing.

A deployment is affected by a commit when the commit changes any file that runs while Prefect
loads its entrypoint: the entry file, every repository module it imports (transitively, from
anywhere in a file, since a function body may run at load time or at flow run time), and the
``__init__.py`` of every package on the way. Modules outside the repository are ignored. Imports
whose target is only known at run time (``importlib.import_module(name)``) cannot be followed;
their locations are reported so the caller can treat the deployment as affected by anything.

Each file is parsed at most once (only its imports are kept), their resolution is cached per
search order, and the reach of each strongly connected component of the graph is computed once
and shared by every entrypoint that gets there.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from pydantic import BaseModel, ConfigDict

from flowdeploy.errors import ConfigError, Location
from flowdeploy.reachers import Reachers, find_reachers, words
from flowdeploy.roots import PackageLocator, source_roots
from flowdeploy.sources import Module, SourceIndex, is_main_guard, read_source

# Calls that load code by file path, or by names flowdeploy does not follow: always dynamic.
_LOADER_FUNCTIONS = frozenset(
    {
        "importlib.util.spec_from_file_location",
        "importlib.util.spec_from_loader",
        "importlib.machinery.SourceFileLoader",
        "importlib.machinery.SourcelessFileLoader",
        "runpy.run_path",
        "runpy.run_module",
        "imp.load_source",
        "imp.load_module",
        "pkgutil.walk_packages",
    }
)
_IMPORTERS = frozenset({"import_module", "__import__"})
_CALL_HINTS = tuple(
    name.encode() for name in _IMPORTERS | {q.rpartition(".")[2] for q in _LOADER_FUNCTIONS}
)


class Reach(BaseModel):
    """The repository files that run when Prefect loads one entrypoint."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    files: frozenset[Path]
    dynamic: tuple[Location, ...] = ()
    missing: bool = False
    unresolved: frozenset[str] = frozenset()
    """Modules (and ``from`` names) reached files ask for that the repository does not have:
    third-party modules, attributes, and modules deleted since the last deployment."""


# --- per file: the imports a file's source asks for, whatever the search order -----------------


@dataclass(frozen=True)
class _Request:
    """One import. ``level`` counts leading dots; ``names`` are ``from`` names that may be
    submodules (``*`` for a star import); ``from_name`` anchors relative names at ``__name__``
    instead of ``__package__`` (``import_module(".x", package=__name__)``)."""

    level: int
    module: str
    names: tuple[str, ...] = ()
    from_name: bool = False


@dataclass(frozen=True)
class _FileImports:
    """What one file asks for, whatever the search order; the tree itself is not kept."""

    requests: tuple[_Request, ...]
    dynamic_lines: tuple[int, ...]
    public: tuple[str, ...] = ()  # ``__all__``
    broken: bool = False


_BROKEN = _FileImports((), (), broken=True)

# Fields holding nested statements (``handlers`` and ``cases`` hold nodes with a ``body``).
_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")


def _skipped(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and is_main_guard(node.test)


def _import_statements(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements in any block (functions, classes, ``try``, ``if TYPE_CHECKING``...),
    except ``if __name__ == "__main__":`` bodies, which never run on import. Statements only
    nest in statement lists, so expressions need not be visited."""
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif _skipped(node):
            stack.extend(node.orelse)  # type: ignore[attr-defined]
        else:
            for field in _BLOCKS:
                stack.extend(getattr(node, field, ()))


def _uses(tree: ast.Module) -> Iterator[ast.Call | ast.Name | ast.Attribute]:
    """Every call and every name, except in ``if __name__ == "__main__":`` bodies."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Call, ast.Name, ast.Attribute)):
            yield node
        if _skipped(node):
            stack.extend(node.orelse)  # type: ignore[attr-defined]
        else:
            stack.extend(ast.iter_child_nodes(node))


def _aliases(imports: Sequence[ast.Import | ast.ImportFrom]) -> dict[str, str]:
    """Local names bound to modules or functions anywhere in the file, by qualified name."""
    names: dict[str, str] = {}
    for stmt in imports:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.partition(".")[0]
                    names[top] = top
        elif stmt.level == 0 and stmt.module:
            for alias in stmt.names:
                names[alias.asname or alias.name] = f"{stmt.module}.{alias.name}"
    return names


def _qualify(expr: ast.expr, aliases: dict[str, str]) -> str | None:
    if isinstance(expr, ast.Name):
        return aliases.get(expr.id, expr.id)
    if isinstance(expr, ast.Attribute):
        base = _qualify(expr.value, aliases)
        return f"{base}.{expr.attr}" if base else None
    return None


def _last_name(expr: ast.expr) -> str | None:
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        return expr.attr
    return None


def _statement_request(stmt: ast.Import | ast.ImportFrom) -> list[_Request]:
    if isinstance(stmt, ast.Import):
        return [_Request(0, alias.name) for alias in stmt.names]
    names = tuple(alias.name for alias in stmt.names)
    return [_Request(stmt.level, stmt.module or "", names)]


def _literal(expr: ast.expr | None) -> str | None:
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return expr.value
    return None


def _int_literal(expr: ast.expr) -> int | None:
    if isinstance(expr, ast.Constant) and type(expr.value) is int:
        return expr.value
    return None


def _argument(call: ast.Call, position: int, keyword: str) -> ast.expr | None:
    if len(call.args) > position and not any(
        isinstance(a, ast.Starred) for a in call.args[: position + 1]
    ):
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg == keyword), None)


def _import_module_request(call: ast.Call) -> _Request | None:
    """``importlib.import_module(name, package=None)``; None when it cannot be followed."""
    name = _literal(_argument(call, 0, "name"))
    if name is None:
        return None
    level = len(name) - len(name.lstrip("."))
    if level == 0:
        return _Request(0, name)
    package = _argument(call, 1, "package")
    anchor = _literal(package)
    if anchor is not None:
        absolute = _resolve_relative(anchor, level, name[level:])
        return _Request(0, absolute) if absolute else None
    if isinstance(package, ast.Name) and package.id in ("__package__", "__name__"):
        return _Request(level, name[level:], from_name=package.id == "__name__")
    return None  # relative without a known anchor: Python raises, or the anchor is dynamic


def _dunder_import_request(call: ast.Call) -> _Request | None:
    """``__import__(name, globals, locals, fromlist, level)``; None when it cannot be followed."""
    name = _literal(_argument(call, 0, "name"))
    level_expr = _argument(call, 4, "level")
    level = 0 if level_expr is None else _int_literal(level_expr)
    if name is None or level is None:
        return None
    fromlist = _argument(call, 3, "fromlist")
    if fromlist is None or (isinstance(fromlist, ast.Constant) and fromlist.value is None):
        return _Request(level, name)
    if not isinstance(fromlist, (ast.List, ast.Tuple)):
        return None
    names = [_literal(element) for element in fromlist.elts]
    if any(n is None for n in names):
        return None
    return _Request(level, name, tuple(n for n in names if n is not None))


def _importer(expr: ast.expr, aliases: dict[str, str]) -> str | None:
    """``"import_module"``, ``"__import__"``, ``"loader"``, or None when ``expr`` names no
    import function. A wrapper or alias flowdeploy cannot qualify still counts when it has the
    same name: taking a non-import for an import costs a redeploy, the reverse a missed one."""
    qualified = _qualify(expr, aliases) or ""
    if qualified in _LOADER_FUNCTIONS:
        return "loader"
    last = _last_name(expr)
    if qualified.endswith(".__import__") or last == "__import__":
        return "__import__"
    if qualified == "importlib.import_module" or last == "import_module":
        return "import_module"
    return None


def names_an_importer(text: bytes | str) -> bool:
    """Whether ASCII source (or NFKC-normalized text) writes the name of an import function."""
    if isinstance(text, str):
        return any(hint.decode() in text for hint in _CALL_HINTS)
    return any(hint in text for hint in _CALL_HINTS)


def _may_call_importers(data: bytes) -> bool:
    """Whether a file can call an import function: its name (or the name an alias was imported
    by) must appear in the text, as the parser reads its names."""
    text = words(data)
    return text is None or names_an_importer(text)


def _call_request(call: ast.Call, kind: str) -> _Request | None:
    if kind == "import_module":
        return _import_module_request(call)
    if kind == "__import__":
        return _dunder_import_request(call)
    return None


def _extract(tree: ast.Module, data: bytes) -> _FileImports:
    statements = list(_import_statements(tree))
    requests = [r for stmt in statements for r in _statement_request(stmt)]
    # Scanning every expression is most of the cost; most files never name an importer.
    uses = list(_uses(tree)) if _may_call_importers(data) else []
    aliases = _aliases(statements) if uses else {}
    called = {id(use.func) for use in uses if isinstance(use, ast.Call)}
    dynamic: list[int] = []
    for use in uses:
        if isinstance(use, ast.Call):
            kind = _importer(use.func, aliases)
            found = _call_request(use, kind) if kind else None
            if found is not None:
                requests.append(found)
            elif kind is not None:
                dynamic.append(use.lineno)
        elif id(use) not in called and _importer(use, aliases) is not None:
            # passed around (``map(import_module, names)``, ``load = import_module``): whatever
            # calls it imports names flowdeploy cannot see
            dynamic.append(use.lineno)
    return _FileImports(
        tuple(dict.fromkeys(requests)), tuple(sorted(set(dynamic))), _public_names(tree)
    )


def _resolve_relative(anchor: str, level: int, name: str) -> str | None:
    """``importlib._bootstrap._resolve_name``: ``level`` dots relative to package ``anchor``."""
    if not anchor:
        return None
    bits = anchor.rsplit(".", level - 1)
    if len(bits) < level:
        return None
    return f"{bits[0]}.{name}" if name else bits[0]


def _public_names(tree: ast.Module) -> tuple[str, ...]:
    """Every name a module-level ``__all__ = [...]`` / ``__all__ += [...]`` lists:
    ``from package import *`` imports those that are submodules."""
    names: list[str] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)) and stmt.value is not None:
            targets, value = [stmt.target], stmt.value
        else:
            continue
        named = any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets)
        if named and isinstance(value, (ast.List, ast.Tuple)):
            names += [n for n in (_literal(e) for e in value.elts) if n is not None]
    return tuple(dict.fromkeys(names))


def _read(path: Path) -> _FileImports:
    try:
        data = read_source(path)
        tree = ast.parse(data, filename=str(path))
    except (ConfigError, SyntaxError, ValueError, RecursionError, MemoryError):
        # The file still runs (and fails) on import; a fix to it is a change that counts.
        return _BROKEN
    return _extract(tree, data)


# --- the graph: modules as seen from one search order ----------------------------------------


@dataclass(eq=False)  # one object per search order, compared by identity: node keys stay cheap
class _Scope:
    """A search order. For a flow file loaded by path, ``script`` is the module Prefect makes
    of it: only names under its stem are looked up with it; everything else (and the cache of
    resolved imports) is shared with ``plain``, the same search order without the script."""

    roots: tuple[Path, ...]
    view: SourceIndex | None
    script: Module | None = None
    plain: _Scope | None = None


_Node = tuple[_Scope, Module]
_Closure = tuple[frozenset[Path], frozenset[Location], frozenset[str]]


class ImportGraph:
    """The repository files each entrypoint reaches; shared work is done once across entrypoints."""

    def __init__(
        self, project_dir: Path, repo_root: Path, *, locator: PackageLocator | None = None
    ) -> None:
        """``locator``: the fallback for packages the project does not declare; pass one
        :class:`PackageLocator` of the repository to share its single walk between readers."""
        self.project_dir = project_dir.resolve()
        self.repo_root = repo_root.resolve()
        # Packages installed from the repository (src/, path dependencies, workspace members)
        # are imported by name, from wherever they were installed: the same search order as
        # FlowReader's. Files outside the repository (symlinks leaving it) are never read.
        self.index = SourceIndex(
            source_roots(self.project_dir, self.repo_root),
            bounds=[self.project_dir, self.repo_root],
            locate=(locator or PackageLocator(self.repo_root)).holder,
        )
        self._main = _Scope(self.index.roots, self.index)
        self._directories: dict[Path, _Scope] = {}
        self._scripts: dict[Path, _Scope] = {}
        self._files: dict[Path, _FileImports] = {}
        self._edges: dict[_Node, tuple[_Node, ...]] = {}
        self._missing: dict[_Node, frozenset[str]] = {}
        self._memo: dict[_Node, _Closure] = {}
        self._reachers: dict[frozenset[str], Reachers | None] = {}

    @property
    def parsed_files(self) -> int:
        """How many files have been read so far, each once (for tests and benchmarks)."""
        return len(self._files)

    def reach(self, entrypoint: str) -> Reach:
        """The files that run when Prefect loads ``entrypoint`` (``path.py:fn`` or ``mod:fn``)."""
        entry = self._entry(entrypoint)
        if entry is None:
            return Reach(files=frozenset(), missing=True)
        scope, module = entry
        if self._imports(module.path).broken:
            return Reach(files=frozenset({module.path}))
        # importing ``flows.etl`` runs ``flows/__init__.py`` first; a script is loaded alone
        starts = [entry] if scope.script is not None else self._on_the_way(scope, module.name)
        files: set[Path] = set()
        dynamic: set[Location] = set()
        unresolved: set[str] = set()
        for node in starts:
            reached, lines, names = self._closure(node)
            files |= reached
            dynamic |= lines
            unresolved |= names
        ordered = sorted(dynamic, key=lambda loc: (str(loc.path), loc.line or 0))
        return Reach(
            files=frozenset(files), dynamic=tuple(ordered), unresolved=frozenset(unresolved)
        )

    def may_reach(self, entrypoint: str, changed: frozenset[str]) -> bool:
        """False only when :meth:`reach` of ``entrypoint`` certainly holds none of ``changed``
        (POSIX paths relative to the repository root, deleted ones included), no import named
        at run time, and no import of a deleted module: a word filter (``reachers``), so the
        flows a commit does not touch are not parsed at all."""
        if changed not in self._reachers:
            self._reachers[changed] = find_reachers(self.repo_root, changed, seed=names_an_importer)
        found = self._reachers[changed]
        if found is None:
            return True
        part = _module_part(entrypoint)
        if part is not None and part.endswith(".py"):
            relative = PurePath(part)
            if not relative.is_absolute() and ".." not in relative.parts:
                # the file the walk read under this very path: no resolving per entrypoint
                held = found.holds(Path(os.path.normpath(self.project_dir / relative)))
                if held is not None:
                    return held
        entry = self._entry(entrypoint)
        if entry is None:
            return True  # reported as missing by reach
        scope, module = entry
        if scope.script is not None:
            return found.holds(module.path) is not False
        return found.named(module.name)

    # -- entrypoints ---------------------------------------------------------------------------

    def _entry(self, entrypoint: str) -> _Node | None:
        module_part = _module_part(entrypoint)
        if module_part is None:
            return None
        if module_part.endswith(".py"):
            path = Path(module_part)
            if path.is_absolute():
                return None  # refused by the project loader
            path = self.project_dir / path
            if not path.is_file() or not self.index.contains(path):
                return None
            scope = self._script_scope(path)
            assert scope.script is not None
            return scope, scope.script
        module = self.index.find_module(module_part)
        if module is None or module.is_namespace:
            return None
        return self._main, module

    def _script_scope(self, path: Path) -> _Scope:
        """What ``SourceIndex.for_script`` gives, without its per-file cost: resolving every
        root again for each of a thousand flow files in one directory dominated the run."""
        file = self.index.resolve_file(path)
        scope = self._scripts.get(file)
        if scope is not None:
            return scope
        parent = file.parent
        plain = self._directories.get(parent)
        if plain is None:
            roots = tuple(dict.fromkeys((parent, self.project_dir, *self.index.roots)))
            plain = _Scope(roots, self.index.with_roots(roots))
            self._directories[parent] = plain
        dirs = tuple(dict.fromkeys((parent, self.project_dir)))
        script = Module(file.stem, file, is_package=True, search_dirs=dirs)
        scope = _Scope(plain.roots, None, script, plain)
        self._scripts[file] = scope
        return scope

    # -- module lookup -------------------------------------------------------------------------

    def _find(self, scope: _Scope, name: str) -> _Node | None:
        if scope.script is not None and name.partition(".")[0] != scope.script.name:
            assert scope.plain is not None
            scope = scope.plain
        found = self._view(scope).find_module(name)
        return (scope, found) if found is not None else None

    def _view(self, scope: _Scope) -> SourceIndex:
        if scope.view is None:
            # Only a script importing itself or its siblings relatively needs its own view.
            assert scope.script is not None
            scope.view = self.index.for_script(scope.script.path, self.project_dir)[0]
        return scope.view

    def _on_the_way(self, scope: _Scope, name: str) -> list[_Node]:
        """``import a.b.c`` runs ``a``, ``a.b`` and ``a.b.c``: each that is in the repository."""
        nodes: list[_Node] = []
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            found = self._find(scope, ".".join(parts[:i]))
            if found is None:
                break
            nodes.append(found)
        return nodes

    # -- direct imports ------------------------------------------------------------------------

    def _imports(self, path: Path) -> _FileImports:
        # Parsed here rather than through SourceIndex.parse: its cache keeps every tree alive,
        # and the garbage collector walking a thousand retained trees doubled the run time.
        found = self._files.get(path)
        if found is None:
            found = _read(path) if self.index.contains(path) else _BROKEN
            self._files[path] = found
        return found

    def _successors(self, node: _Node) -> tuple[_Node, ...]:
        cached = self._edges.get(node)
        if cached is None:
            cached = self._resolve(node)
            self._edges[node] = cached
        return cached

    def _resolve(self, node: _Node) -> tuple[_Node, ...]:
        scope, module = node
        if module.is_namespace:
            return ()
        found: dict[_Node, None] = {}
        missing: set[str] = set()
        for request in self._imports(module.path).requests:
            target = _absolute(module, request)
            if target is None:
                continue  # a relative import beyond the top-level package fails when it runs
            chain = self._on_the_way(scope, target)
            found.update(dict.fromkeys(chain))
            if not chain or chain[-1][1].name != target:
                missing.add(target)
                continue
            package = chain[-1]
            names = request.names
            if "*" in names:
                names = self._public(package[1])
            for name in names:
                sub = self._find(package[0], f"{target}.{name}")
                if sub is not None:
                    found[sub] = None
                elif name != "*":
                    missing.add(f"{target}.{name}")
        self._missing[node] = frozenset(missing)
        return tuple(found)

    def _public(self, package: Module) -> tuple[str, ...]:
        if not package.is_package or package.is_namespace:
            return ()
        return self._imports(package.path).public

    # -- reach: strongly connected components, each computed once ------------------------------

    def _own(self, node: _Node) -> _Closure:
        module = node[1]
        missing = self._missing.get(node, frozenset())
        if module.is_namespace:
            return frozenset(), frozenset(), missing
        lines = self._imports(module.path).dynamic_lines
        where = frozenset(Location(module.path, n) for n in lines)
        return frozenset({module.path}), where, missing

    def _closure(self, root: _Node) -> _Closure:
        """Tarjan's algorithm, iteratively: a component's reach is its members' files plus the
        reach of the components it imports, which are complete before it is."""
        memo = self._memo
        if root in memo:
            return memo[root]
        index: dict[_Node, int] = {}
        low: dict[_Node, int] = {}
        stack: list[_Node] = []
        on_stack: set[_Node] = set()
        work: list[tuple[_Node, Iterator[_Node]]] = []

        def visit(node: _Node) -> None:
            index[node] = low[node] = len(index)
            stack.append(node)
            on_stack.add(node)
            work.append((node, iter(self._successors(node))))

        visit(root)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ in memo:
                    continue
                if succ not in index:
                    visit(succ)
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    self._finish(node, stack, on_stack)
        return memo[root]

    def _finish(self, head: _Node, stack: list[_Node], on_stack: set[_Node]) -> None:
        component: list[_Node] = []
        while True:
            member = stack.pop()
            on_stack.discard(member)
            component.append(member)
            if member == head:
                break
        members = set(component)
        files: set[Path] = set()
        dynamic: set[Location] = set()
        missing: set[str] = set()
        for member in component:
            for part in (
                self._own(member),
                *(self._memo[s] for s in self._successors(member) if s not in members),
            ):
                files |= part[0]
                dynamic |= part[1]
                missing |= part[2]
        closure = (frozenset(files), frozenset(dynamic), frozenset(missing))
        for member in component:
            self._memo[member] = closure


def _absolute(module: Module, request: _Request) -> str | None:
    if request.level == 0:
        return request.module
    if request.from_name:
        anchor = module.name
    else:
        anchor = module.name if module.is_package else module.name.rpartition(".")[0]
    return _resolve_relative(anchor, request.level, request.module)


def _module_part(entrypoint: str) -> str | None:
    """The module or file of ``path.py:fn`` / ``pkg.mod:fn`` / ``pkg.mod.fn``; None if invalid."""
    if ":" in entrypoint:
        module_part = entrypoint.rpartition(":")[0]
    elif "." in entrypoint and not entrypoint.endswith(".py"):
        module_part = entrypoint.rpartition(".")[0]
    else:
        return None
    if module_part.endswith(".py"):
        return module_part
    if module_part and all(part.isidentifier() for part in module_part.split(".")):
        return module_part
    return None
