"""Changed paths + import graph + prefect.yaml at base and head -> affected deployments (pure).

A deployment is affected when something it is made of changed: its flow file or a repository
module the flow imports (transitively), its resolved entry in prefect.yaml, a file that goes into
the project image (for deployments that run on it), a path the user told flowdeploy to watch for
it, or the workflow that runs flowdeploy. Every affected deployment carries the reasons, so a
plan says why it is there; when in doubt (an import chosen at run time, a missing flow file) a
deployment is affected, never silently skipped.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from flowdeploy.git import ChangeSet, FileChange
from flowdeploy.imageplan import DOCKER_BUILD
from flowdeploy.imports import Reach

if TYPE_CHECKING:
    import pathspec

DEFAULT_ALWAYS = (
    "Dockerfile",
    ".dockerignore",
    "requirements*.txt",
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "poetry.lock",
    "uv.lock",
    "Pipfile.lock",
)
DEFAULT_IGNORE = ("**/*.md", "docs/**", ".github/**")

# Keys of a deployment entry that tell flowdeploy, not Prefect, something (Prefect ignores them).
OWN_KEY = "flowdeploy"
MAX_REASONS = 6


class Entry(BaseModel):
    """One deployment entry of prefect.yaml as flowdeploy compares it between two commits."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int
    name: str
    entrypoint: str | None = None
    config: dict[str, Any]
    watch: tuple[str, ...] = ()
    builds_image: bool = False


class ChangeRules(BaseModel):
    """Which paths always affect image deployments, which never affect anything."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    always: tuple[str, ...] = DEFAULT_ALWAYS
    ignore: tuple[str, ...] = DEFAULT_IGNORE
    workflow: str | None = None
    """Repository path of the workflow file running flowdeploy: never ignored, affects all."""


class Affected(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    reasons: dict[int, tuple[str, ...]]
    """Head entry index -> why it is affected. Entries not in here are left alone."""
    removed: tuple[Entry, ...] = ()
    """Base entries no longer in prefect.yaml: their deployments are orphaned."""
    rebuild_image: bool = False
    """A file that goes into the project image changed."""


def read_entries(data: Any) -> list[Entry]:
    """The named deployment entries of a loaded prefect.yaml, with inherited steps applied.

    Tolerant on purpose: at head the file is validated by ``project.load_project``; at base it
    only has to be compared, and a malformed entry simply compares as different.
    """
    if not isinstance(data, dict):
        return []
    top = {key: data.get(key) for key in ("build", "push", "pull")}
    raw = data.get("deployments")
    entries: list[Entry] = []
    for index, item in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(item, dict) or item.get("name") is None:
            continue
        # Not copied: entries are only compared, never changed.
        config = {k: v for k, v in item.items() if k != OWN_KEY}
        for key, value in top.items():
            # Prefect takes the deployment's own steps when the key is present, else the file's.
            if key not in config and value is not None:
                config[key] = value
        own = item.get(OWN_KEY)
        watch = own.get("watch") if isinstance(own, dict) else None
        entries.append(
            Entry(
                index=index,
                name=str(item["name"]),
                entrypoint=str(item["entrypoint"]) if item.get("entrypoint") else None,
                config=config,
                watch=tuple(str(w) for w in watch) if isinstance(watch, list) else (),
                builds_image=_builds_image(config.get("build")),
            )
        )
    return entries


def _builds_image(steps: Any) -> bool:
    if isinstance(steps, dict):
        steps = [steps]
    return isinstance(steps, list) and any(
        isinstance(step, dict) and DOCKER_BUILD in step for step in steps
    )


def pair_entries(
    head: Sequence[Entry], base: Sequence[Entry]
) -> tuple[dict[int, Entry | None], list[Entry]]:
    """Match each head entry with its base entry (by name, then entrypoint); list the rest."""
    by_name: dict[str, list[Entry]] = {}
    for old in base:
        by_name.setdefault(old.name, []).append(old)
    pairs: dict[int, Entry | None] = {}
    matched: set[int] = set()
    for entry in head:
        same_name = by_name.get(entry.name, [])
        same_target = [b for b in same_name if b.entrypoint == entry.entrypoint]
        candidates = same_target or same_name
        match = candidates[0] if candidates else None
        if match is not None:
            same_name.remove(match)
            matched.add(id(match))
        pairs[entry.index] = match
    return pairs, [old for old in base if id(old) not in matched]


def changed_keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    return sorted(k for k in {*old, *new} if old.get(k) != new.get(k))


class _Paths:
    """Glob matching of repository paths, relative to the repository and to the project."""

    def __init__(self, project: str, rules: ChangeRules) -> None:
        self.project = PurePosixPath(project) if project not in ("", ".") else PurePosixPath()
        self.rules = rules
        import pathspec  # only when commits are compared

        self.always = pathspec.GitIgnoreSpec.from_lines(rules.always)
        self.ignore = pathspec.GitIgnoreSpec.from_lines(rules.ignore)

    def in_project(self, path: str) -> str | None:
        """``path`` relative to the project directory, or None when it lies outside."""
        try:
            rel = PurePosixPath(path).relative_to(self.project)
        except ValueError:
            return None
        return str(rel)

    def ignored(self, path: str) -> bool:
        if path == self.rules.workflow:
            return False
        rel = self.in_project(path)
        return self.ignore.match_file(path) or (rel is not None and self.ignore.match_file(rel))

    def goes_into_image(self, path: str) -> bool:
        """A build input of this project: in its tree, or directly in a directory above it
        (a repository-level pyproject.toml or requirements.txt)."""
        rel = self.in_project(path)
        if rel is not None:
            return self.always.match_file(rel)
        parent = PurePosixPath(path).parent
        above = parent == PurePosixPath() or parent in self.project.parents
        return above and self.always.match_file(PurePosixPath(path).name)

    def watched(self, path: str, globs: Sequence[str]) -> str | None:
        rel = self.in_project(path)
        if rel is None or not globs:
            return None
        for glob in globs:
            if _compiled(glob).match_file(rel):
                return glob
        return None


@functools.cache
def _compiled(glob: str) -> pathspec.GitIgnoreSpec:
    """Each watched glob is compiled once, not once per entry and changed path."""
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines([glob])


def _describe(change: FileChange, path: str | None = None) -> str:
    if change.status == "renamed" and path == change.old_path:
        return f"renamed to {change.path}"
    if change.status == "renamed":
        return f"renamed from {change.old_path}"
    if change.status == "copied":
        return f"copied from {change.old_path}"
    return {"added": "added", "deleted": "deleted", "type-changed": "type changed"}.get(
        change.status, "changed"
    )


def affected(
    head: Sequence[Entry],
    base: Sequence[Entry] | None,
    changes: ChangeSet,
    *,
    project: str,
    prefect_file: str,
    repo_root: Path,
    reach: Callable[[Entry], Reach],
    uses_image: Callable[[Entry], bool],
    rules: ChangeRules | None = None,
    may_reach: Callable[[Entry, frozenset[str]], bool] | None = None,
) -> Affected:
    """Which head entries the change set affects, and why.

    ``project`` is the prefect.yaml directory and ``prefect_file`` its path, both relative to
    the repository root (POSIX). ``base`` is None when prefect.yaml did not exist at base.
    ``reach`` gives the repository files an entry's flow runs on import; ``may_reach``, when
    given, is a cheaper test that is False only for entries whose reach certainly holds none
    of the changed paths, no import named at run time and no deleted module.
    """
    paths = _Paths(project, rules or ChangeRules())
    relevant = [c for c in changes.changes if not _all_ignored(c, paths)]
    reasons: dict[int, list[str]] = {e.index: [] for e in head}

    pairs, removed = pair_entries(head, base) if base is not None else ({}, [])
    for entry in head:
        old = pairs.get(entry.index)
        if base is None or old is None:
            reasons[entry.index].append(f"{prefect_file}: new deployment entry")
        elif old.config != entry.config:
            keys = ", ".join(changed_keys(old.config, entry.config))
            reasons[entry.index].append(f"{prefect_file}: {keys} changed")

    by_path = _index_changes(relevant)
    if paths.rules.workflow and paths.rules.workflow in by_path:
        for entry in head:
            reasons[entry.index].append(
                f"{paths.rules.workflow} changed (the workflow that runs flowdeploy)"
            )

    image_inputs = sorted(p for p in by_path if paths.goes_into_image(p))
    rebuild = bool(image_inputs)
    if image_inputs:
        shown = _listing(image_inputs)
        for entry in head:
            if uses_image(entry):
                reasons[entry.index].append(f"{shown} changed (goes into the image)")

    for entry in head:
        for path in by_path:
            glob = paths.watched(path, entry.watch)
            if glob is not None:
                reasons[entry.index].append(f"{path} changed (watched: {glob})")

    python = {p: c for p, c in by_path.items() if p.endswith(".py") or c.submodule}
    if python:
        root = repo_root.resolve()
        gone = {p: c for p, c in python.items() if _gone(p, c)}
        # a submodule's files do not show in the diff, so no word of them can be looked for
        narrow = None if any(c.submodule for c in python.values()) else may_reach
        changed = frozenset(python)
        for entry in head:
            if narrow is not None and not narrow(entry, changed):
                continue
            found = reach(entry)
            reasons[entry.index].extend(_code_reasons(entry, found, python, root, project))
            reasons[entry.index].extend(_gone_reasons(entry, found, gone, project))

    return Affected(
        reasons={i: _capped(r) for i, r in reasons.items() if r},
        removed=tuple(removed),
        rebuild_image=rebuild,
    )


def _all_ignored(change: FileChange, paths: _Paths) -> bool:
    touched = [change.path] + ([change.old_path] if change.old_path else [])
    return all(paths.ignored(p) for p in touched)


def _index_changes(changes: Iterable[FileChange]) -> dict[str, FileChange]:
    """Every path a change touches (a rename touches both names)."""
    out: dict[str, FileChange] = {}
    for change in changes:
        out.setdefault(change.path, change)
        if change.old_path and change.status == "renamed":
            out.setdefault(change.old_path, change)
    return out


def _code_reasons(
    entry: Entry, found: Reach, python: Mapping[str, FileChange], root: Path, project: str
) -> list[str]:
    entry_file = _entry_file(entry, project)
    if found.missing:
        return [f"{entry.entrypoint}: flow file or module not found, so it is checked again"]
    reasons: list[str] = []
    for file in sorted(found.files):
        try:
            rel = file.relative_to(root).as_posix()
        except ValueError:
            continue
        change = python.get(rel) or _submodule_of(rel, python)
        if change is None:
            continue
        if change.submodule:
            shown = entry_file or entry.entrypoint
            reasons.append(
                f"{shown} imports {rel} (submodule {change.path} moved to another commit)"
            )
        elif rel == entry_file:
            reasons.append(f"{rel} {_describe(change, rel)}")
        else:
            shown = entry_file or entry.entrypoint
            reasons.append(f"{shown} imports {rel} ({_describe(change, rel)})")
    for where in found.dynamic:
        shown = _relative(where.path, root)
        reasons.append(
            f"{shown}:{where.line} imports a module named at run time, which flowdeploy "
            "cannot follow"
        )
    return reasons


def _submodule_of(path: str, changes: Mapping[str, FileChange]) -> FileChange | None:
    """A submodule's files do not show in the diff, only its new commit does."""
    for parent in PurePosixPath(path).parents:
        change = changes.get(str(parent))
        if change is not None and change.submodule:
            return change
    return None


def _gone(path: str, change: FileChange) -> bool:
    return change.status == "deleted" or (change.status == "renamed" and path == change.old_path)


def _gone_reasons(
    entry: Entry, found: Reach, gone: Mapping[str, FileChange], project: str
) -> list[str]:
    """A module deleted (or moved away) that the flow still imports: the flow will fail to
    load, so the deployment must be looked at. Import names are matched against the end of
    the deleted path, whichever import root it was found under."""
    if not gone or not found.unresolved:
        return []
    reasons = []
    for name in sorted(found.unresolved):
        stem = name.replace(".", "/")
        for form in (f"{stem}.py", f"{stem}/__init__.py"):
            for path, change in gone.items():
                if path == form or path.endswith("/" + form):
                    shown = _entry_file(entry, project) or entry.entrypoint
                    reasons.append(
                        f"{shown} imports {name}, but {path} was {_describe(change, path)}"
                    )
    return reasons


def _entry_file(entry: Entry, project: str) -> str | None:
    if not entry.entrypoint or ":" not in entry.entrypoint:
        return None
    module = entry.entrypoint.rsplit(":", 1)[0]
    if not module.endswith(".py"):
        return None
    joined = PurePosixPath(project) / module if project not in ("", ".") else PurePosixPath(module)
    return _normalize(joined)


def _normalize(path: PurePosixPath) -> str:
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def _relative(path: Path | str, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _listing(items: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"


def _capped(reasons: list[str]) -> tuple[str, ...]:
    unique = list(dict.fromkeys(reasons))
    if len(unique) <= MAX_REASONS:
        return tuple(unique)
    return (*unique[: MAX_REASONS - 1], f"and {len(unique) - MAX_REASONS + 1} more reasons")
