"""Where the repository's modules are imported from: the source roots a project declares.

Prefect imports a flow in an environment where the project and its local path dependencies are
installed, so ``from core.models.enums import Color`` works although ``core`` lives in
``libs/core/core/``. flowdeploy installs and imports nothing; it reads the declarations that
put those packages on ``sys.path`` instead (``pyproject.toml``, ``setup.cfg``, ``setup.py`` read
as a syntax tree, ``requirements.txt``), and turns them into directories of the repository.

What cannot be read that way (a package installed by a script, a Dockerfile, a CI step) is
found by :class:`PackageLocator`: the folder of the repository that holds a top-level package
of that name. Every file read and every root returned resolves inside the repository.
"""

from __future__ import annotations

import ast
import configparser
import importlib
import itertools
import keyword
import os
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from flowdeploy import readfile

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10: the same parser, published as ``tomli``
    # imported by name, so that type checking does not need tomli where tomllib exists
    tomllib = importlib.import_module("tomli")

MAX_CONFIG_BYTES = 1024 * 1024
"""The largest pyproject.toml / setup.cfg / setup.py / requirements.txt read (real ones are a
few KB; a larger one is skipped, not an error)."""

MAX_PROJECTS = 256
"""How many directories' declarations are read, following members of members."""

MAX_GLOB_MATCHES = 1000
"""Matches kept per workspace ``members`` / ``exclude`` pattern."""

MAX_WALK_DIRS = 20_000
"""Directories :class:`PackageLocator` visits (breadth first, so shallow folders come first)."""

MAX_WALK_ENTRIES = 500_000
"""Directory entries :class:`PackageLocator` looks at, whatever the number of directories."""

# Folders that hold other people's code or build output, never the repository's own packages.
SKIPPED_DIRS = frozenset(
    {
        "venv",
        "node_modules",
        "site-packages",
        "dist-packages",
        "build",
        "dist",
        "__pycache__",
        "__pypackages__",
    }
)

# Packages under these rank after any other candidate: tests mirror package names
# (``tests/core/__init__.py`` next to ``libs/core/core/``) without being the package.
_SECONDARY_DIRS = frozenset({"tests", "test", "testing", "docs", "doc"})

_CONFIG_FILES = ("pyproject.toml", "setup.cfg", "setup.py", "requirements.txt")


# --- reading declarations ---------------------------------------------------------------------


def _inside(path: Path, repo: Path) -> Path | None:
    """``path`` resolved (symlinks followed, ``..`` collapsed), if that is inside ``repo``."""
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return None
    return resolved if resolved.is_relative_to(repo) else None


def _directory(path: Path, repo: Path) -> Path | None:
    resolved = _inside(path, repo)
    return resolved if resolved is not None and resolved.is_dir() else None


def _read_text(path: Path, repo: Path) -> str | None:
    """The text of a small regular file inside the repository; None for anything else."""
    resolved = _inside(path, repo)
    if resolved is None:
        return None
    try:
        return readfile.read_bounded(resolved, MAX_CONFIG_BYTES).decode("utf-8-sig")
    except (OSError, readfile.NotRegular, readfile.TooLarge, UnicodeDecodeError):
        return None


def _table(data: object, *keys: str) -> dict[str, Any]:
    """``data[k1][k2]...`` when every step is a table; an empty table otherwise (a malformed
    file yields nothing rather than an error)."""
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else {}


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def _relative(base: Path, value: str) -> Path | None:
    """``value`` as a path relative to ``base``; absolute paths are joined as they are and
    then kept only when they resolve inside the repository."""
    if not value.strip() or "\x00" in value:
        return None
    return base / value.strip()


def requirement_path(text: str, base: Path) -> Path | None:
    """The local directory a requirement installs, if it is one.

    Understood: ``-e ./libs/core``, ``./libs/core[extra]``, ``core @ file:///abs/path``,
    ``core @ file:../libs/core`` and PDM's ``file:///${PROJECT_ROOT}/libs/core``; relative
    paths are taken from ``base``.
    """
    text = text.split(" #", 1)[0].strip()
    editable = text.startswith(("-e ", "--editable ", "--editable="))
    if editable:
        text = text.partition(" " if text.startswith(("-e ", "--editable ")) else "=")[2].strip()
    if "@" in text and not text.startswith((".", "/", "file:")):
        text = text.partition("@")[2].strip()
    text = text.split(";", 1)[0].strip()  # environment markers
    text = text.split("#", 1)[0]  # ``#egg=name``
    if text.startswith("file:"):
        path = _file_url_path(text[len("file:") :])
        if path is None:
            return None
    elif text.startswith((".", "/")) or (editable and text and "://" not in text):
        path = text  # an editable install names a path or a URL, never a project name
    else:
        return None
    if path.endswith("]") and "[" in path:  # extras
        path = path[: path.rindex("[")]
    return _relative(base, path)


def _file_url_path(rest: str) -> str | None:
    bare = rest.lstrip("/")
    if bare.startswith("${PROJECT_ROOT}"):
        return bare[len("${PROJECT_ROOT}") :].lstrip("/") or "."
    if rest.startswith("//"):
        authority, _, path = rest[2:].partition("/")
        if authority not in ("", "localhost"):
            return None
        return "/" + unquote(path)
    return unquote(rest)


def _package_dir_root(base: Path, package: str, directory: str) -> Path | None:
    """The ``sys.path`` entry that a ``package-dir`` mapping ``package -> directory`` stands for.

    ``"" -> "src"`` makes ``src`` a root; ``"core" -> "lib/core"`` makes ``lib`` one. A mapping
    that renames the package (``"core" -> "lib/kernel"``) cannot be a root and is skipped.
    """
    if package == "":
        return _relative(base, directory)
    if "." in package:
        return None
    target = _relative(base, directory)
    if target is None or target.name != package:
        return None
    return target.parent


@dataclass(frozen=True)
class _Declared:
    """What one directory's files declare."""

    packages: tuple[Path, ...] = ()
    """Roots of the distribution built from this directory (``src``, ``lib``...)."""
    members: tuple[Path, ...] = ()
    """Other directories installed with it: path dependencies, workspace members."""

    def __add__(self, other: _Declared) -> _Declared:
        return _Declared(self.packages + other.packages, self.members + other.members)


def _pyproject(base: Path, repo: Path) -> _Declared:
    text = _read_text(base / "pyproject.toml", repo)
    if text is None:
        return _Declared()
    try:
        doc: dict[str, Any] = tomllib.loads(text)
    except (ValueError, RecursionError, MemoryError):  # TOMLDecodeError is a ValueError
        return _Declared()
    tool = _table(doc, "tool")
    return (
        _setuptools(base, _table(tool, "setuptools"))
        + _poetry(base, _table(tool, "poetry"))
        + _uv(base, _table(tool, "uv"), repo)
        + _hatch(base, _table(tool, "hatch", "build"))
        + _pdm_and_maturin(base, tool)
        + _pep621(base, doc)
    )


def _setuptools(base: Path, setuptools: dict[str, Any]) -> _Declared:
    packages: list[Path | None] = []
    for package, directory in _table(setuptools, "package-dir").items():
        if isinstance(directory, str):
            packages.append(_package_dir_root(base, package, directory))
    where = _table(setuptools, "packages", "find").get("where")
    packages += [_relative(base, w) for w in _strings(where)]
    return _Declared(_kept(packages))


def _poetry(base: Path, poetry: dict[str, Any]) -> _Declared:
    """``packages = [{include = "core", from = "src"}]`` and ``path`` dependencies of the main,
    dev and every named group."""
    packages: list[Path | None] = []
    listed = poetry.get("packages")
    for entry in listed if isinstance(listed, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("include"), str):
            origin = entry.get("from")
            packages.append(_relative(base, origin) if isinstance(origin, str) else base)
    groups = [_table(poetry, "dependencies"), _table(poetry, "dev-dependencies")]
    groups += [_table(group, "dependencies") for group in _table(poetry, "group").values()]
    members = [path for group in groups for path in _path_entries(base, group.values())]
    return _Declared(_kept(packages), _kept(members))


def _uv(base: Path, uv: dict[str, Any], repo: Path) -> _Declared:
    """``path`` sources, workspace members less ``exclude``, and the uv_build module root."""
    members = _path_entries(base, _table(uv, "sources").values())
    workspace = _table(uv, "workspace")
    if workspace:
        excluded = set(_globbed(base, _strings(workspace.get("exclude")), repo))
        globbed = _globbed(base, _strings(workspace.get("members")), repo)
        members += [member for member in globbed if member not in excluded]
    packages: list[Path | None] = []
    module_root = _table(uv, "build-backend").get("module-root")
    if isinstance(module_root, str):
        packages.append(_relative(base, module_root) if module_root.strip() else base)
    return _Declared(_kept(packages), _kept(members))


def _hatch(base: Path, build: dict[str, Any]) -> _Declared:
    """The wheel target's ``packages`` / ``sources``, then the build-wide ones."""
    packages: list[Path | None] = []
    for settings in (_table(build, "targets", "wheel"), build):
        for listed in _strings(settings.get("packages")):
            package = _relative(base, listed)
            packages.append(package.parent if package is not None else None)
        sources = settings.get("sources")
        if isinstance(sources, dict):
            packages += [_prefix_root(base, k, v) for k, v in sources.items() if isinstance(v, str)]
        else:
            packages += [_relative(base, source) for source in _strings(sources)]
    return _Declared(_kept(packages))


def _pdm_and_maturin(base: Path, tool: dict[str, Any]) -> _Declared:
    packages: list[Path | None] = []
    for directory in (
        _table(tool, "pdm", "build").get("package-dir"),
        _table(tool, "maturin").get("python-source"),
    ):
        if isinstance(directory, str):
            packages.append(_relative(base, directory))
    members = [
        requirement_path(requirement, base)
        for group in _table(tool, "pdm", "dev-dependencies").values()
        for requirement in _strings(group)
    ]
    return _Declared(_kept(packages), _kept(members))


def _pep621(base: Path, doc: dict[str, Any]) -> _Declared:
    """``core @ file:...`` in ``[project] dependencies``, optional dependencies, and PEP 735
    dependency groups."""
    project = _table(doc, "project")
    requirements = _strings(project.get("dependencies"))
    for extra in _table(project, "optional-dependencies").values():
        requirements += _strings(extra)
    for group in _table(doc, "dependency-groups").values():
        requirements += _strings(group)
    return _Declared(members=_kept(requirement_path(r, base) for r in requirements))


def _path_entries(base: Path, values: Iterable[object]) -> list[Path | None]:
    """``{path = "../libs/core"}`` dependency entries (or lists of them, one per marker)."""
    found: list[Path | None] = []
    for value in values:
        for entry in value if isinstance(value, list) else [value]:
            path = entry.get("path") if isinstance(entry, dict) else None
            if isinstance(path, str):
                found.append(_relative(base, path))
    return found


def _prefix_root(base: Path, prefix: str, replacement: str) -> Path | None:
    """A hatch ``sources`` rewrite ``prefix -> replacement``: the directory whose contents
    become the top of the wheel (``"src" -> ""`` is ``src``; ``"lib/core" -> "core"`` is
    ``lib``)."""
    source = Path(prefix.strip("/"))
    target = Path(replacement.strip("/")) if replacement.strip("/") else Path()
    if not target.parts:
        return _relative(base, str(source)) if source.parts else base
    if source.parts[-len(target.parts) :] != target.parts:
        return None
    return base.joinpath(*source.parts[: len(source.parts) - len(target.parts)])


def _globbed(base: Path, patterns: Iterable[str], repo: Path) -> Iterator[Path]:
    """The directories a workspace glob matches, resolved, inside the repository."""
    for pattern in patterns:
        try:
            matches = list(itertools.islice(base.glob(pattern), MAX_GLOB_MATCHES))
        except (ValueError, NotImplementedError, OSError):  # empty, absolute or unreadable
            continue
        for match in sorted(matches):
            found = _directory(match, repo)
            if found is not None:
                yield found


def _setup_cfg(base: Path, repo: Path) -> _Declared:
    text = _read_text(base / "setup.cfg", repo)
    if text is None:
        return _Declared()
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
        options = dict(parser["options"]) if parser.has_section("options") else {}
        find = (
            dict(parser["options.packages.find"])
            if parser.has_section("options.packages.find")
            else {}
        )
    except (configparser.Error, ValueError, KeyError):
        return _Declared()
    packages: list[Path | None] = []
    for line in options.get("package_dir", "").splitlines():
        package, equals, directory = line.partition("=")
        if equals:
            packages.append(_package_dir_root(base, package.strip(), directory.strip()))
    if options.get("packages", "").strip() in ("find:", "find_namespace:"):
        where = find.get("where", "").strip()
        packages.append(_relative(base, where) if where else None)
    members = [requirement_path(r, base) for r in options.get("install_requires", "").splitlines()]
    return _Declared(_kept(packages), _kept(members))


def _setup_py(base: Path, repo: Path) -> _Declared:
    """``package_dir={"": "src"}`` and ``find_packages("src")`` in ``setup.py``, read as a
    syntax tree: the file is never run, so only literal arguments count."""
    text = _read_text(base / "setup.py", repo)
    if text is None:
        return _Declared()
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return _Declared()
    packages: list[Path | None] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if name in ("find_packages", "find_namespace_packages"):
            where = node.args[0] if node.args else None
            where = next((k.value for k in node.keywords if k.arg == "where"), where)
            if isinstance(where, ast.Constant) and isinstance(where.value, str):
                packages.append(_relative(base, where.value))
        for kw in node.keywords:
            if kw.arg == "package_dir" and isinstance(kw.value, ast.Dict):
                for key, value in zip(kw.value.keys, kw.value.values, strict=True):
                    if (
                        isinstance(key, ast.Constant)
                        and isinstance(key.value, str)
                        and isinstance(value, ast.Constant)
                        and isinstance(value.value, str)
                    ):
                        packages.append(_package_dir_root(base, key.value, value.value))
    return _Declared(_kept(packages))


def _requirements_txt(base: Path, repo: Path) -> _Declared:
    text = _read_text(base / "requirements.txt", repo)
    if text is None:
        return _Declared()
    return _Declared(members=_kept(requirement_path(line, base) for line in text.splitlines()))


def _kept(paths: Iterable[Path | None]) -> tuple[Path, ...]:
    return tuple(dict.fromkeys(p for p in paths if p is not None))


def _declared(base: Path, repo_root: Path) -> _Declared:
    """Everything the configuration files of directory ``base`` declare (unresolved paths)."""
    repo = repo_root.resolve()
    found = _Declared()
    for reader in (_pyproject, _setup_cfg, _setup_py, _requirements_txt):
        found += reader(base, repo)
    return found


# --- the search order ---------------------------------------------------------------------------


def source_roots(project_dir: Path, repo_root: Path) -> tuple[Path, ...]:
    """The directories searched for top-level modules, in order, like ``sys.path``.

    1. the project directory and the repository root, then their ``src/`` folders;
    2. what the configuration files of the project directory, of each directory above it up
       to the repository root (a uv workspace root may sit there), and of the repository root
       declare as package roots (setuptools ``package-dir`` / ``packages.find.where``, setup.cfg
       ``package_dir`` / ``[options.packages.find] where``, poetry ``packages.from``, hatch
       wheel ``packages`` / ``sources``, pdm ``package-dir``, uv ``module-root``, maturin
       ``python-source``);
    3. the members those files install: poetry ``path`` dependencies (main, dev and group), uv
       ``[tool.uv.sources]`` paths and ``[tool.uv.workspace]`` members less ``exclude``, PEP 621
       / PEP 735 ``name @ file:`` requirements, pdm dev dependencies, ``-e ./path`` lines of
       requirements.txt; each member adds its own declared package roots, or else its ``src/``
       folder when it has one and itself otherwise, and its own members in turn.

    Every root is resolved and inside the repository (a path or symlink leading out is
    dropped), each appears once, and only existing directories are kept. Unreadable or
    malformed files are skipped.
    """
    repo = repo_root.resolve()
    project = project_dir.resolve()
    roots: dict[Path, None] = {}

    def add(path: Path | None) -> None:
        found = _directory(path, repo) if path is not None else None
        if found is not None:
            roots.setdefault(found)

    for base in (project, repo):
        add(base)
    for base in (project, repo):
        add(base / "src")

    own = [project] if project.is_relative_to(repo) else []
    own += [d for d in project.parents if d.is_relative_to(repo)] if own else [repo]
    queue: deque[tuple[Path, bool]] = deque((d, False) for d in dict.fromkeys(own))
    seen: set[Path] = set()
    while queue and len(seen) < MAX_PROJECTS:
        base, is_member = queue.popleft()
        if base in seen:
            continue
        seen.add(base)
        found = _declared(base, repo)
        for package in found.packages:
            add(package)
        if is_member and not found.packages:
            src = base / "src"
            add(src if src.is_dir() else base)
        for member in found.members:
            directory = _directory(member, repo)
            if directory is not None and directory not in seen:
                queue.append((directory, True))
    return tuple(roots)


# --- the fallback: any folder holding the package ------------------------------------------------


class PackageLocator:
    """The folder of the repository holding a top-level module, for names the roots miss.

    A folder *holds* ``name`` when it is not itself a regular package (no ``__init__.py``) and
    contains ``name/__init__.py`` or ``name.py``. The repository is walked once, on the first
    lookup, breadth first, skipping hidden folders, virtual environments (``pyvenv.cfg``),
    symlinked folders and :data:`SKIPPED_DIRS`, and stopping after :data:`MAX_WALK_DIRS`
    folders or :data:`MAX_WALK_ENTRIES` entries (``complete`` then says the index is partial).

    When several folders hold the same name, the choice is deterministic: a folder outside
    ``tests``/``test``/``testing``/``docs``/``doc`` first, then the one with the fewest path
    components below the repository root, then the first in sorted order of its POSIX path.
    (Declared roots come before this fallback altogether: it is asked only when they miss.)
    """

    def __init__(
        self,
        repo_root: Path,
        *,
        max_dirs: int = MAX_WALK_DIRS,
        max_entries: int = MAX_WALK_ENTRIES,
    ) -> None:
        self.repo_root = repo_root.resolve()
        self.max_dirs = max_dirs
        self.max_entries = max_entries
        self.visited = 0
        """Folders scanned so far (for tests and benchmarks)."""
        self.complete = True
        self._holders: dict[str, list[Path]] | None = None

    def holder(self, name: str) -> Path | None:
        """The folder holding top-level module ``name``, or None when no folder does."""
        if self._holders is None:
            self._holders = self._walk()
        candidates = self._holders.get(name)
        return min(candidates, key=self._rank) if candidates else None

    def _rank(self, folder: Path) -> tuple[bool, int, str]:
        parts = folder.relative_to(self.repo_root).parts
        secondary = any(part.lower() in _SECONDARY_DIRS for part in parts)
        return secondary, len(parts), "/".join(parts)

    def _walk(self) -> dict[str, list[Path]]:
        holders: dict[str, list[Path]] = {}
        # (folder, whether its parent is a regular package); the root holds, whatever it has
        queue: deque[tuple[Path, bool]] = deque([(self.repo_root, False)])
        entries_seen = 0
        while queue:
            if self.visited >= self.max_dirs or entries_seen >= self.max_entries:
                self.complete = False
                break
            folder, parent_is_package = queue.popleft()
            self.visited += 1
            files: list[str] = []
            subdirs: list[Path] = []
            try:
                with os.scandir(folder) as scan:
                    for entry in scan:
                        entries_seen += 1
                        if entries_seen > self.max_entries:
                            self.complete = False
                            break
                        if entry.is_dir(follow_symlinks=False):
                            if not entry.name.startswith(".") and entry.name not in SKIPPED_DIRS:
                                subdirs.append(Path(entry.path))
                        elif entry.is_file():
                            files.append(entry.name)
            except OSError:
                continue
            if "pyvenv.cfg" in files:
                continue
            is_package = folder != self.repo_root and "__init__.py" in files
            if is_package and not parent_is_package and _importable(folder.name):
                holders.setdefault(folder.name, []).append(folder.parent)
            if not is_package:
                for file in files:
                    stem = file[:-3]
                    if file.endswith(".py") and _importable(stem):
                        holders.setdefault(stem, []).append(folder)
            queue.extend((d, is_package) for d in sorted(subdirs))
        return holders


def _importable(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name) and name != "__init__"


class Locators:
    """One :class:`PackageLocator` per repository for the length of a run, so the scope, the
    loader and the base-commit reading share a single walk."""

    def __init__(self) -> None:
        self._found: dict[Path, PackageLocator] = {}

    def __call__(self, repo_root: Path) -> PackageLocator:
        key = repo_root.resolve()
        if key not in self._found:
            self._found[key] = PackageLocator(key)
        return self._found[key]
