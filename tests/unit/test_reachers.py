"""The word filter before the import graph: it may only skip flows the full graph finds untouched.

Each test compares change detection with the filter against the same without it, on a real
repository, for every file of the repository changed (and deleted) in turn; the property test
does the same on generated repositories written with every import style the graph follows.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowdeploy.changes import Affected, Entry, affected
from flowdeploy.git import ChangeSet, FileChange
from flowdeploy.imports import ImportGraph, names_an_importer
from flowdeploy.reachers import find_reachers
from support.files import import_line
from support.files import write_files as write

FLOW = "\nfrom prefect import flow\n\n@flow\ndef main() -> None:\n    pass\n"


def detect(
    root: Path, entrypoints: list[str], changes: list[FileChange], *, narrow: bool
) -> tuple[Affected, int]:
    graph = ImportGraph(root, root)
    entries = [
        Entry(index=i, name=f"d{i}", entrypoint=e, config={}) for i, e in enumerate(entrypoints)
    ]
    found = affected(
        entries,
        entries,
        ChangeSet(base="0" * 40, head="1" * 40, changes=tuple(changes)),
        project="",
        prefect_file="prefect.yaml",
        repo_root=root,
        reach=lambda entry: graph.reach(entry.entrypoint or ""),
        may_reach=(
            (lambda entry, paths: graph.may_reach(entry.entrypoint or "", paths))
            if narrow
            else None
        ),
        uses_image=lambda entry: False,
    )
    return found, graph.parsed_files


def same_either_way(root: Path, entrypoints: list[str]) -> None:
    """Every Python file changed, then deleted, one at a time: the same affected set and
    reasons with the filter as without it."""
    files = sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*.py") if ".git" not in p.parts
    )
    for rel in files:
        for status in ("modified", "deleted"):
            changes = [FileChange(status=status, path=rel)]
            full, _ = detect(root, entrypoints, changes, narrow=False)
            narrowed, _ = detect(root, entrypoints, changes, narrow=True)
            assert narrowed == full, (rel, status)


def test_a_thousand_flow_style_repository_parses_only_what_reaches_the_change(
    tmp_path: Path,
) -> None:
    files: dict[str, str | bytes] = {f"lib/shared_{i}.py": f"VALUE_{i} = {i}\n" for i in range(5)}
    files["lib/__init__.py"] = ""
    for j in range(40):
        files[f"flows/flow_{j}.py"] = f"from lib.shared_{j % 5} import VALUE_{j % 5}\n" + FLOW
    root = write(tmp_path, files)
    entrypoints = [f"flows/flow_{j}.py:main" for j in range(40)]
    one = [FileChange(status="modified", path="flows/flow_7.py")]
    full, parsed_full = detect(root, entrypoints, one, narrow=False)
    narrowed, parsed = detect(root, entrypoints, one, narrow=True)
    assert narrowed == full
    assert set(narrowed.reasons) == {7}
    assert parsed_full == 46 and parsed <= 3  # flow_7, lib/__init__, lib/shared_2
    shared = [FileChange(status="modified", path="lib/shared_2.py")]
    narrowed, parsed = detect(root, entrypoints, shared, narrow=True)
    assert set(narrowed.reasons) == {j for j in range(40) if j % 5 == 2}
    assert parsed < 46


def test_packages_relative_and_star_imports(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "flows/a.py": "from pkg.sub.x import run\n" + FLOW,
            "flows/b.py": "from pkg import *\n" + FLOW,
            "flows/c.py": "import other\n" + FLOW,
            "pkg/__init__.py": "__all__ = ['tools']\nCONSTANT = 1\n",
            "pkg/tools.py": "",
            "pkg/unused.py": "",
            "pkg/sub/__init__.py": "from .. import *\n",
            "pkg/sub/x.py": "from .y import helper\nfrom .. import CONSTANT\nrun = helper\n",
            "pkg/sub/y.py": "from ..w import thing\nhelper = 1\n",
            "pkg/w.py": "thing = 1\n",
            "other.py": "",
        },
    )
    same_either_way(root, ["flows/a.py:main", "flows/b.py:main", "flows/c.py:main"])


def test_module_entrypoints_and_package_inits(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "etl/__init__.py": "from . import settings\n",
            "etl/settings.py": "",
            "etl/flows/__init__.py": "",
            "etl/flows/load.py": "from ..common import util\n" + FLOW,
            "etl/flows/clean.py": FLOW,
            "etl/common/__init__.py": "",
            "etl/common/util.py": "",
            "report/__init__.py": "",
            "report/daily.py": FLOW,
        },
    )
    same_either_way(
        root,
        ["etl.flows.load:main", "etl.flows.clean:main", "report.daily:main", "nowhere.mod:main"],
    )


def test_scripts_import_their_siblings_and_modules_named_at_run_time(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "flows/a.py": "import helper\n" + FLOW,
            "flows/helper.py": "import importlib\nimportlib.import_module('plugins.one')\n",
            "flows/b.py": "from importlib import import_module\nm = import_module(NAME)\n" + FLOW,
            "flows/c.py": FLOW,
            "plugins/__init__.py": "",
            "plugins/one.py": "",
            "plugins/two.py": "",
        },
    )
    same_either_way(root, ["flows/a.py:main", "flows/b.py:main", "flows/c.py:main"])


def test_identifiers_written_in_other_unicode_forms_and_other_encodings(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            # the parser reads the fullwidth letter as an ASCII "s" (NFKC): it imports shared
            "flows/a.py": "import \uff53hared  # déjà\n" + FLOW,
            "flows/b.py": b"# -*- coding: latin-1 -*-\nimport helper  # \xe9\n" + FLOW.encode(),
            "flows/c.py": "import unrelated\n" + FLOW,
            "shared.py": "",
            "helper.py": "",
            "unrelated.py": "",
        },
    )
    entrypoints = ["flows/a.py:main", "flows/b.py:main", "flows/c.py:main"]
    same_either_way(root, entrypoints)
    found, _ = detect(
        root, entrypoints, [FileChange(status="modified", path="shared.py")], narrow=True
    )
    assert set(found.reasons) == {0}


def test_folder_links_inside_the_repository_and_links_leaving_it(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("import shared\n")
    root = write(
        tmp_path / "repo",
        {
            "real/__init__.py": "",
            "real/mod.py": "import shared\n",
            "flows/a.py": "import linked.mod\n" + FLOW,
            "flows/b.py": "import secret\n" + FLOW,
            "shared.py": "",
        },
    )
    (root / "linked").symlink_to(root / "real", target_is_directory=True)
    (root / "secret.py").symlink_to(outside / "secret.py")
    same_either_way(root, ["flows/a.py:main", "flows/b.py:main"])
    found = find_reachers(root, frozenset({"shared.py"}), seed=names_an_importer)
    assert found is not None
    assert all("outside" not in str(p) for p in found.known)


def test_a_fifo_named_like_a_module_neither_hangs_nor_hides_a_flow(tmp_path: Path) -> None:
    root = write(tmp_path, {"flows/a.py": "import pipe\n" + FLOW, "flows/b.py": FLOW})
    os.mkfifo(root / "pipe.py")
    entrypoints = ["flows/a.py:main", "flows/b.py:main"]
    for rel in ("pipe.py", "flows/b.py"):
        changes = [FileChange(status="modified", path=rel)]
        full, _ = detect(root, entrypoints, changes, narrow=False)
        assert detect(root, entrypoints, changes, narrow=True)[0] == full


def test_a_repository_too_large_to_walk_is_not_filtered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("flowdeploy.reachers.MAX_WALK_ENTRIES", 3)
    root = write(tmp_path, {f"flows/f{i}.py": FLOW for i in range(5)})
    assert find_reachers(root, frozenset({"flows/f1.py"}), seed=names_an_importer) is None
    graph = ImportGraph(root, root)
    assert all(graph.may_reach(f"flows/f{i}.py:main", frozenset({"x.py"})) for i in range(5))


# --- property: with or without the filter, the same answer ----------------------------------

STYLES = (
    "import",
    "from_package",
    "from_module",
    "importlib",
    "dunder",
    "in_function",
    "relative",
    "relative_package",
    "star",
)


Edges = list[tuple[int, str]]


def imports_of(edges: Edges) -> str:
    return "".join(import_line(t, s, n) for n, (t, s) in enumerate(edges))


@st.composite
def repositories(draw: st.DrawFn) -> tuple[list[Edges], list[Edges], list[str], bool]:
    size = draw(st.integers(min_value=1, max_value=8))
    edge = st.tuples(st.integers(0, size - 1), st.sampled_from(STYLES))
    modules = [draw(st.lists(edge, max_size=3)) for _ in range(size)]
    flow_styles = [s for s in STYLES if not s.startswith("relative")]
    flow_edge = st.tuples(st.integers(0, size - 1), st.sampled_from(flow_styles))
    flows = draw(st.lists(st.lists(flow_edge, max_size=2), min_size=1, max_size=5))
    public = draw(st.lists(st.integers(0, size - 1), max_size=3))
    init = draw(st.booleans())
    return modules, flows, [f"m{i}" for i in public], init


@settings(max_examples=40, deadline=None)
@given(repositories(), st.data())
def test_the_filter_never_changes_what_a_commit_affects(
    repository: tuple[list[Edges], list[Edges], list[str], bool], data: st.DataObject
) -> None:
    modules, flows, public, init = repository
    files: dict[str, str | bytes] = {
        f"lib/m{i}.py": imports_of(edges) + "thing = 1\n" for i, edges in enumerate(modules)
    }
    for j, edges in enumerate(flows):
        files[f"flows/f{j}.py"] = imports_of(edges) + FLOW
    if init:
        files["lib/__init__.py"] = f"__all__ = {public!r}\n"
    paths = sorted(files)
    changed = data.draw(st.lists(st.sampled_from(paths), min_size=1, max_size=2, unique=True))
    status = data.draw(st.sampled_from(["modified", "deleted", "added"]))
    with tempfile.TemporaryDirectory() as directory:
        root = write(Path(directory), files)
        for rel in changed if status == "deleted" else ():
            (root / rel).unlink()
        entrypoints = [f"flows/f{j}.py:main" for j in range(len(flows))]
        changes = [FileChange(status=status, path=rel) for rel in changed]
        full, _ = detect(root, entrypoints, changes, narrow=False)
        assert detect(root, entrypoints, changes, narrow=True)[0] == full


def test_links_in_a_loop_are_passed_over_and_an_unreadable_folder_turns_the_filter_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write(tmp_path, {"flows/a.py": "import shared\n" + FLOW, "shared.py": ""})
    (root / "loop").symlink_to(root / "loop")
    found = find_reachers(root, frozenset({"shared.py"}), seed=names_an_importer)
    assert found is not None and found.holds(root / "flows" / "a.py") is True
    real_scandir = os.scandir

    def refuse(path: Any) -> Any:
        if str(path).endswith("flows"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr("flowdeploy.reachers.os.scandir", refuse)
    assert find_reachers(root, frozenset({"shared.py"}), seed=names_an_importer) is None
