"""Source roots as the project declares them, and the fallback for packages it does not declare.

A flow imports ``core.models.enums`` from ``libs/core/core/``: installed as a path dependency,
a workspace member, or by some script. Each declaration style gets a small real repository;
the roots must also reach FlowReader (parameter schemas) and ImportGraph (change detection).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flowdeploy import readfile
from flowdeploy import roots as roots_module
from flowdeploy.flows import FlowReader
from flowdeploy.imports import ImportGraph
from flowdeploy.roots import PackageLocator, requirement_path, source_roots
from flowdeploy.sources import SourceIndex
from support.files import write_files as write

ENUMS = """\
from enum import Enum


class Color(str, Enum):
    RED = "red"
    BLUE = "blue"
"""

FLOW = """\
from prefect import flow

from core.models.enums import Color


@flow
def etl(color: Color = Color.RED) -> None:
    pass
"""

CORE = {
    "libs/core/core/__init__.py": "",
    "libs/core/core/models/__init__.py": "",
    "libs/core/core/models/enums.py": ENUMS,
}


def rel(repo: Path, found: tuple[Path, ...]) -> list[str]:
    """Roots as POSIX paths relative to the repository, for readable assertions."""
    return [p.relative_to(repo).as_posix() for p in found]


def declared_roots(repo: Path, project: str = "") -> list[str]:
    """The roots after the ones every project has (itself, the repository, their src/)."""
    found = rel(repo, source_roots(repo / project, repo))
    fixed = {project or ".", ".", f"{project}/src" if project else "src"}
    return [r for r in found if r not in fixed]


# --- the fixed part -----------------------------------------------------------------------------


def test_project_then_repository_then_their_src(tmp_path: Path) -> None:
    repo = write(tmp_path, {"src/a/__init__.py": "", "projects/etl/src/b/__init__.py": ""})
    assert rel(repo, source_roots(repo / "projects/etl", repo)) == [
        "projects/etl",
        ".",
        "projects/etl/src",
        "src",
    ]
    assert rel(repo, source_roots(repo, repo)) == [".", "src"]


# --- each declaration style ---------------------------------------------------------------------


def test_poetry_path_dependencies_main_dev_and_groups(tmp_path: Path) -> None:
    repo = write(
        tmp_path,
        {
            "pyproject.toml": """
                [tool.poetry.dependencies]
                python = "^3.11"
                core = {path = "libs/core", develop = true}
                multi = [
                    {path = "libs/multi", markers = "sys_platform == 'linux'"},
                    {version = "1.0", markers = "sys_platform != 'linux'"},
                ]
                [tool.poetry.dev-dependencies]
                devtools = {path = "libs/devtools"}
                [tool.poetry.group.test.dependencies]
                fixtures = {path = "libs/fixtures"}
            """,
            **CORE,
            "libs/multi/multi/__init__.py": "",
            "libs/devtools/src/devtools/__init__.py": "",
            "libs/fixtures/fixtures.py": "",
        },
    )
    assert declared_roots(repo) == [
        "libs/core",
        "libs/multi",
        "libs/devtools/src",
        "libs/fixtures",
    ]


def test_poetry_path_dependency_with_dotdot_from_a_project(tmp_path: Path) -> None:
    repo = write(
        tmp_path,
        {
            "flows/pyproject.toml": '[tool.poetry.dependencies]\ncore = {path = "../libs/core"}\n',
            **CORE,
        },
    )
    assert declared_roots(repo, "flows") == ["libs/core"]


def test_poetry_packages_from_of_a_member(tmp_path: Path) -> None:
    repo = write(
        tmp_path,
        {
            "pyproject.toml": '[tool.poetry.dependencies]\ncore = {path = "libs/core"}\n',
            "libs/core/pyproject.toml": """
                [tool.poetry]
                packages = [{include = "core", from = "lib"}, {include = "extra"}]
            """,
            "libs/core/lib/core/__init__.py": "",
            "libs/core/extra/__init__.py": "",
        },
    )
    assert declared_roots(repo) == ["libs/core/lib", "libs/core"]


def test_uv_workspace_members_and_exclude(tmp_path: Path) -> None:
    repo = write(
        tmp_path,
        {
            "pyproject.toml": """
                [project]
                name = "flows"
                dependencies = ["core"]
                [tool.uv.sources]
                core = { workspace = true }
                [tool.uv.workspace]
                members = ["libs/*", "tools/cli"]
                exclude = ["libs/legacy"]
            """,
            **CORE,
            "libs/legacy/legacy/__init__.py": "",
            "libs/util/src/util/__init__.py": "",
            "libs/README.md": "not a member: a file\n",
            "tools/cli/cli.py": "",
        },
    )
    assert declared_roots(repo) == ["libs/core", "libs/util/src", "tools/cli"]


def test_uv_workspace_root_above_the_project(tmp_path: Path) -> None:
    repo = write(
        tmp_path,
        {
            "pyproject.toml": '[tool.uv.workspace]\nmembers = ["libs/*", "projects/*"]\n',
            "projects/etl/pyproject.toml": "[tool.uv.sources]\ncore = { workspace = true }\n",
            **CORE,
        },
    )
    assert declared_roots(repo, "projects/etl") == ["libs/core"]


def test_uv_path_sources_and_module_root(tmp_path: Path) -> None:
    repo = write(
        tmp_path,
        {
            "pyproject.toml": """
                [tool.uv.sources]
                core = { path = "libs/core", editable = true }
                other = [{ path = "libs/other", marker = "sys_platform == 'linux'" }]
            """,
            **CORE,
            "libs/other/pyproject.toml": '[tool.uv.build-backend]\nmodule-root = "python"\n',
            "libs/other/python/other/__init__.py": "",
        },
    )
    assert declared_roots(repo) == ["libs/core", "libs/other/python"]


@pytest.mark.parametrize(
    "requirement",
    [
        "core @ file:///${PROJECT_ROOT}/libs/core",
        "core @ file://${PROJECT_ROOT}/libs/core",
        "core @ file:libs/core",
        "core @ file:./libs/core ; python_version >= '3.10'",
        "core[extra] @ file:libs/core",
        "core @ file://{repo}/libs/core",
        "core @ file://localhost{repo}/libs/core",
    ],
)
def test_pep621_file_urls(tmp_path: Path, requirement: str) -> None:
    repo = tmp_path.resolve()
    requirement = requirement.replace("{repo}", str(repo))
    write(repo, {"pyproject.toml": f'[project]\ndependencies = ["{requirement}"]\n', **CORE})
    assert declared_roots(repo) == ["libs/core"]


def test_pep621_optional_dependencies_and_dependency_groups(tmp_path: Path) -> None:
    repo = write(
        tmp_path,
        {
            "pyproject.toml": """
                [project]
                dependencies = ["httpx>=0.27", "core @ https://example.com/core.tar.gz"]
                [project.optional-dependencies]
                extra = ["core @ file:libs/core"]
                [dependency-groups]
                dev = ["tools @ file:libs/tools", {include-group = "extra"}]
            """,
            **CORE,
            "libs/tools/tools/__init__.py": "",
        },
    )
    assert declared_roots(repo) == ["libs/core", "libs/tools"]


def test_setuptools_package_dir_and_find_where(tmp_path: Path) -> None:
    repo = write(
        tmp_path,
        {
            "pyproject.toml": """
                [tool.setuptools]
                package-dir = {"" = "lib", "named" = "vendor/named", "renamed" = "x/other"}
                [tool.setuptools.packages.find]
                where = ["python", "."]
            """,
            "lib/a/__init__.py": "",
            "vendor/named/__init__.py": "",
            "x/other/__init__.py": "",
            "python/b/__init__.py": "",
        },
    )
    # "renamed" -> x/other cannot be a sys.path entry: skipped
    assert declared_roots(repo) == ["lib", "vendor", "python"]


def test_setup_cfg_package_dir_and_find(tmp_path: Path) -> None:
    repo = write(
        tmp_path,
        {
            "pyproject.toml": '[tool.poetry.dependencies]\ncore = {path = "libs/core"}\n',
            "libs/core/setup.cfg": """
                [metadata]
                name = core
                [options]
                package_dir =
                    =source
                packages = find:
                install_requires =
                    httpx
                    helpers @ file:../helpers
                [options.packages.find]
                where = source
            """,
            "libs/core/source/core/__init__.py": "",
            "libs/helpers/helpers.py": "",
        },
    )
    assert declared_roots(repo) == ["libs/core/source", "libs/helpers"]


def test_setup_py_is_read_as_a_syntax_tree(tmp_path: Path) -> None:
    repo = write(
        tmp_path,
        {
            "requirements.txt": "httpx\n-e ./libs/core\n",
            "libs/core/setup.py": """
                import os
                from setuptools import find_packages, setup
                os.system("never run")
                setup(
                    name="core",
                    package_dir={"": "code"},
                    packages=find_packages(where="code"),
                )
            """,
            "libs/core/code/core/__init__.py": "",
        },
    )
    assert declared_roots(repo) == ["libs/core/code"]


def test_hatch_wheel_packages_and_sources(tmp_path: Path) -> None:
    repo = write(
        tmp_path,
        {
            "pyproject.toml": """
                [tool.uv.workspace]
                members = ["libs/a", "libs/b", "libs/c"]
            """,
            "libs/a/pyproject.toml": '[tool.hatch.build.targets.wheel]\npackages = ["pkgs/a"]\n',
            "libs/a/pkgs/a/__init__.py": "",
            "libs/b/pyproject.toml": '[tool.hatch.build.targets.wheel.sources]\n"lib/b" = "b"\n',
            "libs/b/lib/b/__init__.py": "",
            "libs/c/pyproject.toml": '[tool.hatch.build]\nsources = ["python"]\n',
            "libs/c/python/c/__init__.py": "",
        },
    )
    assert declared_roots(repo) == ["libs/a/pkgs", "libs/b/lib", "libs/c/python"]


def test_pdm_and_maturin(tmp_path: Path) -> None:
    repo = write(
        tmp_path,
        {
            "pyproject.toml": """
                [tool.pdm.dev-dependencies]
                dev = ["-e file:///${PROJECT_ROOT}/libs/core#egg=core", "pytest"]
                [tool.pdm.build]
                package-dir = "pysrc"
                [tool.maturin]
                python-source = "python"
            """,
            **CORE,
            "pysrc/app/__init__.py": "",
            "python/ext/__init__.py": "",
        },
    )
    assert declared_roots(repo) == ["pysrc", "python", "libs/core"]


def test_requirements_txt_editable_and_plain_paths(tmp_path: Path) -> None:
    repo = write(
        tmp_path,
        {
            "requirements.txt": """
                # comment
                -r other.txt
                httpx>=0.27
                -e ./libs/core  # the shared models
                ./libs/extra[fast]
                --editable=libs/third
            """,
            **CORE,
            "libs/extra/extra.py": "",
            "libs/third/third/__init__.py": "",
        },
    )
    assert declared_roots(repo) == ["libs/core", "libs/extra", "libs/third"]


def test_members_of_members_are_followed_once(tmp_path: Path) -> None:
    repo = write(
        tmp_path,
        {
            "pyproject.toml": '[tool.poetry.dependencies]\nmid = {path = "libs/mid"}\n',
            "libs/mid/pyproject.toml": '[tool.poetry.dependencies]\ncore = {path = "../core"}\n'
            'loop = {path = "."}\nback = {path = "../.."}\n',
            "libs/mid/mid/__init__.py": "",
            **CORE,
        },
    )
    assert declared_roots(repo) == ["libs/mid", "libs/core"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-e ./libs/core", "libs/core"),
        ("--editable ../x", "../x"),
        ("core @ file:///${PROJECT_ROOT}/libs/core", "libs/core"),
        ("core @ file:///${PROJECT_ROOT}", "."),
        ("core @ file://host/share/core", None),
        ("core @ https://example.com/core.zip", None),
        ("core>=1", None),
        ("git+https://example.com/core.git", None),
        ("./libs/core[a,b]", "libs/core"),
        ("core @ file:libs/my%20core", "libs/my core"),
        ("", None),
    ],
)
def test_requirement_path(text: str, expected: str | None) -> None:
    base = Path("/repo")
    found = requirement_path(text, base)
    assert found == (None if expected is None else base / expected)


# --- escapes, malformed files -------------------------------------------------------------------


def test_roots_leaving_the_repository_are_refused(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside", {"core/core/__init__.py": "", "evil/evil.py": ""})
    repo = write(
        tmp_path / "repo",
        {
            "pyproject.toml": f"""
                [tool.poetry.dependencies]
                a = {{path = "../outside/core"}}
                b = {{path = "{outside}/evil"}}
                c = {{path = "libs/link"}}
                [tool.uv.workspace]
                members = ["../outside/*", "/etc", "libs/*"]
                [tool.setuptools]
                package-dir = {{"" = "../outside"}}
                [project]
                dependencies = ["d @ file://{outside}/core", "e @ file:../outside/evil"]
            """,
            "libs/ok/ok.py": "",
        },
    )
    (repo / "libs" / "link").symlink_to(outside / "core")
    found = source_roots(repo, repo)
    assert all(p.is_relative_to(repo) for p in found), found
    assert rel(repo, found) == [".", "libs/ok"]


def test_config_files_leaving_the_repository_are_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = write(tmp_path / "outside", {"pyproject.toml": "[tool.uv.workspace]\n"})
    repo = write(tmp_path / "repo", {})
    (repo / "pyproject.toml").symlink_to(outside / "pyproject.toml")
    (repo / "setup.cfg").symlink_to("/etc/passwd")
    read: list[Path] = []
    real = readfile.read_bounded

    def recording(path: Path, limit: int) -> bytes:
        read.append(path)
        return real(path, limit)

    monkeypatch.setattr(readfile, "read_bounded", recording)
    assert rel(repo, source_roots(repo, repo)) == ["."]
    assert read and all(p.is_relative_to(repo) for p in read), read
    assert repo / "pyproject.toml" not in read and repo / "setup.cfg" not in read


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("pyproject.toml", "[tool.poetry.dependencies\ncore = {path = 'libs/core'}\n"),
        ("pyproject.toml", "a = " + "[" * 5000 + "]" * 5000 + "\n"),
        ("pyproject.toml", "[tool.poetry]\ndependencies = 3\ngroup = 'x'\npackages = 'core'\n"),
        ("pyproject.toml", "[tool.uv.workspace]\nmembers = [3, '', '/']\nexclude = 'x'\n"),
        ("pyproject.toml", "[tool.uv]\nsources = [1]\nworkspace = {members = 'libs/*'}\n"),
        ("pyproject.toml", "[tool.setuptools]\npackage-dir = {'' = 3}\npackages = ['a']\n"),
        ("pyproject.toml", "[tool.hatch.build.targets.wheel]\nsources = {'' = 1}\n"),
        ("pyproject.toml", "[project]\ndependencies = 'core @ file:libs/core'\n"),
        ("setup.cfg", "[options\npackage_dir = =src\n"),
        ("setup.cfg", "[options]\npackage_dir = =src\npackage_dir = =lib\n"),
        ("setup.cfg", "no section header\n"),
        ("setup.py", "setup(package_dir={'': 'src'}\n"),
        ("setup.py", "x = " + "(" * 1000 + ")" * 1000 + "\n"),
        ("requirements.txt", "-e\n@\nfile:\n-e file://\n"),
    ],
)
def test_malformed_files_are_skipped(tmp_path: Path, name: str, content: str) -> None:
    repo = write(tmp_path, {name: content, **CORE})
    found = rel(repo, source_roots(repo, repo))
    assert found[0] == "."


@pytest.mark.parametrize("name", ["pyproject.toml", "setup.cfg", "setup.py", "requirements.txt"])
def test_unreadable_files_are_skipped(tmp_path: Path, name: str) -> None:
    repo = write(tmp_path, {"a/x": ""})
    (repo / "a").rename(repo / "dir")
    (repo / "dir").rename(repo / name)  # a directory in the file's place
    assert rel(repo, source_roots(repo, repo)) == ["."]
    (repo / name / "x").unlink()
    (repo / name).rmdir()
    os.mkfifo(repo / name)  # would block a plain open()
    assert rel(repo, source_roots(repo, repo)) == ["."]
    (repo / name).unlink()
    (repo / name).write_bytes(b"\xff\xfe\x00garbage")
    assert rel(repo, source_roots(repo, repo)) == ["."]
    with (repo / name).open("wb") as handle:
        handle.truncate(roots_module.MAX_CONFIG_BYTES + 1)
    assert rel(repo, source_roots(repo, repo)) == ["."]


def test_member_count_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a chain of members, each naming the next: stops after MAX_PROJECTS directories
    monkeypatch.setattr(roots_module, "MAX_PROJECTS", 5)
    files = {
        f"m{i}/pyproject.toml": f'[tool.poetry.dependencies]\nn = {{path = "../m{i + 1}"}}\n'
        for i in range(20)
    }
    files["pyproject.toml"] = '[tool.poetry.dependencies]\nn = {path = "m0"}\n'
    repo = write(tmp_path, files)
    assert declared_roots(repo) == ["m0", "m1", "m2", "m3"]


# --- the fallback -------------------------------------------------------------------------------


def test_locator_finds_a_package_folder_anywhere(tmp_path: Path) -> None:
    repo = write(tmp_path, {**CORE, "scripts/tool.py": "", "flows/etl.py": FLOW})
    locator = PackageLocator(repo)
    assert locator.holder("core") == repo / "libs/core"
    assert locator.holder("tool") == repo / "scripts"
    assert locator.holder("models") is None  # a subpackage, not top-level
    assert locator.holder("enums") is None
    assert locator.holder("missing") is None
    assert locator.complete


def test_locator_ambiguity_rule(tmp_path: Path) -> None:
    repo = write(
        tmp_path,
        {
            "tests/core/__init__.py": "",  # tests mirror package names: ranked last
            "libs/zeta/core/__init__.py": "",
            "libs/alpha/core/__init__.py": "",
            "deep/er/still/core/__init__.py": "",
            "docs/shared.py": "",
            "b/shared.py": "",
            "a/shared/__init__.py": "",
        },
    )
    locator = PackageLocator(repo)
    assert locator.holder("core") == repo / "libs/alpha"
    assert locator.holder("shared") == repo / "a"


def test_locator_only_in_tests_still_finds_it(tmp_path: Path) -> None:
    repo = write(tmp_path, {"tests/helpers/__init__.py": ""})
    assert PackageLocator(repo).holder("helpers") == repo / "tests"


def test_locator_skips_environments_builds_and_hidden_folders(tmp_path: Path) -> None:
    repo = write(
        tmp_path,
        {
            ".venv/lib/python3.11/site-packages/a/__init__.py": "",
            "venv/b/__init__.py": "",
            "myenv/pyvenv.cfg": "home = /usr/bin\n",
            "myenv/lib/c/__init__.py": "",
            "node_modules/d/__init__.py": "",
            "vendor/site-packages/e/__init__.py": "",
            "build/lib/f/__init__.py": "",
            "dist/g.py": "",
            ".hidden/h/__init__.py": "",
            "x/__pycache__/i.py": "",
        },
    )
    locator = PackageLocator(repo)
    assert [n for n in "abcdefghi" if locator.holder(n) is not None] == []


def test_locator_does_not_follow_symlinked_folders(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside", {"pkg/ext/__init__.py": ""})
    repo = write(tmp_path / "repo", {"libs/.keep": ""})
    (repo / "libs" / "linked").symlink_to(outside / "pkg")
    (repo / "loop").symlink_to(repo)
    assert PackageLocator(repo).holder("ext") is None


def test_locator_walks_once_and_is_bounded(tmp_path: Path) -> None:
    files = {f"d{i}/sub{j}/m{i}_{j}.py": "" for i in range(30) for j in range(10)}
    repo = write(tmp_path, files)
    locator = PackageLocator(repo)
    assert locator.visited == 0  # lazy: nothing walked before the first lookup
    assert locator.holder("m3_4") == repo / "d3/sub4"
    visited = locator.visited
    assert visited == 1 + 30 + 300
    assert locator.holder("m7_1") == repo / "d7/sub1"
    assert locator.holder("nothing") is None
    assert locator.visited == visited  # every later lookup is a dictionary read

    capped = PackageLocator(repo, max_dirs=40)
    assert capped.holder("m0_0") is not None  # breadth first: shallow folders come first
    assert capped.holder("m29_9") is None
    assert capped.visited == 40 and not capped.complete

    by_entries = PackageLocator(repo, max_entries=50)
    by_entries.holder("x")
    assert not by_entries.complete


# --- wired into FlowReader and ImportGraph -------------------------------------------------------

LAYOUTS = {
    "poetry": {"pyproject.toml": '[tool.poetry.dependencies]\ncore = {path = "libs/core"}\n'},
    "uv-workspace": {"pyproject.toml": '[tool.uv.workspace]\nmembers = ["libs/*"]\n'},
    "undeclared": {},
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_schema_and_import_graph_see_the_same_package(tmp_path: Path, layout: str) -> None:
    repo = write(tmp_path, {**LAYOUTS[layout], **CORE, "flows/etl.py": FLOW})
    info = FlowReader(repo, repo).read("flows/etl.py:etl")
    schema = info.parameter_openapi_schema
    assert schema["properties"]["color"]["$ref"] == "#/definitions/Color"
    assert schema["definitions"]["Color"]["enum"] == ["red", "blue"]
    assert not [w for w in info.warnings if "outside the repository" in w.message]

    reach = ImportGraph(repo, repo).reach("flows/etl.py:etl")
    assert repo / "libs/core/core/models/enums.py" in reach.files
    assert repo / "libs/core/core/__init__.py" in reach.files
    assert not {"core", "core.models.enums"} & reach.unresolved


def test_module_entrypoint_in_a_member(tmp_path: Path) -> None:
    repo = write(
        tmp_path,
        {
            **LAYOUTS["poetry"],
            **CORE,
            "libs/core/core/flows.py": FLOW.replace("core.models.enums", ".models.enums"),
        },
    )
    assert FlowReader(repo, repo).read("core.flows:etl").name == "etl"
    assert repo / "libs/core/core/flows.py" in ImportGraph(repo, repo).reach("core.flows:etl").files


def test_really_external_module_is_still_external(tmp_path: Path) -> None:
    repo = write(tmp_path, {"flows/etl.py": FLOW.replace("core.models", "thirdparty.models")})
    info = FlowReader(repo, repo).read("flows/etl.py:etl")
    assert any("defined outside the repository" in w.message for w in info.warnings)
    assert "thirdparty.models.enums" in ImportGraph(repo, repo).reach("flows/etl.py:etl").unresolved


def test_declared_roots_win_over_the_fallback(tmp_path: Path) -> None:
    repo = write(
        tmp_path,
        {
            **LAYOUTS["poetry"],
            **CORE,
            "a/core/__init__.py": "",  # shallower, but not what the project installs
            "a/core/models/__init__.py": "",
            "a/core/models/enums.py": ENUMS.replace('"red"', '"crimson"'),
            "flows/etl.py": FLOW,
        },
    )
    schema = FlowReader(repo, repo).read("flows/etl.py:etl").parameter_openapi_schema
    assert schema["definitions"]["Color"]["enum"] == ["red", "blue"]


def test_fallback_regular_package_wins_over_a_namespace_folder(tmp_path: Path) -> None:
    repo = write(tmp_path, {**CORE, "core/data.csv": "a,b\n", "flows/etl.py": FLOW})
    index = SourceIndex([repo], locate=PackageLocator(repo).holder)
    module = index.find_module("core.models.enums")
    assert module is not None and module.path == repo / "libs/core/core/models/enums.py"
    assert SourceIndex([repo]).find_module("core.models.enums") is None


def test_fallback_never_reads_outside(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside", {"enums.py": ENUMS})
    repo = write(tmp_path / "repo", {**CORE, "flows/etl.py": FLOW})
    (repo / "libs/core/core/models/enums.py").unlink()
    (repo / "libs/core/core/models/enums.py").symlink_to(outside / "enums.py")
    index = SourceIndex([repo], locate=PackageLocator(repo).holder)
    assert index.find_module("core.models.enums") is None
    assert index.outside("core.models.enums") == outside / "enums.py"


def test_one_locator_shared_by_reader_and_graph_walks_once(tmp_path: Path) -> None:
    repo = write(tmp_path, {**CORE, "flows/etl.py": FLOW})
    locator = PackageLocator(repo)
    FlowReader(repo, repo, locator=locator).read("flows/etl.py:etl")
    visited = locator.visited
    reach = ImportGraph(repo, repo, locator=locator).reach("flows/etl.py:etl")
    assert repo / "libs/core/core/models/enums.py" in reach.files
    assert locator.visited == visited > 0
