"""FlowReader: flows read from source must match what Prefect's loader gives by importing."""

from __future__ import annotations

import ast
import hashlib
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from flowdeploy.errors import ConfigError, Location
from flowdeploy.flows import FlowInfo, FlowReader
from flowdeploy.sources import Definition, External, ModuleRef, SourceIndex, Unresolved, Value
from support.files import write_files as write
from support.reference import line_of, prefect_reference

FIXTURES = Path(__file__).parent / "flow_sources"


def prefect_error(entrypoint: str, cwd: Path) -> BaseException:
    with pytest.raises(Exception) as caught:  # any loader error will do
        prefect_reference(entrypoint, cwd)
    return caught.value


def as_dict(info: FlowInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "description": info.description,
        "version": info.version,
        "schema": info.parameter_openapi_schema,
    }


@pytest.fixture(scope="module")
def reader() -> FlowReader:
    return FlowReader(FIXTURES, FIXTURES)


FORMS = [
    "fdx_forms.py:bare_flow",
    "fdx_forms.py:called_flow",
    "fdx_forms.py:explicit",
    "fdx_forms.py:constant_name",
    "fdx_forms.py:fstring_name",
    "fdx_forms.py:imported_constant",
    "fdx_forms.py:empty_settings",
    "fdx_forms.py:async_flow",
    "fdx_forms.py:called",
    "fdx_forms.py:named",
    "fdx_forms.py:klass",
    "fdx_forms.py:renamed",
    "fdx_forms.py:chained",
    "fdx_forms.py:from_package",
    "fdx_forms.py:via_alias",
    "fdx_forms.py:imported_flow",
    "fdx_forms.py:Holder.method",
    "fdx_forms.py:Holder.static",
    "fdx_pkg.flows:shared_flow",
    "fdx_pkg.flows.shared_flow",
    "fdx_scripts/etl_script.py:etl",
    "fdx_types.py:documented",
]


@pytest.mark.parametrize("entrypoint", FORMS)
def test_flow_matches_prefect(entrypoint: str, reader: FlowReader) -> None:
    assert as_dict(reader.read(entrypoint)) == prefect_reference(entrypoint, FIXTURES)


def test_flow_info_fields(reader: FlowReader) -> None:
    info = reader.read("fdx_forms.py:bare_flow")
    assert info.function == "bare_flow"
    assert info.entrypoint == "fdx_forms.py:bare_flow"
    assert info.source_path == (FIXTURES / "fdx_forms.py").resolve()
    assert info.line == line_of(FIXTURES / "fdx_forms.py", "def bare_flow")  # not the decorator
    assert info.is_async is False
    assert info.description == "Bare decorator."
    assert info.warnings == ()
    assert reader.read("fdx_forms.py:async_flow").is_async is True


def test_imported_flow_is_read_from_its_own_file(reader: FlowReader) -> None:
    info = reader.read("fdx_forms.py:imported_flow")
    defining = (FIXTURES / "fdx_pkg" / "flows.py").resolve()
    assert info.source_path == defining
    assert info.function == "shared_flow"
    assert info.name == "shared"
    assert info.version == hashlib.md5(defining.read_bytes()).hexdigest()


def test_flow_info_is_frozen_and_strict(reader: FlowReader) -> None:
    info = reader.read("fdx_forms.py:bare_flow")
    with pytest.raises(ValidationError):
        info.name = "other"
    with pytest.raises(ValidationError):
        FlowInfo(**{**info.model_dump(), "unexpected": 1})


def test_reading_twice_returns_the_cached_result(reader: FlowReader) -> None:
    assert reader.read("fdx_forms.py:named") is reader.read("fdx_forms.py:named")


# --- errors ---------------------------------------------------------------------------------

ERRORS = [
    # entrypoint, words in `what`, file of `where`, text on the line of `where` (None: line 7)
    ("fdx_forms.py:missing", "'missing' not found", "prefect.yaml", None),
    ("fdx_forms.py:main_only", "'main_only' not found", "prefect.yaml", None),
    ("fdx_forms.py:undecorated", "is not a flow", "fdx_forms.py", "def undecorated"),
    ("fdx_forms.py:a_task", "is not a flow", "fdx_forms.py", "def a_task"),
    ("fdx_forms.py:NOT_A_FLOW", "is not a flow", "fdx_forms.py", "NOT_A_FLOW = "),
    ("no_such_file.py:f", "does not exist", "prefect.yaml", None),
    ("fdx_nope.module:f", "was not found", "prefect.yaml", None),
]


@pytest.mark.parametrize(("entrypoint", "what", "file", "text"), ERRORS)
def test_errors_say_what_why_fix_where(
    entrypoint: str, what: str, file: str, text: str | None, reader: FlowReader
) -> None:
    line = 7 if text is None else line_of(FIXTURES / file, text)
    with pytest.raises(ConfigError) as caught:
        reader.read(entrypoint, where=Location("prefect.yaml", 7))
    error = caught.value
    assert what in error.what
    assert error.why and error.fix
    assert error.where is not None
    assert Path(error.where.path).name == file
    assert error.where.line == line
    assert error.exit_code == 2
    # and Prefect cannot load these either
    prefect_error(entrypoint, FIXTURES)


@pytest.mark.parametrize(
    "entrypoint",
    ["no_colon_or_dot", "flows/etl.py", ":fn", "etl.py:", "bad-name:fn", "pkg.mod:fn-x", "a b.py"],
)
def test_bad_entrypoint_format(entrypoint: str, reader: FlowReader) -> None:
    with pytest.raises(ConfigError) as caught:
        reader.read(entrypoint, where=Location("prefect.yaml", 3))
    assert "is not valid" in caught.value.what
    assert caught.value.where == Location("prefect.yaml", 3)


@pytest.mark.parametrize(
    ("source", "what", "line"),
    [
        ("@flow(name='a/b')\ndef f():\n    pass\n", "invalid character", 4),
        ("@flow\ndef f(wait_for: int = 1):\n    pass\n", "wait_for", 4),
        ("@flow\ndef f(_hidden: int = 1):\n    pass\n", "_hidden", 4),
        ("@flow\ndef f(model_config: int = 1):\n    pass\n", "model_config", 4),
        ("import os\n@flow(name=os.environ['N'])\ndef f():\n    pass\n", "not a constant", 4),
        ("@flow(name=3)\ndef f():\n    pass\n", "must be a string", 3),
    ],
)
def test_flows_prefect_cannot_load_are_errors(
    tmp_path: Path, source: str, what: str, line: int
) -> None:
    write(tmp_path, {"flow.py": "from prefect import flow\n\n" + source})
    with pytest.raises(ConfigError) as caught:
        FlowReader(tmp_path, tmp_path).read("flow.py:f")
    assert what in caught.value.render()
    assert caught.value.where == Location((tmp_path / "flow.py").resolve(), line)
    prefect_error("flow.py:f", tmp_path)


def test_syntax_error_is_a_config_error_at_its_line(tmp_path: Path) -> None:
    write(tmp_path, {"flow.py": "from prefect import flow\n\n@flow\ndef broken(:\n    pass\n"})
    with pytest.raises(ConfigError) as caught:
        FlowReader(tmp_path, tmp_path).read("flow.py:broken")
    assert caught.value.what.startswith("cannot parse")
    assert "syntax error" in caught.value.why
    assert caught.value.where == Location(tmp_path / "flow.py", 4)
    prefect_error("flow.py:broken", tmp_path)


def test_validate_parameters_false_allows_model_config(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "flow.py": """
                from prefect import flow

                @flow(validate_parameters=False)
                def f(model_config: int = 1):
                    pass
            """
        },
    )
    info = FlowReader(tmp_path, tmp_path).read("flow.py:f")
    assert as_dict(info) == prefect_reference("flow.py:f", tmp_path)


def test_settings_that_are_not_constants_warn_and_use_defaults(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "flow.py": """
                import os
                from prefect import flow

                @flow(version=os.environ.get("SHA"), description=os.environ.get("D"))
                def f():
                    '''The docstring.'''
            """
        },
    )
    info = FlowReader(tmp_path, tmp_path).read("flow.py:f")
    assert info.version == hashlib.md5((tmp_path / "flow.py").read_bytes()).hexdigest()
    assert info.description == "The docstring."
    assert [w.where.line for w in info.warnings if w.where] == [5, 5]
    assert sorted(w.message.split()[1] for w in info.warnings) == ["description", "version"]


def test_other_decorators_warn(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "flow.py": """
                import functools
                from prefect import flow

                def logged(fn):
                    @functools.wraps(fn)
                    def inner(*args, **kwargs):
                        return fn(*args, **kwargs)
                    return inner

                @flow
                @logged
                def f(a: int = 1):
                    pass
            """
        },
    )
    info = FlowReader(tmp_path, tmp_path).read("flow.py:f")
    assert as_dict(info) == prefect_reference("flow.py:f", tmp_path)
    [warning] = info.warnings
    assert "@logged" in warning.message
    assert warning.where is not None and warning.where.line == 12


def test_project_directory_comes_before_repository_root(tmp_path: Path) -> None:
    """Like Prefect run from the prefect.yaml directory: a module there shadows the root's."""
    write(
        tmp_path,
        {
            "common.py": "NAME = 'from-root'\nONLY_ROOT = 'root-only'\n",
            "project/common.py": "NAME = 'from-project'\n",
            "project/flow.py": """
                from prefect import flow
                from common import NAME

                @flow(name=NAME)
                def f():
                    pass
            """,
            "project/other.py": """
                from prefect import flow
                import shared.names as names

                @flow(name=names.VALUE)
                def g():
                    pass
            """,
            "shared/names.py": "VALUE = 'repo-root-package'\n",
        },
    )
    reader = FlowReader(tmp_path / "project", tmp_path)
    assert reader.read("flow.py:f").name == "from-project"
    assert reader.read("other.py:g").name == "repo-root-package"


# --- performance: parse once ----------------------------------------------------------------


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    parsed: list[str] = []
    real_parse = ast.parse

    def counting(source: Any, filename: str = "<unknown>", *args: Any, **kwargs: Any) -> Any:
        if filename != "<unknown>":
            parsed.append(filename)
        return real_parse(source, filename, *args, **kwargs)

    monkeypatch.setattr(ast, "parse", counting)
    return parsed


def test_each_file_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = _count_parses(monkeypatch)
    reader = FlowReader(FIXTURES, FIXTURES)
    for entrypoint in FORMS:
        reader.read(entrypoint)
    reader.read("fdx_models_flow.py:models")
    reader.read("fdx_models_flow.py:collisions")
    assert parsed, "the counter must see the reader's parses"
    assert len(parsed) == len(set(parsed))
    assert reader.index.parsed_files == len(parsed)


def test_hundreds_of_flows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {
        "lib/__init__.py": "",
        "lib/models.py": """
            from enum import Enum
            from typing import Optional
            from pydantic import BaseModel

            class Kind(str, Enum):
                A = "a"
                B = "b"

            class Item(BaseModel):
                name: str
                kind: Kind = Kind.A
                children: list["Item"] = []
                parent: Optional["Item"] = None
        """,
    }
    for f in range(30):
        body = [
            "from typing import Optional",
            "from prefect import flow",
            "from lib.models import Item, Kind",
        ]
        for n in range(10):
            body += [
                "",
                f"@flow(name='flow-{f}-{n}')",
                f"def flow_{n}(item: Item, kinds: list[Kind] = [], limit: Optional[int] = {n}):",
                f"    '''Flow {n}.\n\n    Args:\n        limit: how many\n    '''",
            ]
        files[f"flows/file_{f}.py"] = "\n".join(body) + "\n"
    write(tmp_path, files)
    parsed = _count_parses(monkeypatch)
    reader = FlowReader(tmp_path, tmp_path)
    start = time.perf_counter()
    infos = [reader.read(f"flows/file_{f}.py:flow_{n}") for f in range(30) for n in range(10)]
    elapsed = time.perf_counter() - start
    assert len({info.name for info in infos}) == 300
    assert len(parsed) == 31  # 30 flow files and the models module; lib/__init__ is empty
    assert elapsed < 10.0, f"reading 300 flows took {elapsed:.1f}s"
    schema = infos[0].parameter_openapi_schema
    assert set(schema["definitions"]) == {"Item", "Kind"}
    assert schema["properties"]["limit"]["description"] == "how many"


# --- no user code runs, no prefect import ---------------------------------------------------


def test_reading_never_runs_user_code_nor_imports_prefect(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    write(
        tmp_path,
        {
            "flow.py": f"""
                import pathlib
                pathlib.Path({str(marker)!r}).write_text("user code ran")
                raise SystemExit("importing this module is not allowed")

                from prefect import flow

                @flow(name="static")
                def f(a: int = 1):
                    pass
            """,
        },
    )
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from flowdeploy.flows import FlowReader
        info = FlowReader(Path({str(tmp_path)!r}), Path({str(tmp_path)!r})).read("flow.py:f")
        assert info.name == "static", info.name
        loaded = [m for m in sys.modules if m.split(".")[0] in ("prefect", "flow")]
        assert not loaded, loaded
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.stdout.strip() == "ok", done.stderr
    assert not marker.exists()


# --- SourceIndex: modules and names ---------------------------------------------------------


def test_source_index_resolves_imports(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "app/__init__.py": "from .core.models import Model as Exported\n",
            "app/core/__init__.py": "",
            "app/core/models.py": """
                import datetime as dt
                import typing
                from typing import TYPE_CHECKING
                if TYPE_CHECKING:
                    from decimal import Decimal
                class Model:
                    pass
                LIMIT = 3
                Alias = Model
            """,
            "app/use.py": """
                import app.core.models as m
                import app.core
                from . import core
                from .core import models
                from .. import nothing
                from app import Exported
                import os.path
            """,
            "nspkg/sub/leaf.py": "X = 1\n",
        },
    )
    index = SourceIndex([tmp_path])
    use = index.find_module("app.use")
    models = index.find_module("app.core.models")
    assert use is not None and models is not None
    assert models.path == (tmp_path / "app/core/models.py").resolve()

    def resolve(name: str) -> object:
        return index.follow(index.resolve_name(use, name))

    assert resolve("m") == ModuleRef(models)
    exported = resolve("Exported")
    assert isinstance(exported, Definition) and exported.node.name == "Model"
    assert isinstance(resolve("models"), ModuleRef)
    assert isinstance(resolve("core"), ModuleRef)
    assert resolve("os") == External("os")
    assert resolve("len") == External("builtins.len")
    assert isinstance(resolve("nothing"), Unresolved)
    assert isinstance(resolve("undefined_name"), Unresolved)

    expr = ast.parse("m.dt.datetime", mode="eval").body
    assert index.resolve_expr(use, expr) == External("datetime.datetime")
    expr = ast.parse("models.typing.Optional", mode="eval").body
    assert index.resolve_expr(use, expr) == External("typing.Optional")
    limit = index.resolve_name(models, "LIMIT")
    assert isinstance(limit, Value) and limit.line == 9  # the source starts with a blank line
    alias = index.follow(index.resolve_name(models, "Alias"))
    assert isinstance(alias, Definition) and alias.node.name == "Model"
    # names imported only for type checkers do not exist when the module runs
    assert index.is_runtime_name(models, "Model")
    assert not index.is_runtime_name(models, "Decimal")
    assert index.is_runtime_name(models, "int")
    # namespace packages (no __init__.py) and reverse lookup
    leaf = index.find_module("nspkg.sub.leaf")
    assert leaf is not None and not leaf.is_package
    namespace = index.find_module("nspkg.sub")
    assert namespace is not None and namespace.is_namespace
    assert index.module_for_file(tmp_path / "app/core/models.py") == models
    assert index.module_for_file(tmp_path / "app/__init__.py") == index.find_module("app")
    # the standard library is never taken from the repository
    write(tmp_path, {"typing.py": "Optional = 1\n"})
    assert SourceIndex([tmp_path]).find_module("typing") is None


# --- a flow decorator bound differently in alternative branches ----------------------------

# Each compat module binds ``flow`` (and ``Flow``) one way or another; under ``prefect deploy``
# the Prefect branch runs, so the decorated function is a flow (genomehubs/data, issue 11).
COMPAT_MODULES = {
    "if-else": """
        import os
        if os.environ.get("SKIP_PREFECT") == "true":
            def flow(*_, **__):
                return lambda x: x
        else:
            from prefect import flow
    """,
    "try-except-import-error": """
        try:
            from fdx_no_such_package import flow
        except ImportError:
            from prefect import flow
    """,
    "try-else": """
        try:
            import fdx_no_such_package
        except ImportError:
            from prefect import flow
        else:
            flow = fdx_no_such_package.flow
    """,
    "elif-chain": """
        import os
        import sys
        if sys.platform == "fdx-never":
            def flow(fn):
                return fn
        elif os.environ.get("FDX_NO_FLOW"):
            flow = None
        elif os.environ.get("FDX_OTHER"):
            from lib.dummy import flow
        else:
            import prefect as _prefect
            flow = _prefect.flow
    """,
    "nested-if": """
        import os
        if os.environ.get("SKIP_PREFECT"):
            def flow(fn):
                return fn
        else:
            if os.environ.get("FDX_OLD"):
                from lib.dummy import flow
            else:
                from prefect.flows import flow
    """,
}


@pytest.mark.parametrize("compat", COMPAT_MODULES.values(), ids=list(COMPAT_MODULES))
def test_flow_bound_in_alternative_branches_is_prefects(tmp_path: Path, compat: str) -> None:
    write(
        tmp_path,
        {
            "lib/__init__.py": "",
            "lib/dummy.py": "def flow(fn):\n    return fn\n",
            "lib/compat.py": compat,
            "flows/reexport.py": """
                from lib.compat import flow

                @flow
                def reexported(n: int = 1):
                    '''Doc.'''

                @flow(name="called", retries=2)
                def called(n: int = 1):
                    '''Called.'''

                def plain(n: int = 1):
                    '''Plain.'''

                built = flow(plain, name="built")
            """,
        },
    )
    reader = FlowReader(tmp_path, tmp_path)
    for name in ("reexported", "called", "built"):
        entrypoint = f"flows/reexport.py:{name}"
        assert as_dict(reader.read(entrypoint)) == prefect_reference(entrypoint, tmp_path)


def test_flow_class_and_module_bound_in_alternative_branches(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "compat.py": """
                try:
                    from fdx_no_such_package import Flow
                    import fdx_no_such_package as pf
                except ImportError:
                    from prefect import Flow
                    import prefect as pf
            """,
            "flow.py": """
                import compat
                from compat import Flow

                def plain(n: int = 1):
                    '''Plain.'''

                built = Flow(plain, name="built")

                @compat.pf.flow
                def through_module(n: int = 1):
                    '''Through the module.'''
            """,
        },
    )
    reader = FlowReader(tmp_path, tmp_path)
    for entrypoint in ("flow.py:built", "flow.py:through_module"):
        assert as_dict(reader.read(entrypoint)) == prefect_reference(entrypoint, tmp_path)


def test_a_later_binding_is_not_an_alternative(tmp_path: Path) -> None:
    """Only branches are alternatives: a ``def flow`` after the import replaces it for good."""
    write(
        tmp_path,
        {
            "flow.py": """
                from prefect import flow
                def flow(fn):
                    return fn

                @flow
                def f():
                    '''Doc.'''
            """,
        },
    )
    with pytest.raises(ConfigError) as caught:
        FlowReader(tmp_path, tmp_path).read("flow.py:f")
    assert caught.value.why == "'flow' is flow.py:3 def flow, not prefect.flow"
    prefect_error("flow.py:f", tmp_path)


def test_a_decorator_that_is_not_prefects_says_what_it_is(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "lib/__init__.py": "",
            "lib/compat.py": """
                import os
                if os.environ.get("SKIP_PREFECT") == "true":
                    def flow(*_, **__):
                        return lambda x: x
                else:
                    from lib.other import flow
            """,
            "lib/other.py": "flow = lambda fn: fn\n",
            "flows/f.py": """
                import functools
                from lib.compat import flow

                @flow
                def one():
                    '''Doc.'''

                @functools.lru_cache
                @flow
                def two():
                    '''Doc.'''

                @undefined_decorator
                def three():
                    '''Doc.'''
            """,
        },
    )
    reader = FlowReader(tmp_path, tmp_path)
    why = {}
    for name in ("one", "two", "three"):
        entrypoint = f"flows/f.py:{name}"
        with pytest.raises(ConfigError) as caught:
            reader.read(entrypoint)
        assert caught.value.what == f"function {name!r} of entrypoint {entrypoint!r} is not a flow"
        path = (tmp_path / "flows/f.py").resolve()
        assert caught.value.where == Location(path, line_of(path, f"def {name}"))
        why[name] = caught.value.why
        prefect_error(entrypoint, tmp_path)
    assert why["one"] == "'flow' is lib/compat.py:4 def flow, not prefect.flow"
    assert why["two"] == (
        "none of its decorators is prefect.flow: 'functools.lru_cache' is functools.lru_cache; "
        "'flow' is lib/compat.py:4 def flow"
    )
    assert why["three"] == (
        "'undefined_decorator' is unresolved ('undefined_decorator' is not defined in f), "
        "not prefect.flow"
    )


def test_source_index_possible_bindings(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "mod.py": """
                import os
                from typing import TYPE_CHECKING
                from prefect import flow
                if os.environ.get("A"):
                    def flow(fn):
                        return fn
                if TYPE_CHECKING:
                    from prefect import task
                else:
                    task = None
                try:
                    from fast import loads
                except ImportError:
                    from json import loads
                finally:
                    loads = None
                if os.environ.get("B"):
                    import json as codec
                else:
                    import pickle as codec
            """,
        },
    )
    index = SourceIndex([tmp_path])
    mod = index.find_module("mod")
    assert mod is not None

    def shown(found: object) -> str:
        if isinstance(found, External):
            return found.qualname
        if isinstance(found, Definition):
            return f"def {found.node.name}"
        return type(found).__name__

    def possible(text: str) -> list[str]:
        return [shown(f) for f in index.possible(mod, ast.parse(text, mode="eval").body)]

    # the chosen binding first (the first branch), then what an ``if`` without ``else`` keeps
    assert possible("flow") == ["def flow", "prefect.flow"]
    chosen = index.follow(index.resolve_name(mod, "flow"))
    assert index.possible(mod, ast.Name("flow"))[0] == chosen
    assert possible("task") == ["Value"]  # only type checkers see the import
    assert possible("loads") == ["Value"]  # ``finally`` always runs
    assert possible("codec.dumps") == ["json.dumps", "pickle.dumps"]
    assert possible("os.path") == ["os.path"]


def test_a_failure_in_the_source_is_read_once(tmp_path: Path) -> None:
    write(tmp_path, {"flow.py": "def helper():\n    pass\n"})
    reader = FlowReader(tmp_path, tmp_path)
    errors = []
    for line in (3, 9):
        with pytest.raises(ConfigError) as caught:
            reader.read("flow.py:helper", where=Location("prefect.yaml", line))
        errors.append(caught.value)
    # one error, so that it can be reported once for every deployment using the entrypoint
    assert errors[0] is errors[1]
    assert errors[0].where == Location((tmp_path / "flow.py").resolve(), 1)
    # an error at the deployment's own line is that deployment's
    for line in (3, 9):
        with pytest.raises(ConfigError) as caught:
            reader.read("flow.py:missing", where=Location("prefect.yaml", line))
        assert caught.value.where == Location("prefect.yaml", line)
