"""ImportGraph: which repository files run when Prefect loads an entrypoint, read without importing.

Every test builds a small real repository; the property test checks the graph against a BFS over
a randomly generated import graph written with every import style.
"""

from __future__ import annotations

import tempfile
import textwrap
from collections import deque
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowdeploy.changes import Entry
from flowdeploy.changes import affected as changes_affected
from flowdeploy.errors import Location
from flowdeploy.git import ChangeSet, FileChange
from flowdeploy.imports import ImportGraph, Reach
from flowdeploy.sources import SourceIndex
from support.files import import_line
from support.files import write_files as write

FLOW = """
from prefect import flow

@flow
def main() -> None:
    pass
"""


def reach(root: Path, entrypoint: str, project: str = "") -> Reach:
    return ImportGraph(root / project, root).reach(entrypoint)


def names(root: Path, result: Reach) -> set[str]:
    """Reached files relative to the repository, as POSIX paths, for readable assertions."""
    return {path.relative_to(root).as_posix() for path in result.files}


# --- absolute, transitive, packages ---------------------------------------------------------


def test_absolute_import_of_a_shared_module(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "flows/a.py": "import shared\n" + FLOW,
            "flows/b.py": "from shared import helper\n" + FLOW,
            "shared.py": "def helper() -> int:\n    return 1\n",
            "unrelated.py": "",
        },
    )
    graph = ImportGraph(root, root)
    assert names(root, graph.reach("flows/a.py:main")) == {"flows/a.py", "shared.py"}
    assert names(root, graph.reach("flows/b.py:main")) == {"flows/b.py", "shared.py"}


def test_transitive_imports(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "flow.py": "import a\n" + FLOW,
            "a.py": "from b import value\n",
            "b.py": "import c\nvalue = 1\n",
            "c.py": "",
        },
    )
    assert names(root, reach(root, "flow.py:main")) == {"flow.py", "a.py", "b.py", "c.py"}


def test_every_package_init_on_the_way_runs_and_its_imports_are_followed(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "flow.py": "import a.b.c as c\n" + FLOW,
            "a/__init__.py": "from a import registry\n",
            "a/registry.py": "",
            "a/b/__init__.py": "",
            "a/b/c.py": "",
            "a/b/other.py": "",
        },
    )
    assert names(root, reach(root, "flow.py:main")) == {
        "flow.py",
        "a/__init__.py",
        "a/registry.py",
        "a/b/__init__.py",
        "a/b/c.py",
    }


def test_relative_imports_inside_a_package(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "flow.py": "from pkg.sub.x import run\n" + FLOW,
            "pkg/__init__.py": "CONSTANT = 1\n",
            "pkg/z.py": "",
            "pkg/w.py": "",
            "pkg/sub/__init__.py": "",
            "pkg/sub/x.py": "from .y import helper\nfrom .. import z, CONSTANT\nrun = helper\n",
            "pkg/sub/y.py": "from ..w import thing\nhelper = 1\n",
        },
    )
    assert names(root, reach(root, "flow.py:main")) == {
        "flow.py",
        "pkg/__init__.py",
        "pkg/z.py",
        "pkg/w.py",
        "pkg/sub/__init__.py",
        "pkg/sub/x.py",
        "pkg/sub/y.py",
    }


def test_from_package_import_submodule_includes_the_submodule(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "flow.py": "from pkg import tools, VERSION\n" + FLOW,
            # ``tools`` is also bound in __init__: the submodule may still be what runs
            "pkg/__init__.py": "VERSION = '1'\ntools = None\n",
            "pkg/tools.py": "",
            "pkg/unused.py": "",
        },
    )
    assert names(root, reach(root, "flow.py:main")) == {
        "flow.py",
        "pkg/__init__.py",
        "pkg/tools.py",
    }


def test_star_import_follows_submodules_listed_in_dunder_all(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "flow.py": "from pkg import *\n" + FLOW,
            "pkg/__init__.py": "__all__ = ['listed', 'CONSTANT']\n__all__ += ['added']\n",
            "pkg/listed.py": "",
            "pkg/added.py": "",
            "pkg/unlisted.py": "",
        },
    )
    assert names(root, reach(root, "flow.py:main")) == {
        "flow.py",
        "pkg/__init__.py",
        "pkg/listed.py",
        "pkg/added.py",
    }


def test_namespace_package(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "flow.py": "import ns.mod\nfrom ns import other\n" + FLOW,
            "ns/mod.py": "",
            "ns/other.py": "",
            "ns/unused.py": "",
        },
    )
    assert names(root, reach(root, "flow.py:main")) == {"flow.py", "ns/mod.py", "ns/other.py"}


def test_cycles_terminate_and_every_member_reaches_the_whole_cycle(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "one.py": "import a\n" + FLOW,
            "two.py": "import c\n" + FLOW,
            "a.py": "import b\n",
            "b.py": "import c\nimport leaf\n",
            "c.py": "import a\n",
            "leaf.py": "",
        },
    )
    graph = ImportGraph(root, root)
    cycle = {"a.py", "b.py", "c.py", "leaf.py"}
    assert names(root, graph.reach("one.py:main")) == {"one.py", *cycle}
    assert names(root, graph.reach("two.py:main")) == {"two.py", *cycle}


def test_a_module_importing_itself(tmp_path: Path) -> None:
    root = write(tmp_path, {"flow.py": "import flow\nfrom . import x\n" + FLOW, "x.py": ""})
    assert names(root, reach(root, "flow.py:main")) == {"flow.py", "x.py"}


# --- search roots -----------------------------------------------------------------------------


def test_src_layout_package_is_imported_by_name(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "flows/etl.py": "from mylib.db import connect\n" + FLOW,
            "src/mylib/__init__.py": "",
            "src/mylib/db.py": "from mylib import config\nconnect = 1\n",
            "src/mylib/config.py": "",
        },
    )
    assert names(root, reach(root, "flows/etl.py:main")) == {
        "flows/etl.py",
        "src/mylib/__init__.py",
        "src/mylib/db.py",
        "src/mylib/config.py",
    }


def test_project_below_the_repository_root_sees_both_roots(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "project/flows/etl.py": "import local_mod\nimport repo_mod\nimport mylib\n" + FLOW,
            "project/local_mod.py": "",
            "repo_mod.py": "",
            "src/mylib/__init__.py": "",
        },
    )
    assert names(root, reach(root, "flows/etl.py:main", project="project")) == {
        "project/flows/etl.py",
        "project/local_mod.py",
        "repo_mod.py",
        "src/mylib/__init__.py",
    }


def test_sibling_of_a_script_in_a_subdirectory(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "flows/sub/job.py": "from helpers import x\n" + FLOW,
            "flows/sub/helpers.py": "x = 1\n",
            "helpers.py": "",  # shadowed: the script's directory comes first on sys.path
        },
    )
    assert names(root, reach(root, "flows/sub/job.py:main")) == {
        "flows/sub/job.py",
        "flows/sub/helpers.py",
    }


def test_relative_imports_from_a_script_loaded_by_path(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "flows/job.py": "from .helpers import x\nfrom . import other\n" + FLOW,
            "flows/helpers.py": "from .util import y\nx = y\n",
            "flows/util.py": "y = 1\n",
            "flows/other.py": "",
        },
    )
    assert names(root, reach(root, "flows/job.py:main")) == {
        "flows/job.py",
        "flows/helpers.py",
        "flows/util.py",
        "flows/other.py",
    }


def test_module_entrypoint_runs_its_packages(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "flows/__init__.py": "from flows import common\n",
            "flows/common.py": "",
            "flows/etl.py": "import lib\n" + FLOW,
            "lib.py": "",
        },
    )
    expected = {"flows/__init__.py", "flows/common.py", "flows/etl.py", "lib.py"}
    assert names(root, reach(root, "flows.etl:main")) == expected
    assert names(root, reach(root, "flows.etl.main")) == expected


def test_script_module_matches_source_index(tmp_path: Path) -> None:
    """The graph builds a script's module itself (for speed); it must be for_script's."""
    root = write(tmp_path, {"flows/job.py": "from . import job\n" + FLOW})
    graph = ImportGraph(root, root)
    script = graph._script_scope(root / "flows/job.py").script
    assert script == SourceIndex([root, root]).for_script(root / "flows/job.py", root)[1]


# --- where imports hide -----------------------------------------------------------------------


def test_imports_in_functions_try_except_and_type_checking(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "flow.py": textwrap.dedent("""
                from typing import TYPE_CHECKING

                try:
                    import fast as impl
                except ImportError:
                    import slow as impl

                if TYPE_CHECKING:
                    from models import Model

                class Loader:
                    def load(self) -> None:
                        from lazy_method import thing

                def helper() -> None:
                    import lazy

                if __name__ == "__main__":
                    import only_when_run
                else:
                    import on_import
            """)
            + FLOW,
            "fast.py": "",
            "slow.py": "",
            "models.py": "",
            "lazy_method.py": "",
            "lazy.py": "",
            "only_when_run.py": "",
            "on_import.py": "",
        },
    )
    assert names(root, reach(root, "flow.py:main")) == {
        "flow.py",
        "fast.py",
        "slow.py",
        "models.py",
        "lazy_method.py",
        "lazy.py",
        "on_import.py",
    }


def test_import_functions_with_literal_names_are_followed(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "flow.py": textwrap.dedent("""
                import importlib
                from importlib import import_module as load

                importlib.import_module("lib.x")
                load("lib.y")
                __import__("lib.z")
                importlib.import_module(".rel", package="lib")

                def later():
                    return importlib.import_module("lib.in_function")
            """)
            + FLOW,
            "lib/__init__.py": "",
            "lib/x.py": "",
            "lib/y.py": "",
            "lib/z.py": "",
            "lib/rel.py": "",
            "lib/in_function.py": "",
            "lib/unused.py": "",
        },
    )
    result = reach(root, "flow.py:main")
    assert names(root, result) == {
        "flow.py",
        "lib/__init__.py",
        "lib/x.py",
        "lib/y.py",
        "lib/z.py",
        "lib/rel.py",
        "lib/in_function.py",
    }
    assert result.dynamic == ()


def test_import_module_relative_to_package_and_name(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "flow.py": "import pkg.loader\n" + FLOW,
            "pkg/__init__.py": "",
            "pkg/loader.py": """
                import importlib
                importlib.import_module(".plugin", package=__package__)
                importlib.import_module(".inner", __name__)  # pkg.loader.inner: not a package
            """,
            "pkg/plugin.py": "",
        },
    )
    assert names(root, reach(root, "flow.py:main")) == {
        "flow.py",
        "pkg/__init__.py",
        "pkg/loader.py",
        "pkg/plugin.py",
    }


def test_non_literal_imports_are_dynamic_with_their_line(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "flow.py": textwrap.dedent("""
                import importlib
                import helper

                def load(name: str) -> object:
                    return importlib.import_module(name)

                plugin = __import__(f"plugins.{load.__name__}")
            """)
            + FLOW,
            "helper.py": """
                import runpy
                from importlib import import_module as im

                im(".x")  # relative without an anchor
                runpy.run_path("scripts/setup.py")

                if __name__ == "__main__":
                    im(input())
            """,
            "passed.py": """
                import importlib

                loaders = list(map(importlib.import_module, ["a", "b"]))
            """,
            "unreached.py": "import importlib\nimportlib.import_module(input())\n",
        },
    )
    result = reach(root, "flow.py:main")
    assert names(root, result) == {"flow.py", "helper.py"}
    assert result.dynamic == (
        Location(root / "flow.py", 6),
        Location(root / "flow.py", 8),
        Location(root / "helper.py", 5),
        Location(root / "helper.py", 6),
    )
    passed = reach(root, "passed.py:main")
    assert passed.dynamic == (Location(root / "passed.py", 4),)


def test_external_modules_are_ignored_but_repository_shadows_are_followed(
    tmp_path: Path,
) -> None:
    root = write(
        tmp_path,
        {
            "flow.py": "import os, requests, prefect, json\nfrom pydantic import BaseModel\n"
            + FLOW,
            "requests.py": "",  # a repository module shadowing a third-party one: it is imported
            "json.py": "",  # the standard library always wins
            "prefect.py": "",
        },
    )
    assert names(root, reach(root, "flow.py:main")) == {"flow.py", "requests.py"}


# --- failures -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entrypoint",
    ["flows/nope.py:main", "nope.mod:main", "flows.nope:main", "ns:main", "not an entrypoint"],
)
def test_missing_entrypoint(tmp_path: Path, entrypoint: str) -> None:
    root = write(tmp_path, {"flows/__init__.py": "", "ns/mod.py": ""})
    assert reach(root, entrypoint) == Reach(files=frozenset(), missing=True)


def test_syntax_error_in_a_reached_module_is_reached_and_the_walk_goes_on(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "flow.py": "import broken\nimport fine\n" + FLOW,
            "broken.py": "def oops(:\n",
            "fine.py": "",
        },
    )
    assert names(root, reach(root, "flow.py:main")) == {"flow.py", "broken.py", "fine.py"}


def test_syntax_error_in_the_entry_file(tmp_path: Path) -> None:
    root = write(tmp_path, {"flow.py": "import lib\ndef main(:\n", "lib.py": ""})
    assert reach(root, "flow.py:main") == Reach(files=frozenset({root / "flow.py"}))


def test_each_file_is_parsed_once_and_results_are_stable(tmp_path: Path) -> None:
    files = {f"flows/f{i}.py": "import shared.a\nimport shared.b\n" + FLOW for i in range(5)}
    files |= {"shared/__init__.py": "", "shared/a.py": "import shared.b\n", "shared/b.py": ""}
    root = write(tmp_path, files)
    graph = ImportGraph(root, root)
    first = [graph.reach(f"flows/f{i}.py:main") for i in range(5)]
    assert graph.parsed_files == 8
    assert [graph.reach(f"flows/f{i}.py:main") for i in range(5)] == first
    assert graph.parsed_files == 8


# --- property: the graph agrees with a BFS over the generated import graph ------------------

STYLES = ("import", "from_package", "from_module", "importlib", "in_function", "relative")

Edges = list[tuple[int, str]]


@st.composite
def repositories(draw: st.DrawFn) -> tuple[list[Edges], list[Edges], frozenset[int], bool]:
    size = draw(st.integers(min_value=1, max_value=12))
    edge = st.tuples(st.integers(0, size - 1), st.sampled_from(STYLES))
    modules = [draw(st.lists(edge, max_size=4)) for _ in range(size)]
    flow_edge = st.tuples(st.integers(0, size - 1), st.sampled_from(STYLES[:-1]))
    flows = draw(st.lists(st.lists(flow_edge, max_size=3), min_size=1, max_size=5))
    changed = draw(st.frozensets(st.integers(0, size - 1)))
    namespace = draw(st.booleans())
    return modules, flows, changed, namespace


def _source(edges: Edges) -> str:
    return "".join(import_line(t, s, n) for n, (t, s) in enumerate(edges)) + "thing = 1\n"


def _reached(modules: list[Edges], start: Edges) -> set[int]:
    seen: set[int] = set()
    queue = deque(target for target, _ in start)
    while queue:
        current = queue.popleft()
        if current not in seen:
            seen.add(current)
            queue.extend(target for target, _ in modules[current])
    return seen


@settings(max_examples=60, deadline=None)
@given(repositories())
def test_affected_flows_match_a_bfs_of_the_generated_graph(
    repository: tuple[list[Edges], list[Edges], frozenset[int], bool],
) -> None:
    modules, flows, changed, namespace = repository
    with tempfile.TemporaryDirectory() as directory:
        files = {f"lib/m{i}.py": _source(edges) for i, edges in enumerate(modules)}
        files |= {f"flows/f{j}.py": _source(edges) + FLOW for j, edges in enumerate(flows)}
        if not namespace:
            files["lib/__init__.py"] = ""
        root = write(Path(directory), files)
        graph = ImportGraph(root, root)
        changed_files = {root / f"lib/m{i}.py" for i in changed}

        affected: set[int] = set()
        expected: set[int] = set()
        for j, edges in enumerate(flows):
            result = graph.reach(f"flows/f{j}.py:main")
            reached = _reached(modules, edges)
            assert not result.missing and result.dynamic == ()
            package = {"lib/__init__.py"} if reached and not namespace else set()
            assert names(root, result) == (
                {f"flows/f{j}.py"} | {f"lib/m{i}.py" for i in reached} | package
            )
            if result.files & changed_files:
                affected.add(j)
            if reached & changed:
                expected.add(j)
        assert affected == expected
        assert graph.parsed_files <= len(files)
        # the same answer through change detection: a change set of the modules, one
        # prefect.yaml entry per flow
        entries = [
            Entry(index=j, name=f"d{j}", entrypoint=f"flows/f{j}.py:main", config={})
            for j in range(len(flows))
        ]
        changeset = ChangeSet(
            base="0" * 40,
            head="1" * 40,
            changes=tuple(FileChange(status="modified", path=f"lib/m{i}.py") for i in changed),
        )
        found = changes_affected(
            entries,
            entries,
            changeset,
            project="",
            prefect_file="prefect.yaml",
            repo_root=root,
            reach=lambda entry: graph.reach(entry.entrypoint or ""),
            uses_image=lambda entry: False,
        )
        assert set(found.reasons) == expected
