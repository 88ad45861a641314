"""Which deployments a run looks at: every one, or those a range of commits affected.

Ties the pieces together (git for the commits and the changed paths, the import graph, the
prefect.yaml at base and at head); the decisions themselves live in ``changes``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from flowdeploy import changes as chg
from flowdeploy import git
from flowdeploy.errors import ConfigError, FlowdeployError
from flowdeploy.flows import FlowReader
from flowdeploy.imports import ImportGraph
from flowdeploy.roots import Locators
from flowdeploy.settings import Settings
from flowdeploy.yamlfile import YamlDocument, display_path, load_yaml, safe_data

ImageUse = Callable[[chg.Entry], bool]


class ProjectScope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    prefect_file: Path
    only: frozenset[int] | None = None
    """Indexes of the affected deployment entries; None: every entry."""
    reasons: dict[int, tuple[str, ...]] = {}
    removed: dict[str, str] = {}
    """Full name (flow/deployment) of each entry removed since base -> why."""
    document: YamlDocument | None = None
    """The prefect.yaml as read for the comparison, so it is parsed once."""


class Scope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    projects: tuple[ProjectScope, ...]
    note: str = "every deployment"
    warnings: tuple[str, ...] = ()
    comparison: git.Comparison | None = None
    rebuild_image: bool = True
    """Whether a file that goes into the project image changed (True when unknown)."""


def everything(settings: Settings, note: str = "every deployment") -> Scope:
    return Scope(
        projects=tuple(ProjectScope(prefect_file=f) for f in settings.prefect_files), note=note
    )


def find_scope(settings: Settings, uses_image: ImageUse, locators: Locators | None = None) -> Scope:
    """The deployments to plan. ``uses_image`` says which entries run on the project image;
    ``locators`` finds undeclared packages (shared with the loader: one walk per run)."""
    locators = locators or Locators()
    if settings.range is None:
        return everything(settings)
    anchor = settings.directory_of(settings.prefect_files[0])
    repo = git.repo_root(anchor)
    if repo is None:
        raise ConfigError(
            f"{anchor.resolve()} is not in a git repository",
            why="--base/--head (and GitHub events) compare commits",
            fix="run flowdeploy inside the repository checkout, or use --all",
        )
    comparison = git.resolve_comparison(repo, settings.range)
    if comparison.base is None:
        scope = everything(settings, comparison.note)
        return scope.model_copy(update={"comparison": comparison, "warnings": comparison.warnings})
    changeset = git.changed_files(repo, comparison.base, comparison.head)
    rules_for = _rules(settings)
    projects = []
    rebuild = False
    for file in settings.prefect_files:
        project, image = _project_scope(
            repo, file, settings.directory_of(file), changeset, rules_for, uses_image, locators
        )
        projects.append(project)
        rebuild = rebuild or image
    warnings = comparison.warnings
    if settings.range.head == "HEAD":
        chosen = {p.prefect_file: p.only or frozenset() for p in projects}
        warnings += _uncommitted(
            repo, settings, comparison, chosen, rules_for, uses_image, locators
        )
    return Scope(
        projects=tuple(projects),
        note=comparison.note,
        warnings=warnings,
        comparison=comparison,
        rebuild_image=rebuild,
    )


def _uncommitted(
    repo: Path,
    settings: Settings,
    comparison: git.Comparison,
    chosen: dict[Path, frozenset[int]],
    rules_for: Callable[[dict[str, object]], chg.ChangeRules],
    uses_image: ImageUse,
    locators: Locators,
) -> tuple[str, ...]:
    """Edits not yet committed that would add deployments to the plan. Planned deployments
    are read from the working tree, but which ones are planned is decided by the commits."""
    edits = git.uncommitted(repo, comparison.head)
    if not edits.changes:
        return ()
    reasons: list[str] = []
    for file in settings.prefect_files:
        part, _ = _project_scope(
            repo, file, settings.directory_of(file), edits, rules_for, uses_image, locators
        )
        left_out = set(part.reasons) - chosen.get(file, frozenset())
        reasons += [r for index in left_out for r in part.reasons[index]]
        reasons += list(part.removed)
    named = sorted({c.path for c in edits.changes if any(c.path in r for r in reasons)})
    if not named:
        return ()
    shown = ", ".join(named[:5]) + (f" and {len(named) - 5} more" if len(named) > 5 else "")
    base = comparison.base[:7] if comparison.base else "?"
    return (
        f"uncommitted changes to {shown} are left out: --base chooses the deployments "
        f"to plan from the commits ({base}..{comparison.head[:7]}), and these edits affect "
        "deployments those commits do not; commit them, or pass --all",
    )


def _rules(settings: Settings) -> Callable[[dict[str, object]], chg.ChangeRules]:
    """The defaults, extended by the project's ``flowdeploy:`` key (a later ``!pattern``
    re-includes what a default excludes, as in .gitignore)."""

    def rules(own: dict[str, object]) -> chg.ChangeRules:
        return chg.ChangeRules(
            always=chg.DEFAULT_ALWAYS + _globs(own.get("always_affect")),
            ignore=chg.DEFAULT_IGNORE + _globs(own.get("ignore")),
            workflow=settings.workflow,
        )

    return rules


def _globs(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(str(p) for p in value)


def _project_scope(
    repo: Path,
    prefect_file: Path,
    directory: Path,
    changeset: git.ChangeSet,
    rules_for: Callable[[dict[str, object]], chg.ChangeRules],
    uses_image: ImageUse,
    locators: Locators,
) -> tuple[ProjectScope, bool]:
    root = repo.resolve()
    file = prefect_file.resolve()
    project_dir = directory.resolve()
    rel_file = file.relative_to(root).as_posix()
    rel_dir = project_dir.relative_to(root).as_posix()
    document = load_yaml(prefect_file, display_path(prefect_file))
    head_data = document.data
    head = chg.read_entries(head_data)
    if rel_file in changeset.paths:
        base_bytes = git.read_file_at(root, changeset.base, rel_file)
        base = chg.read_entries(safe_data(base_bytes)) if base_bytes is not None else None
    else:
        base = head
    own = head_data.get(chg.OWN_KEY) if isinstance(head_data, dict) else None
    graph = ImportGraph(project_dir, root, locator=locators(root))
    found = chg.affected(
        head,
        base,
        changeset,
        project="" if rel_dir == "." else rel_dir,
        prefect_file=rel_file,
        repo_root=root,
        reach=lambda entry: graph.reach(entry.entrypoint or ""),
        may_reach=lambda entry, paths: graph.may_reach(entry.entrypoint or "", paths),
        uses_image=uses_image,
        rules=rules_for(own if isinstance(own, dict) else {}),
    )
    removed = _removed_names(root, changeset.base, rel_dir, found.removed, rel_file)
    scope = ProjectScope(
        prefect_file=prefect_file,
        only=frozenset(found.reasons),
        reasons=found.reasons,
        removed=removed,
        document=document,
    )
    return scope, found.rebuild_image


def _removed_names(
    root: Path, base: str, rel_dir: str, removed: Sequence[chg.Entry], rel_file: str
) -> dict[str, str]:
    """Full names of entries gone since base: the flow name is read from the base commit."""
    if not removed:
        return {}
    names: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="flowdeploy-base-") as tmp:
        git.export_tree(root, base, Path(tmp))
        project = Path(tmp) / rel_dir
        reader = FlowReader(project, Path(tmp))
        for entry in removed:
            flow = _flow_name(reader, entry)
            names[f"{flow}/{entry.name}"] = f"removed from {rel_file} since {base[:7]}"
    return names


def _flow_name(reader: FlowReader, entry: chg.Entry) -> str:
    function = (entry.entrypoint or "").rsplit(":", 1)[-1].rsplit(".", 1)[-1]
    try:
        return reader.read(entry.entrypoint or "").name
    except FlowdeployError:
        # The flow no longer reads at base; Prefect's default name is the function's.
        return function.replace("_", "-")
