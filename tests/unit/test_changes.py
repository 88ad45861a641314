"""changes.affected as a pure function: entries, a change set, and a stand-in import graph."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from flowdeploy.changes import ChangeRules, Entry, affected, pair_entries, read_entries
from flowdeploy.errors import Location
from flowdeploy.git import ChangeSet, FileChange
from flowdeploy.imports import Reach

ROOT = Path("/repo")

BASE_YAML = """
build:
- prefect_docker.deployments.steps.build_docker_image:
    image_name: img
deployments:
- name: a
  entrypoint: flows/a.py:a
  work_pool: {name: docker}
- name: b
  entrypoint: flows/b.py:b
  build: null
  work_pool: {name: proc}
  flowdeploy: {watch: ["sql/b/**"]}
- name: c
  entrypoint: flows/c.py:c
  build: []
  work_pool: {name: proc}
"""

GRAPH = {
    "flows/a.py:a": {"flows/a.py", "lib/db.py"},
    "flows/b.py:b": {"flows/b.py", "lib/db.py", "lib/fmt.py"},
    "flows/c.py:c": {"flows/c.py"},
}


def entries(text: str = BASE_YAML) -> list[Entry]:
    return read_entries(yaml.safe_load(text))


def reach(entry: Entry) -> Reach:
    files = GRAPH.get(entry.entrypoint or "")
    if files is None:
        return Reach(files=frozenset(), missing=True)
    return Reach(files=frozenset(ROOT / f for f in files))


def changes(*items: tuple[str, str] | FileChange) -> ChangeSet:
    out = []
    for item in items:
        if isinstance(item, FileChange):
            out.append(item)
        else:
            status, path = item
            out.append(FileChange(status=status, path=path))  # type: ignore[arg-type]
    return ChangeSet(base="b" * 40, head="h" * 40, changes=tuple(out))


def run(
    changeset: ChangeSet,
    head: list[Entry] | None = None,
    base: list[Entry] | None = None,
    *,
    project: str = "",
    rules: ChangeRules | None = None,
    reach_fn: Any = reach,
) -> dict[str, tuple[str, ...]]:
    head = head if head is not None else entries()
    found = affected(
        head,
        base if base is not None else entries(),
        changeset,
        project=project,
        prefect_file="prefect.yaml",
        repo_root=ROOT,
        reach=reach_fn,
        uses_image=lambda e: e.builds_image,
        rules=rules,
    )
    names = {e.index: e.name for e in head}
    return {names[i]: r for i, r in found.reasons.items()}


def test_inherited_build_steps_decide_who_uses_the_image() -> None:
    by_name = {e.name: e for e in entries()}
    # 'build: null' inherits like a missing key would not: Prefect takes the key when present.
    assert by_name["a"].builds_image
    assert not by_name["b"].builds_image
    assert not by_name["c"].builds_image
    assert by_name["b"].watch == ("sql/b/**",)
    assert "flowdeploy" not in by_name["b"].config


def test_shared_module_affects_its_importers_only() -> None:
    got = run(changes(("modified", "lib/fmt.py")))
    assert got == {"b": ("flows/b.py imports lib/fmt.py (changed)",)}


def test_nothing_changed_affects_nothing() -> None:
    assert run(changes()) == {}


def test_always_affect_reaches_image_users_and_repo_level_files() -> None:
    assert set(run(changes(("modified", "Dockerfile")))) == {"a"}
    assert set(run(changes(("modified", "requirements-dev.txt")))) == {"a"}
    # a project in a subdirectory: its own Dockerfile and the repository's pyproject count,
    # another project's Dockerfile does not
    sub = {"project": "projects/p"}
    assert set(run(changes(("modified", "projects/p/docker/Dockerfile")), **sub)) == {"a"}
    assert set(run(changes(("modified", "pyproject.toml")), **sub)) == {"a"}
    assert run(changes(("modified", "projects/q/Dockerfile")), **sub) == {}


def test_ignored_paths_and_the_running_workflow() -> None:
    assert run(changes(("modified", "docs/a.py"), ("added", "notes/x.md"))) == {}
    assert run(changes(("modified", ".github/workflows/other.yml"))) == {}
    rules = ChangeRules(workflow=".github/workflows/deploy.yml")
    got = run(changes(("modified", ".github/workflows/deploy.yml")), rules=rules)
    assert set(got) == {"a", "b", "c"}
    # a user pattern re-includes what a default ignores, as in .gitignore
    rules = ChangeRules(ignore=("**/*.md", "!sql/**/*.md"))
    assert set(run(changes(("modified", "sql/b/readme.md")), rules=rules)) == {"b"}


def test_watched_globs_are_relative_to_the_project() -> None:
    got = run(changes(("added", "sql/b/daily.sql")))
    assert got == {"b": ("sql/b/daily.sql changed (watched: sql/b/**)",)}
    assert run(changes(("added", "sql/a/daily.sql"))) == {}


def test_prefect_yaml_changes_are_compared_resolved() -> None:
    anchored = """
definitions:
  p: &p {x: 1}
deployments:
- {name: a, entrypoint: flows/a.py:a, parameters: *p}
- {name: b, entrypoint: flows/b.py:b, parameters: *p}
- {name: c, entrypoint: flows/c.py:c}
"""
    base = entries(anchored)
    head = entries(anchored.replace("{x: 1}", "{x: 2}"))
    got = run(changes(("modified", "prefect.yaml")), head, base)
    assert got == {"a": ("prefect.yaml: parameters changed",), "b": got["b"]}
    reordered = """
deployments:
- entrypoint: flows/a.py:a
  parameters: {x: 1}
  name: a
- {parameters: {x: 1}, entrypoint: flows/b.py:b, name: b}   # comment
- {name: c, entrypoint: flows/c.py:c}
"""
    assert run(changes(("modified", "prefect.yaml")), entries(reordered), base) == {}


def test_top_level_steps_changing_affects_those_that_inherit_them() -> None:
    head = entries(BASE_YAML.replace("image_name: img", "image_name: img2"))
    got = run(changes(("modified", "prefect.yaml")), head)
    assert got == {"a": ("prefect.yaml: build changed",)}


def test_new_and_removed_entries() -> None:
    head = [e for e in entries() if e.name != "c"]
    found = affected(
        head,
        entries(),
        changes(("modified", "prefect.yaml")),
        project="",
        prefect_file="prefect.yaml",
        repo_root=ROOT,
        reach=reach,
        uses_image=lambda e: False,
    )
    assert found.reasons == {}
    assert [e.name for e in found.removed] == ["c"]
    got = run(changes(("modified", "prefect.yaml")), entries(), head)
    assert got == {"c": ("prefect.yaml: new deployment entry",)}


def test_duplicate_names_pair_by_entrypoint() -> None:
    base = entries(
        "deployments:\n- {name: prod, entrypoint: x.py:f}\n- {name: prod, entrypoint: y.py:g}"
    )
    head = entries(
        "deployments:\n- {name: prod, entrypoint: y.py:g}\n- {name: prod, entrypoint: x.py:f}"
    )
    pairs, removed = pair_entries(head, base)
    assert removed == []
    assert pairs[0] is not None and pairs[0].entrypoint == "y.py:g"


def test_renames_deletions_and_missing_flows() -> None:
    rename = FileChange(status="renamed", path="lib/db2.py", old_path="lib/db.py")
    # a follows the move; b still imports the old name, which no longer resolves
    graph = {**GRAPH, "flows/a.py:a": {"flows/a.py", "lib/db2.py"}, "flows/b.py:b": {"flows/b.py"}}

    def renamed_reach(entry: Entry) -> Reach:
        files = frozenset(ROOT / f for f in graph[entry.entrypoint or ""])
        missing = frozenset({"lib.db", "prefect"}) if entry.name == "b" else frozenset()
        return Reach(files=files, unresolved=missing)

    got = run(changes(rename), reach_fn=renamed_reach)
    assert got == {
        "a": ("flows/a.py imports lib/db2.py (renamed from lib/db.py)",),
        "b": ("flows/b.py imports lib.db, but lib/db.py was renamed to lib/db2.py",),
    }
    head = entries(BASE_YAML.replace("flows/c.py:c", "flows/gone.py:c"))
    got = run(changes(("deleted", "flows/c.py")), head, head)
    assert got == {"c": ("flows/gone.py:c: flow file or module not found, so it is checked again",)}


def test_dynamic_imports_make_a_deployment_affected_by_any_code_change() -> None:
    def dynamic(entry: Entry) -> Reach:
        found = reach(entry)
        if entry.name == "c":
            where = Location(ROOT / "flows/c.py", 9)
            return found.model_copy(update={"dynamic": (where,)})
        return found

    got = run(changes(("modified", "lib/fmt.py")), reach_fn=dynamic)
    assert set(got) == {"b", "c"}
    assert got["c"] == (
        "flows/c.py:9 imports a module named at run time, which flowdeploy cannot follow",
    )
    assert run(changes(("modified", "sql/x.sql")), reach_fn=dynamic) == {}


def test_reasons_are_capped() -> None:
    many = changes(*(("modified", f"sql/b/{i}.sql") for i in range(20)))
    got = run(many)["b"]
    assert len(got) == 6 and got[-1] == "and 15 more reasons"


def test_a_submodule_moving_affects_flows_importing_from_it() -> None:
    graph = {**GRAPH, "flows/c.py:c": {"flows/c.py", "vendor/kit/kit/io.py"}}

    def vendored(entry: Entry) -> Reach:
        return Reach(files=frozenset(ROOT / f for f in graph[entry.entrypoint or ""]))

    moved = FileChange(status="modified", path="vendor/kit", submodule=True)
    got = run(changes(moved), reach_fn=vendored)
    assert got == {
        "c": (
            "flows/c.py imports vendor/kit/kit/io.py"
            " (submodule vendor/kit moved to another commit)",
        )
    }
