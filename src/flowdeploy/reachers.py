"""Which files could import a changed file at all: a word filter run before the import graph.

Parsing every flow of a thousand-flow repository, to learn that the one changed file is imported
by one flow, was most of an ``apply --base`` run. An import writes the name of what it imports:
``import a.b.c``, ``from a.b import c``, ``from .c import x`` and ``import_module("a.b.c")`` all
have the word ``c`` in the importing file, and ``from a import *`` reaches ``a.c`` only when
``a/__init__.py`` lists ``c`` in its ``__all__``. The one exception is the package a file is in:
``from . import x`` and ``from .. import *`` run the ``__init__.py`` of a folder above the file
without naming it. So the files that may reach a target are found without parsing: the targets,
every file inside the folder of a target ``__init__.py``, every file that writes one of their
names as a word, and so on until nothing new is found. The import graph then follows only the
entrypoints that start in that set, and gives the exact answer for them.

The filter may only err towards "may reach": files it cannot read as words (another declared
encoding, a file it cannot read) count as naming everything, non-ASCII text is compared after
NFKC normalization (the parser normalizes identifiers that way), and a repository too large to
walk gives no filter at all.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from flowdeploy import readfile
from flowdeploy.sources import MAX_SOURCE_BYTES

MAX_WALK_ENTRIES = 200_000
"""Beyond this many directory entries the repository is not walked, and nothing is filtered."""

# PEP 263: a source encoding declared in the first two lines.
_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")
_UTF8 = frozenset({"utf-8", "utf8", "utf_8", "ascii", "us-ascii"})

Text = bytes | str | None
"""A file's words: ASCII bytes, NFKC-normalized text, or None for "names everything"."""


@dataclass(frozen=True)
class Reachers:
    """The files (as the walk found them) that may reach a target, and the names they go by."""

    files: frozenset[Path]
    known: frozenset[Path]
    """Every Python file the walk read (a link leaving the repository is not one)."""
    _names: frozenset[str]

    def holds(self, path: Path) -> bool | None:
        """Whether the file at ``path`` (as the walk found it) may reach a target; None when
        the walk did not read a file there."""
        return path in self.files if path in self.known else None

    def named(self, dotted: str) -> bool:
        """Whether a dotted module name has a component that a reaching file goes by."""
        return any(part in self._names for part in dotted.split("."))


def find_reachers(
    root: Path, targets: frozenset[str], *, seed: Callable[[bytes | str], bool]
) -> Reachers | None:
    """The files of the repository at ``root`` (resolved) that may reach one of ``targets``
    (POSIX paths relative to ``root``, deleted ones included) or a file ``seed`` accepts;
    None when the repository is too large to walk or a folder cannot be read."""
    walk = _walk(root)
    if walk is None:
        return None
    names: set[str] = set()
    folders: set[str] = set()
    for target in targets:
        _add(target, names, folders)
    reaching: set[Path] = set()
    pending: dict[Path, tuple[tuple[str, ...], bytes | str]] = {}
    for path, rels in walk.files.items():
        text = _words(path)
        if text is not None and not targets & set(rels) and not seed(text):
            pending[path] = (rels, text)
        else:
            reaching.add(path)
            for rel in rels:
                _add(rel, names, folders)
    seen_names: set[str] = set()
    seen_folders: set[str] = set()
    while True:
        for folder in folders - seen_folders:
            # a folder reached through a link is imported by the link's name
            for alias in walk.aliases.get(folder, ()):
                folders.add(alias)
                names.add(PurePosixPath(alias).name)
        new_names = names - seen_names
        new_folders = folders - seen_folders
        if not new_names and not new_folders:
            break
        seen_names |= new_names
        seen_folders |= new_folders
        words = _pattern(new_names)
        joined = [
            p for p, (rels, text) in pending.items() if _joins(rels, text, words, new_folders)
        ]
        for path in joined:
            rels, _ = pending.pop(path)
            reaching.add(path)
            for rel in rels:
                _add(rel, names, folders)
    return Reachers(frozenset(reaching), frozenset(walk.files), frozenset(names))


def _add(rel: str, names: set[str], folders: set[str]) -> None:
    """The name a module file is imported by; a package's folder, for relative imports."""
    path = PurePosixPath(rel)
    if path.name == "__init__.py":
        parent = path.parent.as_posix()
        folders.add("" if parent == "." else parent + "/")
        names.add(path.parent.name)
    else:
        names.add(path.stem)


def _joins(
    rels: tuple[str, ...],
    text: bytes | str,
    words: tuple[re.Pattern[bytes], re.Pattern[str]] | None,
    folders: Iterable[str],
) -> bool:
    if any(rel.startswith(folder) for folder in folders for rel in rels):
        return True
    if words is None:
        return False
    return bool(words[0].search(text) if isinstance(text, bytes) else words[1].search(text))


def _pattern(names: Iterable[str]) -> tuple[re.Pattern[bytes], re.Pattern[str]] | None:
    ordered = sorted(names)
    if not ordered:
        return None
    alternatives = "|".join(re.escape(name) for name in ordered)
    # a word: not inside a longer identifier (bytes: ASCII word characters; text: Unicode's)
    text = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")
    return re.compile(text.pattern.encode("utf-8", "surrogateescape")), text


def _words(path: Path) -> Text:
    try:
        data = readfile.read_bounded(path, MAX_SOURCE_BYTES)
    except (readfile.NotRegular, readfile.TooLarge, OSError):
        return None
    return words(data)


def words(data: bytes) -> Text:
    """Source as the parser sees its names: ASCII bytes as they are, UTF-8 text NFKC-normalized
    (a fullwidth letter is its ASCII one); None for another declared encoding."""
    for line in data.split(b"\n", 2)[:2]:
        declared = _COOKIE.match(line)
        if declared is not None and declared.group(1).decode("ascii").lower() not in _UTF8:
            return None
    if data.isascii():
        return data
    return unicodedata.normalize("NFKC", data.decode("utf-8", "replace"))


@dataclass(frozen=True)
class _Walk:
    files: dict[Path, tuple[str, ...]]
    """Each ``.py`` file as found, with its POSIX path relative to the root, and its real
    one when a link is on the way."""
    aliases: dict[str, list[str]]
    """Real folder (``a/b/``) -> the links to it (``c/``), for folder links inside the root."""


def _walk(root: Path) -> _Walk | None:
    """Every ``.py`` file under ``root``, following links that stay inside (the import graph
    follows them too), each folder once; ``.git`` is skipped. None when the repository is too
    large, or a folder cannot be read."""
    files: dict[Path, tuple[str, ...]] = {}
    aliases: dict[str, list[str]] = {}
    seen_dirs: set[Path] = set()
    entries = 0
    stack: list[tuple[Path, str]] = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        # A folder that cannot be resolved or listed may still hold modules the import graph
        # reaches: without its files the filter could skip a flow, so there is none.
        try:
            real = folder.resolve()
        except (OSError, RuntimeError):
            return None
        if real in seen_dirs or not real.is_relative_to(root):
            continue
        seen_dirs.add(real)
        real_prefix = _prefix(real, root)
        try:
            with os.scandir(folder) as scan:
                listing = list(scan)
        except OSError:
            return None
        entries += len(listing)
        if entries > MAX_WALK_ENTRIES:
            return None
        for entry in listing:
            if entry.name == ".git":
                continue
            try:
                is_dir = entry.is_dir()
                is_link = entry.is_symlink()
            except OSError:
                continue  # a link in a loop: nothing the import graph can open either
            path = Path(entry.path)
            if is_dir:
                stack.append((path, f"{prefix}{entry.name}/"))
                target = _resolved(path, root) if is_link else None
                if target is not None:
                    aliases.setdefault(_prefix(target, root), []).append(
                        f"{real_prefix}{entry.name}/"
                    )
            elif entry.name.endswith(".py"):
                rels = {prefix + entry.name: None, real_prefix + entry.name: None}
                if is_link:
                    # a link leaving the repository is never read; the import graph skips it
                    target = _resolved(path, root)
                    if target is None:
                        continue
                    rels[target.relative_to(root).as_posix()] = None
                files[path] = tuple(rels)
    return _Walk(files, aliases)


def _prefix(folder: Path, root: Path) -> str:
    rel = folder.relative_to(root).as_posix()
    return "" if rel == "." else rel + "/"


def _resolved(path: Path, root: Path) -> Path | None:
    """Where a link leads, when that is inside ``root``."""
    try:
        target = path.resolve()
    except (OSError, RuntimeError):
        return None
    return target if target.is_relative_to(root) else None
