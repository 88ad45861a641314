"""Hostile or broken files: every one is a ConfigError (exit 2) at the line to fix, with a fix,
in bounded time and memory; nothing outside the repository is ever read."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flowdeploy import imports as imports_module
from flowdeploy import sources as sources_module
from flowdeploy.errors import EXIT_CONFIG, ConfigError, ConfigErrors
from flowdeploy.flows import FlowReader
from flowdeploy.imports import ImportGraph
from flowdeploy.settings import prefect_files
from flowdeploy.sources import SourceIndex
from flowdeploy.yamlfile import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_NODES,
    YamlDocument,
    load_yaml,
    no_deployments,
    safe_data,
)

FLOW = """\
from prefect import flow


@flow
def etl(n: int = 1) -> None:
    pass
"""

ONE_GIB = 1024**3


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(textwrap.dedent(content))
    return path


def refused(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_yaml(path, "prefect.yaml")
    error = caught.value
    assert error.exit_code == EXIT_CONFIG
    for one in error.errors if isinstance(error, ConfigErrors) else [error]:
        assert one.fix, one.render()
        assert one.where is not None, one.render()
    return error


def refused_text(tmp_path: Path, content: str | bytes) -> ConfigError:
    return refused(write(tmp_path / "prefect.yaml", content))


# --- bounded: a subprocess with 1 GiB of address space and a few seconds -------------------------

BOUNDED = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
from pathlib import Path
from flowdeploy.errors import ConfigError
from flowdeploy.yamlfile import load_yaml
try:
    load_yaml(Path(sys.argv[1]), "prefect.yaml")
except ConfigError as exc:
    print(exc.render())
    sys.exit(exc.exit_code)
print("loaded")
"""


def load_bounded(path: Path, timeout: float = 10.0) -> str:
    """The rendered error of loading ``path`` in a child limited to 1 GiB and ``timeout``."""
    done = subprocess.run(
        [sys.executable, "-c", BOUNDED.format(limit=ONE_GIB), str(path)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == EXIT_CONFIG, done.stdout + done.stderr
    assert "fix:" in done.stdout
    return done.stdout


def billion_laughs(levels: int = 12) -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "deployments: []\n" + "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_before_expanding(tmp_path: Path) -> None:
    out = load_bounded(write(tmp_path / "prefect.yaml", billion_laughs()), timeout=5)
    assert f"expands to more than {MAX_NODES:,} values" in out
    assert "prefect.yaml:7:" in out  # one of the *a4 aliases in a5 passes the limit
    assert "billion laughs" in out


def test_alias_bomb_of_mappings_and_merge_keys(tmp_path: Path) -> None:
    lines = ["m0: &m0 {" + ", ".join(f"k{j}: v" for j in range(10)) + "}"]
    for i in range(1, 10):
        lines.append(f"m{i}: &m{i} {{" + ", ".join(f"k{j}: *m{i - 1}" for j in range(10)) + "}")
    lines.append("top: {<<: *m9}")
    out = load_bounded(write(tmp_path / "prefect.yaml", "\n".join(lines) + "\n"), timeout=5)
    assert "expands to more than" in out


def test_prefect_yaml_symlinked_to_dev_zero(tmp_path: Path) -> None:
    link = tmp_path / "prefect.yaml"
    link.symlink_to("/dev/zero")
    out = load_bounded(link, timeout=5)
    assert "is not a regular file" in out
    assert "character device" in out and "/dev/zero" in out


def test_prefect_yaml_that_is_a_fifo_does_not_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "prefect.yaml"
    os.mkfifo(fifo)
    out = load_bounded(fifo, timeout=5)
    assert "named pipe" in out


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 5000 + "]" * 5000 + "\n",
        "a: " + "{k: " * 5000 + "v" + "}" * 5000 + "\n",
        # block styles indent one more space per level: 3,000 levels is 4.5 MB
        "".join(" " * i + "k:\n" for i in range(3000)) + " " * 3000 + "v\n",
        "".join(" " * i + "-\n" for i in range(3000)) + " " * 3000 + "v\n",
    ],
    ids=["flow-sequences", "flow-mappings", "block-mappings", "block-sequences"],
)
def test_deep_nesting_is_refused_without_recursion(tmp_path: Path, text: str) -> None:
    out = load_bounded(write(tmp_path / "prefect.yaml", text), timeout=10)
    assert f"nests deeper than {MAX_DEPTH} levels" in out
    assert "RecursionError" not in out


def test_nesting_through_aliases_counts(tmp_path: Path) -> None:
    # each anchor nests the previous one: 300 levels deep once expanded
    lines = ["a0: &a0 {x: 1}"] + [f"a{i}: &a{i} {{y: [*a{i - 1}]}}" for i in range(1, 300)]
    error = refused_text(tmp_path, "\n".join(lines) + "\n")
    assert "nests deeper than" in error.what
    assert error.where is not None and error.where.line is not None and error.where.line < 100


def test_file_at_the_depth_limit_loads(tmp_path: Path) -> None:
    depth = MAX_DEPTH - 1  # the top-level mapping is one level
    text = "a: " + "[" * depth + "]" * depth + "\n"
    doc = load_yaml(write(tmp_path / "prefect.yaml", text))
    assert isinstance(doc.data, dict)


# --- what is read: regular UTF-8 text files of bounded size --------------------------------------


def test_directory(tmp_path: Path) -> None:
    (tmp_path / "prefect.yaml").mkdir()
    error = refused(tmp_path / "prefect.yaml")
    assert "is not a regular file" in error.what
    assert "a directory" in error.why
    assert "--prefect-file prefect.yaml/prefect.yaml" in error.fix


def test_too_large_file_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "prefect.yaml"
    with big.open("wb") as handle:  # sparse: no disk used
        handle.truncate(MAX_BYTES + 1)
    error = refused(big)
    assert "too large" in error.what


def test_missing_file(tmp_path: Path) -> None:
    error = refused(tmp_path / "prefect.yaml")
    assert "does not exist" in error.what
    assert "--project-dir" in error.fix


def test_binary_file(tmp_path: Path) -> None:
    error = refused_text(tmp_path, b"deployments:\n\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert "is a binary file" in error.what
    assert error.where is not None and error.where.line == 4
    assert "NUL byte at line 4, column 1" in error.why


def test_latin1_file_names_line_and_column(tmp_path: Path) -> None:
    text = "deployments:\n  - name: a\n    description: caf\xe9 au lait\n".encode("latin-1")
    error = refused_text(tmp_path, text)
    assert "is not UTF-8" in error.what
    assert error.where is not None and error.where.line == 3
    assert "0xe9 at line 3, column 21" in error.why
    assert "iconv" in error.fix


def test_control_character(tmp_path: Path) -> None:
    error = refused_text(tmp_path, "deployments:\n  - name: a\x07b\n")
    assert "character YAML does not allow" in error.what
    assert error.where is not None and error.where.line == 2
    assert "U+0007 at line 2, column 12" in error.why


def test_utf8_with_bom_and_non_ascii_loads(tmp_path: Path) -> None:
    path = write(tmp_path / "prefect.yaml", "\ufeffdeployments:\n  - name: caf\u00e9 \u2615\n")
    assert load_yaml(path).data == {"deployments": [{"name": "caf\u00e9 \u2615"}]}


# --- anchors and keys --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: &a [1, *a]\n", 1),
        ("deployments:\n  - &d\n    name: x\n    again: *d\n", 4),
        ("a: &a\n  b:\n    c: *a\n", 3),
    ],
)
def test_self_referencing_anchor(tmp_path: Path, text: str, line: int) -> None:
    error = refused_text(tmp_path, text)
    assert "refers to the node that contains it" in error.what
    assert error.where is not None and error.where.line == line


def test_duplicate_key_names_both_lines(tmp_path: Path) -> None:
    error = refused_text(
        tmp_path,
        """\
        deployments:
          - name: nightly
            entrypoint: flows/etl.py:etl
            name: hourly
        """,
    )
    assert error.what == "key 'name' is given twice in the same mapping (lines 2 and 4)"
    assert error.where is not None and error.where.line == 4
    assert "keeps the second value" in error.why


def test_duplicate_top_level_deployments(tmp_path: Path) -> None:
    error = refused_text(
        tmp_path,
        """\
        deployments:
          - name: a
            entrypoint: flows/etl.py:etl
        pull: []
        deployments:
          - name: b
            entrypoint: flows/etl.py:etl
        """,
    )
    assert "'deployments' is given twice" in error.what and "lines 1 and 5" in error.what


def test_every_duplicate_is_reported(tmp_path: Path) -> None:
    error = refused_text(
        tmp_path,
        """\
        deployments:
          - name: a
            tags: [x]
            tags: [y]
            work_pool: {name: p, name: q}
        """,
    )
    assert isinstance(error, ConfigErrors)
    assert [e.where.line for e in error.errors if e.where] == [4, 5]
    assert "(line 5)" in error.errors[1].what


@pytest.mark.parametrize(
    "text",
    [
        "base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  x: 3\n",
        "a: &a {x: 1}\nb: &b {x: 2, y: 3}\nd:\n  <<: [*a, *b]\n  z: 4\n",
        "a: &a {x: 1}\nb: &b {y: 2}\nd:\n  <<: *a\n  <<: *b\n",
        "a: {'1': x, 1: y}\n",
    ],
    ids=["override", "merge-list", "two-merges", "str-and-int"],
)
def test_merge_keys_and_distinct_keys_stay_legal(tmp_path: Path, text: str) -> None:
    load_yaml(write(tmp_path / "prefect.yaml", text))


def test_merged_value_keeps_pyyaml_semantics(tmp_path: Path) -> None:
    doc = load_yaml(
        write(tmp_path / "prefect.yaml", "p: &p {name: pool, x: 1}\nd:\n  <<: *p\n  x: 2\n")
    )
    assert doc.data["d"] == {"name": "pool", "x": 2}
    assert doc.lines[("d", "x")] == 4 and doc.lines[("d", "name")] == 1


def test_unresolved_merge_conflict(tmp_path: Path) -> None:
    error = refused_text(
        tmp_path,
        """\
        deployments:
          - name: a
        <<<<<<< HEAD
            entrypoint: flows/etl.py:etl
        =======
            entrypoint: flows/etl.py:other
        >>>>>>> feature
        """,
    )
    assert error.what == "unresolved merge conflict at line 3"
    assert error.where is not None and error.where.line == 3
    assert "delete the marker lines" in error.fix


@pytest.mark.parametrize(
    ("line", "fix"),
    [
        ("    image: {{ build-image.image }}", 'image: "{{ build-image.image }}"'),
        ("    source: {{ $SOURCE }}", 'source: "{{ $SOURCE }}"'),
        ("    - {{ prefect.variables.tag }}", '- "{{ prefect.variables.tag }}"'),
        ("    tags: [{{ $TAG }}, nightly]", 'tags: ["{{ $TAG }}", nightly]'),
        ("    parameters: {n: {{ $COUNT }}}", 'parameters: {n: "{{ $COUNT }}"}'),
        ("    name: {{ $NAME }}-etl", 'name: "{{ $NAME }}-etl"'),
        ('    script: {{ $CMD }} --flag "x"', "script: '{{ $CMD }} --flag \"x\"'"),
    ],
)
def test_unquoted_template_says_quote_it(tmp_path: Path, line: str, fix: str) -> None:
    error = refused_text(tmp_path, "deployments:\n  - name: a\n  - x:\n" + line + "\n")
    assert "unquoted {{ … }} template" in error.what
    assert error.where is not None and error.where.line == 4
    assert error.fix == f"quote the value: {fix}"


@pytest.mark.parametrize(
    ("marker", "line"),
    [("<<<<<<< HEAD", 3), (">>>>>>> feature/x", 4), ("=======", 3), ("||||||| base", 4)],
)
def test_any_conflict_marker_is_named_at_its_line(tmp_path: Path, marker: str, line: int) -> None:
    head = "deployments:\n  - name: a\n"
    body = "    tags: [a]\n" if line == 4 else ""
    error = refused_text(tmp_path, head + body + marker + "\n    entrypoint: f.py:f\n")
    assert error.what == f"unresolved merge conflict at line {line}"
    assert error.where is not None and error.where.line == line
    assert error.fix.startswith("resolve the conflict")


# --- syntax errors: the line a user would point at -------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "fix"),
    [
        pytest.param(
            "deployments:\n  - name: a\n    entrypoint: x.py:f\n   tags: [a]\n",
            4,
            "indent this line",
            id="bad-indentation",
        ),
        pytest.param(
            "deployments:\n  - name: a\n     entrypoint: x.py:f\n",
            3,
            "indentation",
            id="over-indented-key",
        ),
        pytest.param("deployments:\n  - name: a\n\tentrypoint: x.py:f\n", 3, "spaces", id="tab"),
        pytest.param(
            'deployments:\n  - name: "a\n    entrypoint: x.py:f\n  - name: b\n',
            2,
            "close the quote opened at line 2",
            id="unclosed-quote",
        ),
        pytest.param(
            "deployments:\n  - name: a\n    entrypoint x.py:f\n    tags: [a]\n",
            3,
            "missing ':'",
            id="missing-colon",
        ),
        pytest.param(
            "name: x\ndeployments\n  - name: a\n", 2, "missing ':'", id="missing-colon-top"
        ),
        pytest.param(
            "deployments:\n  - name: a\n    tags: [a, b\n    entrypoint: x.py:f\n",
            3,
            "close the bracket opened at line 3",
            id="unclosed-bracket",
        ),
        pytest.param(
            "deployments:\n  - name: a\n    work_pool: *nope\n",
            3,
            "define the anchor",
            id="undefined-alias",
        ),
        pytest.param(
            "deployments:\n  - name: a\n  name: b\n", 3, "indent this line", id="list-then-key"
        ),
        pytest.param("deployments:\n  - name: a: b\n", 2, "quote the value", id="colon-in-value"),
        pytest.param(
            "deployments:\n  - name: a\n    description: @team\n",
            3,
            "quote the value",
            id="reserved-character",
        ),
        pytest.param("a: 1\n---\nb: 2\n", 2, "keep one document", id="two-documents"),
        pytest.param(
            "deployments:\n  - name: !!python/object:os.system x\n",
            2,
            "remove the tag",
            id="python-tag",
        ),
        pytest.param(
            "deployments:\n  - name: a\n    x: 1\n\n# trailing comment\n\n   y: 2\n",
            7,
            "indent this line",
            id="after-blank-and-comment",
        ),
    ],
)
def test_syntax_error_points_at_the_offending_line(
    tmp_path: Path, text: str, line: int, fix: str
) -> None:
    error = refused_text(tmp_path, text)
    assert error.where is not None
    assert error.where.line == line, error.render()
    assert fix in error.fix, error.render()


# --- no deployments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "why", "line"),
    [
        ("", "empty or holds only comments", 1),
        ("# nothing yet\n\n# really\n", "empty or holds only comments", 1),
        ("name: project\n", "no 'deployments' key", 1),
        ("name: project\ndeployments:\n", "'deployments' list is empty", 2),
        ("name: project\ndeployments: []\n", "'deployments' list is empty", 2),
    ],
)
def test_no_deployments_is_said(tmp_path: Path, text: str, why: str, line: int) -> None:
    doc = load_yaml(write(tmp_path / "prefect.yaml", text), "prefect.yaml")
    problem = no_deployments(doc)
    assert problem is not None
    assert problem.what == "prefect.yaml declares no deployments"
    assert why in problem.why
    assert problem.where is not None and problem.where.line == line
    assert "deployments:" in problem.fix


def test_deployments_present_or_malformed_is_not_no_deployments() -> None:
    assert no_deployments(YamlDocument(Path("p.yaml"), {"deployments": [{"name": "a"}]})) is None
    assert no_deployments(YamlDocument(Path("p.yaml"), {"deployments": "oops"})) is None
    assert no_deployments(YamlDocument(Path("p.yaml"), ["not", "a", "mapping"])) is None


def test_safe_data_of_hostile_bytes_is_none() -> None:
    assert safe_data(billion_laughs().encode()) is None
    assert safe_data("a: &a [*a]\n") is None
    assert safe_data("a: " + "[" * 5000 + "]" * 5000) is None
    assert safe_data(b"a: 1\na: 2\n") is None
    assert safe_data(b"a: [1, 2]\n") == {"a": [1, 2]}


# --- every read stays inside the repository ---------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    write(root / "flows" / "etl.py", FLOW)
    write(tmp_path / "outside" / "flow.py", FLOW)
    return root


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every file read as Python source, by either reader."""
    paths: list[Path] = []
    original = sources_module.read_source

    def recording(path: Path, shown: Path | str | None = None) -> bytes:
        paths.append(Path(path).resolve())
        return original(path, shown)

    monkeypatch.setattr(sources_module, "read_source", recording)
    monkeypatch.setattr(imports_module, "read_source", recording)
    return paths


def read_error(repo: Path, entrypoint: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        FlowReader(repo, repo).read(entrypoint)
    assert caught.value.fix
    return caught.value


def test_absolute_entrypoint(repo: Path, opened: list[Path]) -> None:
    error = read_error(repo, f"{repo / 'flows' / 'etl.py'}:etl")
    assert "is an absolute path" in error.what
    assert "relative to the project directory (where prefect deploy runs)" in error.fix
    assert opened == []


def test_dotdot_entrypoint_leaving_the_repository(repo: Path, opened: list[Path]) -> None:
    error = read_error(repo, "../outside/flow.py:etl")
    assert "resolves outside the repository" in error.what
    assert "outside/flow.py" in error.why
    assert opened == []


def test_system_module_by_dotdot_is_never_parsed(repo: Path, opened: list[Path]) -> None:
    os_py = Path(os.__file__).resolve()
    up = "../" * len(repo.resolve().parts)
    error = read_error(repo, f"{up}{str(os_py).lstrip('/')}:getenv")
    assert "resolves outside the repository" in error.what
    assert os_py not in opened and opened == []
    graph = ImportGraph(repo, repo)
    assert graph.reach(f"{up}{str(os_py).lstrip('/')}:getenv").missing
    assert opened == []


def test_dotdot_that_stays_inside_is_fine(repo: Path) -> None:
    write(repo / "projects" / "a" / "prefect.yaml", "deployments: []\n")
    info = FlowReader(repo / "projects" / "a", repo).read("../../flows/etl.py:etl")
    assert info.name == "etl"


def test_symlinked_flow_file_leaving_the_repository(repo: Path, opened: list[Path]) -> None:
    (repo / "flows" / "linked.py").symlink_to(repo.parent / "outside" / "flow.py")
    error = read_error(repo, "flows/linked.py:etl")
    assert "resolves outside the repository" in error.what
    assert opened == []


def test_symlinked_flow_file_inside_the_repository(repo: Path) -> None:
    (repo / "flows" / "alias.py").symlink_to(repo / "flows" / "etl.py")
    assert FlowReader(repo, repo).read("flows/alias.py:etl").name == "etl"


def test_module_entrypoint_through_symlinked_package(repo: Path, opened: list[Path]) -> None:
    write(repo.parent / "outside" / "pkg" / "__init__.py", "")
    write(repo.parent / "outside" / "pkg" / "jobs.py", FLOW)
    (repo / "pkg").symlink_to(repo.parent / "outside" / "pkg")
    error = read_error(repo, "pkg.jobs:etl")
    assert "resolves outside the repository" in error.what
    assert opened == []


def test_imports_through_symlinks_are_external_and_never_read(
    repo: Path, opened: list[Path]
) -> None:
    outside = repo.parent / "outside"
    write(outside / "shared.py", "import os\n")
    write(outside / "extpkg" / "__init__.py", "")
    write(outside / "extpkg" / "mod.py", "")
    (repo / "shared.py").symlink_to(outside / "shared.py")
    (repo / "extpkg").symlink_to(outside / "extpkg")
    write(
        repo / "flows" / "uses.py",
        "import shared\nfrom extpkg import mod\nfrom prefect import flow\n\n\n"
        "@flow\ndef f():\n    pass\n",
    )
    reach = ImportGraph(repo, repo).reach("flows/uses.py:f")
    assert reach.files == {(repo / "flows" / "uses.py").resolve()}
    assert {"shared", "extpkg"} <= reach.unresolved
    assert FlowReader(repo, repo).read("flows/uses.py:f").name == "f"
    assert all(p.is_relative_to(repo.resolve()) for p in opened), opened


def test_source_index_refuses_to_parse_outside(repo: Path) -> None:
    index = SourceIndex([repo])
    with pytest.raises(ConfigError, match="resolves outside the repository"):
        index.parse(repo.parent / "outside" / "flow.py")


def test_flow_file_that_is_a_fifo_does_not_hang(repo: Path) -> None:
    os.mkfifo(repo / "flows" / "pipe.py")
    error = read_error(repo, "flows/pipe.py:etl")
    assert "is not a regular file" in error.what


def test_too_large_flow_file(repo: Path) -> None:
    with (repo / "flows" / "huge.py").open("wb") as handle:
        handle.truncate(sources_module.MAX_SOURCE_BYTES + 1)
    error = read_error(repo, "flows/huge.py:etl")
    assert "too large" in error.what


def test_deeply_nested_python_is_a_config_error(repo: Path) -> None:
    write(repo / "flows" / "deep.py", "x = " + "+".join(["1"] * 200_000) + "\n")
    error = read_error(repo, "flows/deep.py:etl")
    assert "nests too deeply" in error.why


def git_init(path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(path)], check=True, capture_output=True)


def test_prefect_yaml_symlinked_outside_the_repository(repo: Path) -> None:
    write(repo.parent / "outside" / "prefect.yaml", "deployments: []\n")
    (repo / "prefect.yaml").symlink_to(repo.parent / "outside" / "prefect.yaml")
    with pytest.raises(ConfigError, match="resolves outside the repository") as caught:
        prefect_files(str(repo), None)
    assert caught.value.fix
    git_init(repo)
    with pytest.raises(ConfigError, match="resolves outside the repository"):
        prefect_files(str(repo), None)


def test_prefect_file_outside_the_project_repository(repo: Path) -> None:
    git_init(repo)
    write(repo.parent / "outside" / "prefect.yaml", "deployments: []\n")
    with pytest.raises(ConfigError, match="resolves outside the repository"):
        prefect_files(str(repo), "../outside/prefect.yaml")
    with pytest.raises(ConfigError, match="resolves outside the repository"):
        prefect_files(str(repo), str(repo.parent / "outside" / "prefect.yaml"))
    (repo / "projects" / "a").mkdir(parents=True)
    (repo / "projects" / "a" / "prefect.yaml").symlink_to(repo.parent / "outside" / "prefect.yaml")
    with pytest.raises(ConfigError, match="resolves outside the repository"):
        prefect_files(str(repo), "projects/*/prefect.yaml")


def test_prefect_files_inside_are_unchanged(repo: Path) -> None:
    write(repo / "prefect.yaml", "deployments: []\n")
    (repo / "link.yaml").symlink_to(repo / "prefect.yaml")
    assert prefect_files(str(repo), None) == (repo / "prefect.yaml",)
    assert prefect_files(str(repo), "link.yaml") == (repo / "link.yaml",)
    assert prefect_files(None, str(repo / "prefect.yaml")) == (repo / "prefect.yaml",)


def test_project_loader_refuses_a_prefect_yaml_outside_its_repository(repo: Path) -> None:
    """The base commit's tree is loaded without the settings check: the loader checks too."""
    from flowdeploy import templating as tpl
    from flowdeploy.project import load_project

    class NoLookups:
        def variable(self, name: str) -> object:
            return tpl.MISSING

        def block(self, type_slug: str, name: str) -> None:
            return None

    write(repo.parent / "outside" / "prefect.yaml", "deployments: []\n")
    (repo / "prefect.yaml").symlink_to(repo.parent / "outside" / "prefect.yaml")
    with pytest.raises(ConfigError, match="resolves outside the repository"):
        load_project(repo / "prefect.yaml", repo_root=repo, lookups=NoLookups(), environ={})
    with pytest.raises(ConfigError, match="resolves outside the repository"):
        load_yaml(repo / "prefect.yaml", inside=repo)
    assert load_yaml(repo / "prefect.yaml").data == {"deployments": []}
