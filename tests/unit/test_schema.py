"""Differential tests: flowdeploy's parameter schema vs what Prefect computes by importing.

The reference is exactly what ``prefect deploy`` sends: ``RunnerDeployment`` stores
``parameter_schema(flow)`` (``prefect.utilities.callables``) and sends
``.model_dump(exclude_unset=True)`` as ``parameter_openapi_schema``.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prefect.utilities.callables import parameter_docstrings as prefect_docstrings
from pydantic import TypeAdapter

from flowdeploy import schema as fd_schema
from flowdeploy.flows import FlowReader
from flowdeploy.schema import encode_default, parameter_docstrings
from support.files import write_files as write
from support.reference import line_of, prefect_reference

FIXTURES = Path(__file__).parent / "flow_sources"


def flowdeploy_result(
    entrypoint: str, cwd: Path, reader: FlowReader | None = None
) -> dict[str, Any]:
    info = (reader or FlowReader(cwd, cwd)).read(entrypoint)
    return {
        "name": info.name,
        "description": info.description,
        "version": info.version,
        "schema": info.parameter_openapi_schema,
    }


def assert_same(entrypoint: str, cwd: Path, reader: FlowReader | None = None) -> dict[str, Any]:
    expected = prefect_reference(entrypoint, cwd)
    actual = flowdeploy_result(entrypoint, cwd, reader)
    assert json.dumps(actual, indent=1, sort_keys=True) == json.dumps(
        expected, indent=1, sort_keys=True
    )
    assert actual == expected
    return actual


@pytest.fixture(scope="module")
def reader() -> FlowReader:
    """One reader for all fixture flows, as a real run reads many flows of one repository."""
    return FlowReader(FIXTURES, FIXTURES)


FIXTURE_FLOWS = [
    "fdx_types.py:scalars",
    "fdx_types.py:collections",
    "fdx_types.py:unions",
    "fdx_types.py:literals",
    "fdx_types.py:enums",
    "fdx_types.py:temporal",
    "fdx_types.py:constants",
    "fdx_types.py:variadic",
    "fdx_types.py:untyped_variadic",
    "fdx_types.py:positional_only",
    "fdx_types.py:nothing",
    "fdx_types.py:documented",
    "fdx_types.py:numpy_documented",
    "fdx_types.py:two_arg_sections",
    "fdx_annotated.py:annotated",
    "fdx_annotated.py:field_defaults",
    "fdx_models_flow.py:models",
    "fdx_models_flow.py:collisions",
    "fdx_models_flow.py:shapes",
    "fdx_future.py:future_ok",
    "fdx_future.py:future_type_checking",
    "fdx_future.py:future_return_only",
    "fdx_strings.py:strings_ok",
    "fdx_strings.py:strings_fail",
    "fdx_scripts/etl_script.py:etl",
]


@pytest.mark.parametrize("entrypoint", FIXTURE_FLOWS)
def test_fixture_flow_matches_prefect(entrypoint: str, reader: FlowReader) -> None:
    assert_same(entrypoint, FIXTURES, reader)


def test_fixtures_exercise_definitions_and_collisions(reader: FlowReader) -> None:
    """Guard against a vacuous pass: the reference really has nested and colliding models."""
    models = flowdeploy_result("fdx_models_flow.py:models", FIXTURES, reader)["schema"]
    assert set(models["definitions"]) == {
        "Address",
        "Customer",
        "Line",
        "Order",
        "Priority",
        "Status",
    }
    collisions = flowdeploy_result("fdx_models_flow.py:collisions", FIXTURES, reader)["schema"]
    assert set(collisions["definitions"]) == {
        "Same",
        "fdx_pkg__models__Address",
        "fdx_pkg__other__models__Address",
    }


def test_unevaluable_annotations_warn_with_location(reader: FlowReader) -> None:
    info = reader.read("fdx_future.py:future_type_checking")
    [warning] = info.warnings
    assert "'Decimal'" in warning.message
    assert warning.where is not None
    assert Path(warning.where.path).name == "fdx_future.py"
    assert warning.where.line == line_of(FIXTURES / "fdx_future.py", "def future_type_checking")
    # Prefect keeps the strings: only what its own module can resolve gets a type
    props = info.parameter_openapi_schema["properties"]
    assert props["a"]["type"] == "integer"
    assert "type" not in props["b"] and "anyOf" not in props["b"]
    assert props["e"]["items"] == {"type": "integer"}


def test_nested_forward_reference_warns(reader: FlowReader) -> None:
    info = reader.read("fdx_strings.py:strings_ok")
    line = line_of(FIXTURES / "fdx_strings.py", 'c: Optional["M"]')
    assert [w.where.line for w in info.warnings if w.where] == [line]
    assert "'M'" in info.warnings[0].message


def test_third_party_types(reader: FlowReader) -> None:
    """A plain third-party class matches Prefect; a third-party enum is a known difference."""
    expected = prefect_reference("fdx_thirdparty.py:thirdparty", FIXTURES)["schema"]
    info = reader.read("fdx_thirdparty.py:thirdparty")
    actual = info.parameter_openapi_schema
    assert actual["properties"]["client"] == expected["properties"]["client"]
    assert actual["properties"]["n"] == expected["properties"]["n"]
    # Prefect knows StateType is an enum; from source flowdeploy cannot, and says so
    assert "$ref" in expected["properties"]["state"]
    assert actual["properties"]["state"] == {"default": None, "position": 1, "title": "state"}
    messages = {(w.where.line if w.where else None): w.message for w in info.warnings}
    line = line_of(FIXTURES / "fdx_thirdparty.py", "state: StateType")
    assert "StateType" in messages[line]


# --- inline sources --------------------------------------------------------------------------


def test_models_in_a_package_with_relative_imports_and_project_subdir(tmp_path: Path) -> None:
    """prefect.yaml in a subdirectory; models come from a package at the repository root."""
    repo = write(
        tmp_path,
        {
            "lib/__init__.py": "from .types import *\n",
            "lib/types.py": """
                from enum import Enum
                from pydantic import BaseModel
                from .base import Base

                __all__ = ["Mode", "Settings"]

                class Mode(str, Enum):
                    A = "a"

                class Settings(Base):
                    mode: Mode = Mode.A
                    extra: dict[str, list[int]] = {}
            """,
            "lib/base.py": """
                from pydantic import BaseModel, Field

                class Base(BaseModel):
                    '''Base settings.'''
                    name: str = Field("n", description="the name")
            """,
            "project/flows/etl.py": """
                from typing import Optional
                import lib
                from prefect import flow

                @flow
                def etl(settings: lib.Settings, mode: Optional[lib.Mode] = None):
                    pass
            """,
        },
    )
    project = repo / "project"
    reader = FlowReader(project, repo)
    # Prefect imports from the working directory: run it where the package is importable
    expected = prefect_reference(str(project / "flows/etl.py") + ":etl", repo)
    actual = flowdeploy_result("flows/etl.py:etl", project, reader)
    assert actual["schema"] == expected["schema"]
    assert set(actual["schema"]["definitions"]) == {"Mode", "Settings"}
    assert actual["name"] == expected["name"] == "etl"


def test_dotted_entrypoint(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/jobs.py": """
                from prefect import flow

                @flow(name="dotted")
                def job(when: "datetime.date" = None, n: int = 2):
                    '''Dotted.'''

                import datetime
            """,
        },
    )
    assert_same("pkg.jobs:job", tmp_path)


def test_namespace_package_and_module_alias(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "ns/inner/defs.py": """
                from enum import IntEnum
                class Size(IntEnum):
                    S = 1
                    L = 2
            """,
            "flow.py": """
                import ns.inner.defs as d
                from ns.inner import defs
                from prefect import flow

                @flow
                def f(a: d.Size = d.Size.L, b: list[defs.Size] = []):
                    pass
            """,
        },
    )
    result = assert_same("flow.py:f", tmp_path)
    assert result["schema"]["definitions"]["Size"]["enum"] == [1, 2]


def test_star_imports(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "flow.py": """
                from typing import *
                from datetime import *
                from prefect import flow

                @flow
                def f(a: Optional[List[int]] = None, b: date = date(2020, 1, 1),
                      c: Dict[str, Any] = {}):
                    pass
            """,
        },
    )
    result = assert_same("flow.py:f", tmp_path)
    assert result["schema"]["properties"]["b"]["format"] == "date"


def test_aliases_newtype_typevar(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "aliases.py": """
                from typing import NewType, Optional, TypeVar, Union
                Number = Union[int, float]
                MaybeNumbers = Optional[list[Number]]
                UserId = NewType("UserId", int)
                T = TypeVar("T")
                B = TypeVar("B", bound=str)
            """,
            "flow.py": """
                from prefect import flow
                from aliases import MaybeNumbers, Number, UserId, T, B

                @flow
                def f(a: Number = 1, b: MaybeNumbers = None, c: UserId = 3, d: T = None,
                      e: B = "x"):
                    pass
            """,
        },
    )
    assert_same("flow.py:f", tmp_path)


def test_subclass_with_the_name_of_its_imported_base(tmp_path: Path) -> None:
    """``class Model(Model)``: the base is the import, bound before the class statement."""
    write(
        tmp_path,
        {
            "lib.py": """
                from pydantic import BaseModel
                class Model(BaseModel):
                    a: int = 1
            """,
            "flow.py": """
                from lib import Model
                from prefect import flow

                class Model(Model):
                    b: str = "x"

                @flow
                def f(m: Model = None):
                    pass
            """,
        },
    )
    result = assert_same("flow.py:f", tmp_path)
    assert list(result["schema"]["definitions"]["Model"]["properties"]) == ["a", "b"]


def test_recursive_and_invalid_models(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "flow.py": """
                from typing import Callable, Optional, Union
                from pydantic import BaseModel, ConfigDict

                class Node(BaseModel):
                    value: int = 0
                    children: list["Node"] = []

                class WithCallable(BaseModel):
                    model_config = ConfigDict(arbitrary_types_allowed=True)
                    fn: Callable[[int], int] = None

                class Plain:
                    pass

                from prefect import flow

                @flow
                def f(
                    tree: Node,
                    bad: WithCallable = None,
                    either: Union[WithCallable, int] = 1,
                    plain: Plain = None,
                    opt: Optional[Node] = None,
                ):
                    pass
            """,
        },
    )
    result = assert_same("flow.py:f", tmp_path)
    assert result["schema"]["properties"]["bad"] == {"default": None, "position": 1, "title": "bad"}


def test_undocumented_default_falls_back_to_null_with_warning(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "flow.py": """
                import os
                from prefect import flow

                @flow
                def f(path: str = os.getcwd(), n: int = 1):
                    pass
            """,
        },
    )
    info = FlowReader(tmp_path, tmp_path).read("flow.py:f")
    assert info.parameter_openapi_schema["properties"]["path"]["default"] is None
    [warning] = info.warnings
    assert warning.where is not None and warning.where.line == 6
    assert "path" in warning.message


def test_pydantic_and_stdlib_type_tables(tmp_path: Path) -> None:
    """Every type flowdeploy knows by name gives pydantic's schema, bare and parametrized."""
    names = sorted(fd_schema._SCALARS) + sorted(fd_schema._ANY_TYPES - {"typing.Type"})
    generics = sorted(fd_schema._LISTS | fd_schema._SETS | fd_schema._DICTS | fd_schema._COUNTERS)
    generics += sorted(fd_schema._TUPLES)
    params = [f"p{i}: {name} = None" for i, name in enumerate(names)]
    # a bare defaultdict cannot even be loaded by Prefect (no default factory for Any)
    bare = [g for g in generics if g not in ("typing.DefaultDict", "collections.defaultdict")]
    params += [f"g{i}: {name} = None" for i, name in enumerate(bare)]
    params += [
        f"q{i}: {name}[int{', str' if name in fd_schema._DICTS else ''}] = None"
        for i, name in enumerate(generics)
    ]
    imports = sorted({name.rsplit(".", 1)[0] for name in [*names, *generics]})
    source = "\n".join(
        [
            *(f"import {module}" for module in imports),
            "from prefect import flow",
            "",
            "@flow",
            "def f(",
            *(f"    {p}," for p in params),
            "):",
            "    pass",
        ]
    )
    (tmp_path / "tables.py").write_text(source + "\n")
    result = assert_same("tables.py:f", tmp_path)
    assert len(result["schema"]["properties"]) == len(params)


def test_flow_with_many_parameters_is_not_slow(tmp_path: Path) -> None:
    import time

    params = ", ".join(f"p{i}: dict[str, list[int]] = {{}}" for i in range(200))
    write(tmp_path, {"flow.py": f"from prefect import flow\n@flow\ndef f({params}):\n    pass\n"})
    start = time.perf_counter()
    info = FlowReader(tmp_path, tmp_path).read("flow.py:f")
    assert time.perf_counter() - start < 2.0
    assert len(info.parameter_openapi_schema["properties"]) == 200


# --- random annotations, differential ---------------------------------------------------------

_LEAVES = ["int", "str", "float", "bool", "None", "Any", "datetime.date", "Color", "Model"]


def _annotation() -> st.SearchStrategy[str]:
    leaf = st.sampled_from(_LEAVES)
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            inner.map(lambda t: f"Optional[{t}]"),
            inner.map(lambda t: f"list[{t}]"),
            inner.map(lambda t: f"dict[str, {t}]"),
            st.lists(inner, min_size=2, max_size=3).map(lambda ts: f"Union[{', '.join(ts)}]"),
            st.lists(inner, min_size=1, max_size=3).map(lambda ts: f"tuple[{', '.join(ts)}]"),
            inner.map(lambda t: f"tuple[{t}, ...]"),
            inner.map(lambda t: f"Annotated[{t}, Field(description='d')]"),
            st.lists(
                st.sampled_from(["'a'", "1", "True", "None", "Color.R"]), min_size=1, max_size=3
            ).map(lambda vs: f"Literal[{', '.join(vs)}]"),
            inner.map(lambda t: f"{t} | None" if t not in ("None", "Any") else t),
        ),
        max_leaves=4,
    )


_DEFAULTS = st.sampled_from(
    ["None", "1", "'x'", "[1, 'a']", "{'k': (1, 2)}", "Color.G", "datetime.date(2020, 1, 2)", "2.5"]
)
_HEADER = """
import datetime
from enum import Enum
from typing import Annotated, Any, Literal, Optional, Union
from pydantic import BaseModel, Field
from prefect import flow

class Color(Enum):
    R = "r"
    G = 2

class Model(BaseModel):
    c: Optional[Color] = None
"""


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(st.tuples(_annotation(), st.one_of(st.none(), _DEFAULTS)), min_size=1, max_size=4))
def test_random_annotations_match_prefect(
    tmp_path_factory: pytest.TempPathFactory, params: list[tuple[str, str | None]]
) -> None:
    tmp_path = tmp_path_factory.mktemp("random")
    ordered = sorted(params, key=lambda p: p[1] is not None)  # no default before a default
    signature = ", ".join(
        f"p{i}: {ann}" + (f" = {default}" if default is not None else "")
        for i, (ann, default) in enumerate(ordered)
    )
    write(tmp_path, {"rnd.py": _HEADER + f"\n@flow\ndef f({signature}):\n    pass\n"})
    assert_same("rnd.py:f", tmp_path)


# --- default encoding, differential against pydantic --------------------------------------------

_aware = st.datetimes(
    timezones=st.sampled_from(
        [
            dt.timezone.utc,
            dt.timezone(dt.timedelta(hours=2)),
            dt.timezone(dt.timedelta(hours=-5, minutes=-30)),
        ]
    )
)
_json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=5),
        st.timedeltas(),
        st.datetimes(),
        _aware,
        st.dates(),
        st.times(),
        st.decimals(allow_nan=False, allow_infinity=False),
        st.uuids(),
        st.complex_numbers(allow_nan=False, allow_infinity=False),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(
            st.one_of(st.text(max_size=3), st.integers(), st.booleans()), inner, max_size=3
        ),
        st.frozensets(st.integers(), max_size=3),
    ),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None)
@given(_json_values)
def test_encode_default_matches_pydantic(value: Any) -> None:
    expected = TypeAdapter(type(value)).dump_python(value, mode="json")
    assert encode_default(value) == expected


def test_encode_default_rejects_what_pydantic_rejects() -> None:
    with pytest.raises(fd_schema.Unencodable):
        encode_default(b"\xff")
    with pytest.raises(fd_schema.Unencodable):
        encode_default(fd_schema.ObjectRef("builtins.int"))
    assert encode_default(Decimal("1E+10")) == "1E+10"


# --- docstrings, differential against Prefect's griffe-based parser ----------------------------

_DOC_LINES = st.sampled_from(
    [
        "",
        "Summary.",
        "Args:",
        "Arguments:",
        "Parameters:",
        "Keyword Args:",
        "Returns:",
        "Examples:",
        "Note:",
        "    a: The a.",
        "    b (int): The b.",
        "    c (int, optional): The c.",
        "        continued",
        "     odd indent",
        "    *args: extra",
        "    no colon here",
        "  two: spaces",
        "```",
        "    ```python",
        "text: with colon",
        "        ",
    ]
)


@settings(max_examples=600, deadline=None)
@given(st.lists(_DOC_LINES, max_size=14))
def test_parameter_docstrings_match_prefect(lines: list[str]) -> None:
    docstring = "\n".join(lines)
    assert parameter_docstrings(docstring) == prefect_docstrings(docstring)


def test_parameter_docstrings_reads_google_sections() -> None:
    doc = """Summary.

    Args:
        a: The a.
        b (int): The b,
            continued.
    """
    assert parameter_docstrings(doc) == {"a": "The a.", "b": "The b,\ncontinued."}
    assert parameter_docstrings(None) == {}
