"""Repository enums read from source: member values as Python makes them, ``.value`` /
``.name`` in defaults, and class bodies whose members only running tells (left open, with a
warning at the class).

The reference is Prefect importing the flow (``support.reference``), as in test_schema.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from prefect.utilities.callables import parameter_schema_from_entrypoint

from flowdeploy.flows import FlowReader
from support.files import write_files as write
from support.reference import isolated_import, line_of, prefect_reference


def assert_same_schema(entrypoint: str, cwd: Path) -> dict[str, Any]:
    info = FlowReader(cwd, cwd).read(entrypoint)
    expected = prefect_reference(entrypoint, cwd)["schema"]
    actual = info.parameter_openapi_schema
    assert json.dumps(actual, indent=1) == json.dumps(expected, indent=1)
    assert not info.warnings, info.warnings
    return actual


CONSTS = """
    from enum import Enum, IntEnum


    class Const(Enum):
        DATASET = "orders"
        PORT = 5432
        TABLE = "orders"  # an alias: Const.TABLE is Const.DATASET


    class Retries(IntEnum):
        FEW = 3
        MANY = "10"
"""


def test_member_value_and_name_defaults_match_prefect(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "lib/__init__.py": "",
            "lib/consts.py": CONSTS,
            "flows/etl.py": """
                from prefect import flow

                from lib import consts
                from lib.consts import Const, Retries

                DEFAULT = Const.PORT


                @flow
                def etl(
                    dataset: str = Const.DATASET.value,
                    port: int = Const.PORT.value,
                    member: Const = Const.DATASET,
                    name: str = Const.PORT.name,
                    alias_name: str = Const.TABLE.name,
                    via_module: str = consts.Const.TABLE.value,
                    via_alias: int = DEFAULT.value,
                    by_value: str = Const("orders").name,
                    sunder: int = Const.PORT._value_,
                    retries: int = Retries.MANY.value,
                    label: str = f"{Const.DATASET.value}-{Retries.FEW.value}",
                ):
                    \"\"\"Load one dataset.\"\"\"
            """,
        },
    )
    schema = assert_same_schema("flows/etl.py:etl", tmp_path)
    defaults = {k: v["default"] for k, v in schema["properties"].items()}
    assert defaults == {
        "dataset": "orders",
        "port": 5432,
        "member": "orders",
        "name": "PORT",
        "alias_name": "DATASET",
        "via_module": "orders",
        "via_alias": 5432,
        "by_value": "DATASET",
        "sunder": 5432,
        "retries": 10,
        "label": "orders-3",
    }


ZOO = """
    from enum import Enum, Flag, IntEnum, IntFlag, StrEnum, auto, nonmember, unique
    from typing import TYPE_CHECKING

    from prefect import flow

    DEFAULT = "d"


    class Alias(Enum):
        A = 1
        B = True  # == 1: an alias of A, value 1
        C = 2.0
        D = 2  # an alias of C, value 2.0


    class StrAuto(str, Enum):
        \"\"\"auto() numbers, then str() converts.\"\"\"

        A = auto()
        B = auto()
        C = 5


    @unique
    class Lower(StrEnum):
        ONE = auto()
        Two = auto()


    class Perm(IntFlag):
        R = auto()
        W = auto()
        RW = 3
        X = auto()


    class Signed(Flag):
        NEG = -1
        NEXT = auto()


    class Ratio(float, Enum):
        HALF = "0.5"
        ONE = 1


    class Level(IntEnum):
        LOW = 5.7
        HIGH = auto()  # numbered from the value as written: 6.7, then int() makes it 6
        MID = "7"
        TOP = True


    class Shouting(StrEnum):
        def shout(self) -> str:
            return self.value.upper()


    class Child(Shouting):  # numbered by its base's base: StrEnum
        FIRST = auto()


    class Typed(Enum):
        FAST = "fast"
        if TYPE_CHECKING:
            label: str
            HIDDEN = "never made"
        else:
            SLOW = "slow"


    class Numbered(Enum):
        A = 5
        B = 1
        C = auto()  # the highest value so far plus one
        D = 2.5
        E = auto()


    class Names(Enum):
        _x = 1  # a single leading underscore is a member
        __private = 2  # mangled to _Names__private: not a member
        _ignore_ = "tmp"
        tmp = 9
        DEFAULT = DEFAULT  # the module's DEFAULT: the class has none yet
        LEFT, RIGHT = "l", "r"
        TOP = BOTTOM = "t"
        annotated: str = "a"
        bare: int

        @nonmember
        class Helper:
            pass

        def describe(self) -> str:
            return self.name

        @property
        def upper(self) -> str:
            return self.value.upper()


    @flow
    def zoo(
        alias: Alias = Alias.D,
        str_auto: StrAuto = StrAuto.B,
        lower: Lower = Lower.Two,
        perm: Perm = Perm.X,
        signed: Signed = Signed.NEXT,
        ratio: Ratio = Ratio.HALF,
        level: Level = Level.TOP,
        numbered: Numbered = Numbered.E,
        names: Names = Names.BOTTOM,
        child: Child = Child.FIRST,
        typed: Typed = Typed.SLOW,
        alias_name: str = Alias.B.name,
    ):
        \"\"\"Every enum.\"\"\"
"""


def test_member_values_are_those_python_makes(tmp_path: Path) -> None:
    write(tmp_path, {"zoo.py": ZOO})
    schema = assert_same_schema("zoo.py:zoo", tmp_path)
    definitions = schema["definitions"]
    assert definitions["Alias"]["enum"] == [1, 1, 2.0, 2.0]
    assert definitions["StrAuto"]["enum"] == ["1", "2", "5"]
    assert definitions["Numbered"]["enum"] == [5, 1, 6, 2.5, 7]
    assert definitions["Names"]["enum"] == [1, "d", "l", "r", "t", "t", "a"]
    assert definitions["Child"]["enum"] == ["first"]
    assert definitions["Typed"]["enum"] == ["fast", "slow"]
    assert schema["properties"]["alias_name"]["default"] == "A"


def test_an_enum_without_members_is_written_in_place_like_pydantic(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "flow.py": """
                from enum import Enum

                from prefect import flow


                class Base(Enum):
                    \"\"\"Members come in subclasses.\"\"\"

                    def describe(self) -> str:
                        return self.name


                @flow
                def f(base: Base = None, many: list[Base] = []):
                    \"\"\"Doc.\"\"\"
            """,
        },
    )
    schema = assert_same_schema("flow.py:f", tmp_path)
    assert schema["properties"]["many"]["items"]["enum"] == []
    assert "definitions" not in schema


DYNAMIC = """
    import os
    from enum import Enum, auto

    from prefect import flow


    class _Other(str, Enum):
        A = "a"
        B = "b"


    class Parser(str, Enum):
        locals().update(_Other.__members__)


    class Looped(Enum):
        _ignore_ = "i"
        for i in range(3):
            vars()[f"N{i}"] = i


    class Conditional(Enum):
        A = 1
        if os.name == "nt":
            B = 2


    class Subscripted(Enum):
        vars()["A"] = 1


    class FromEnvironment(Enum):
        HOME = os.environ.get("HOME", "/root")


    class AfterText(Enum):
        A = "a"
        B = auto()


    class Nested(Enum):
        A = 1

        class Inner:
            pass


    class Shifted(Enum):
        BASE = 10
        NEXT = BASE + 1


    class Labelled(str, Enum):
        def __new__(cls, value: str, label: str) -> "Labelled":
            member = str.__new__(cls, value)
            member._value_ = value
            member.label = label
            return member

        RED = "r", "Red"


    class Bytes(bytes, Enum):
        A = b"a"


    class Doubled(Enum):
        def _generate_next_value_(name, start, count, last_values):
            return name * 2

        A = auto()  # "AA"


    @flow
    def dyn(
        parser: Parser = Parser.A,
        looped: Looped = None,
        conditional: Conditional = Conditional.A,
        subscripted: Subscripted = None,
        from_environment: FromEnvironment = None,
        after_text: AfterText = AfterText.A,
        nested: Nested = Nested.A,
        shifted: Shifted = Shifted.BASE,
        labelled: Labelled = None,
        raw: Bytes = None,
        doubled: Doubled = None,
    ):
        \"\"\"Enums whose members only running the class body tells.\"\"\"
"""

# parameter: (class, the reason the warning gives, the line that reason names)
UNREADABLE = {
    "parser": ("Parser", "line {} runs code (locals().update(_Other.__members__))", "locals()"),
    "looped": ("Looped", "line {} runs code (for i in range(3):)", "for i"),
    "conditional": ("Conditional", "line {} runs code (if os.name == 'nt':)", "if os.name"),
    "subscripted": ("Subscripted", "line {} runs code (vars()['A'] = 1)", 'vars()["A"]'),
    "from_environment": (
        "FromEnvironment",
        "the value of HOME (line {}) is not a constant flowdeploy can read",
        "HOME =",
    ),
    "after_text": (
        "AfterText",
        "auto() for B (line {}): after a value that is not a number, Python versions number "
        "it differently",
        "B = auto()",
    ),
    "nested": (
        "Nested",
        "nested class Inner (line {}) is a member before Python 3.13 and not from 3.13 on",
        "class Inner",
    ),
    "shifted": ("Shifted", "the value of NEXT (line {}) uses the class's own name BASE", "NEXT ="),
    "labelled": ("Labelled", "Labelled.__new__ (line {}) makes the values", "def __new__"),
    "raw": ("Bytes", "it mixes in builtins.bytes{}", None),
    "doubled": (
        "Doubled",
        "auto() for A (line {}): the enum defines its own _generate_next_value_",
        'A = auto()  # "AA"',
    ),
}


def test_members_only_running_tells_leave_the_type_open_with_a_warning_at_the_class(
    tmp_path: Path,
) -> None:
    write(tmp_path, {"dyn.py": DYNAMIC})
    source = tmp_path / "dyn.py"
    info = FlowReader(tmp_path, tmp_path).read("dyn.py:dyn")
    schema = info.parameter_openapi_schema
    assert "definitions" not in schema, "no enum of unknown members, and never `enum: []`"
    at_classes = {
        w.where.line: w.message
        for w in info.warnings
        if w.where and w.message.startswith("the members of enum ")
    }
    for param, (cls, template, marker) in UNREADABLE.items():
        reason = template.format(line_of(source, marker) if marker else "")
        prop = schema["properties"][param]
        assert set(prop) <= {"default", "position", "title"}, prop
        message = at_classes[line_of(source, f"class {cls}(")]
        assert message.startswith(f"the members of enum {cls} cannot be read from source: "), (
            message
        )
        assert reason in message, message
        assert "parameters and fields of this type get no type" in message
    # a member defined by plain assignment keeps its value for a default
    assert schema["properties"]["conditional"]["default"] == 1
    assert schema["properties"]["nested"]["default"] == 1
    assert schema["properties"]["shifted"]["default"] == 10
    assert schema["properties"]["after_text"]["default"] == "a"
    # a member source cannot see has no default it could name: null, said at the parameter
    assert schema["properties"]["parser"]["default"] is None
    [default_warning] = [w for w in info.warnings if "default of 'parser'" in w.message]
    assert default_warning.where is not None
    assert default_warning.where.line == line_of(source, "parser: Parser")

    # Prefect imports the module and sees what the bodies made.
    expected = prefect_reference("dyn.py:dyn", tmp_path)["schema"]
    assert expected["definitions"]["Parser"]["enum"] == ["_Other.A", "_Other.B"]
    assert expected["definitions"]["Looped"]["enum"] == [0, 1, 2]


def test_an_enum_used_in_a_model_field_is_left_open_too(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "flow.py": """
                from enum import Enum

                from prefect import flow
                from pydantic import BaseModel


                class Mode(Enum):
                    exec("FAST = 1")


                class Job(BaseModel):
                    mode: Mode
                    name: str = "job"


                @flow
                def f(job: Job):
                    \"\"\"Doc.\"\"\"
            """,
        },
    )
    info = FlowReader(tmp_path, tmp_path).read("flow.py:f")
    job = info.parameter_openapi_schema["definitions"]["Job"]
    assert job["properties"]["mode"] == {"title": "Mode"}
    [warning] = info.warnings
    assert warning.where is not None and warning.where.line == 8
    assert "enum Mode cannot be read from source: line 9 runs code" in warning.message


def test_a_default_flowdeploy_cannot_read_says_what_prefect_does(tmp_path: Path) -> None:
    """The warning says Prefect evaluates the default, and has null only if that fails:
    checked against Prefect's own no-import reading (``parameter_schema_from_entrypoint``,
    used when importing the flow fails), which evaluates defaults too."""
    write(
        tmp_path,
        {
            "lib/__init__.py": "",
            "lib/consts.py": CONSTS,
            "flows/etl.py": """
                import os

                from prefect import flow
                from not_installed import SETTINGS

                from lib.consts import Const


                @flow
                def etl(
                    dataset: str = Const.DATASET.value,
                    cwd: str = os.getcwd(),
                    region: str = SETTINGS.region,
                ):
                    \"\"\"Doc.\"\"\"
            """,
        },
    )
    info = FlowReader(tmp_path, tmp_path).read("flows/etl.py:etl")
    properties = info.parameter_openapi_schema["properties"]
    assert properties["dataset"]["default"] == "orders"
    assert properties["cwd"]["default"] is None
    assert properties["region"]["default"] is None
    messages = {w.where.line: w.message for w in info.warnings if w.where}
    source = tmp_path / "flows/etl.py"
    for param in ("cwd", "region"):
        message = messages[line_of(source, f"    {param}: str")]
        assert message.startswith(f"default of {param!r} is not a constant flowdeploy can read")
        assert message.endswith(
            "the schema says null, where Prefect, which runs the code, has the value it "
            "computes (null only if computing it fails)"
        )

    with isolated_import(tmp_path):
        fallback = parameter_schema_from_entrypoint("flows/etl.py:etl").model_dump()
    defaults = {k: v.get("default") for k, v in fallback["properties"].items()}
    assert defaults == {"dataset": "orders", "cwd": str(tmp_path), "region": None}


@pytest.mark.parametrize(
    ("body", "values"),
    [
        ("A = 1\n    B = 1", [1, 1]),
        ("A = [1]\n    B = [1]", [[1], [1]]),
        ("A = 0\n    B = False\n    C = 0.0", [0, 0, 0]),
        ("A = (1, 2)\n    B = 3", [[1, 2], 3]),
        ("A = None\n    B = auto()", None),
    ],
)
def test_aliases_and_values_match_python(tmp_path: Path, body: str, values: list[Any]) -> None:
    source = f"""
from enum import Enum, auto
from prefect import flow


class E(Enum):
    {body}


@flow
def f(e: E = None):
    \"\"\"Doc.\"\"\"
"""
    (tmp_path / "flow.py").write_text(source)
    if values is None:
        info = FlowReader(tmp_path, tmp_path).read("flow.py:f")
        assert "definitions" not in info.parameter_openapi_schema
        [warning] = info.warnings
        assert "auto() for B (line 8): after a value that is not a number" in warning.message
        return
    schema = assert_same_schema("flow.py:f", tmp_path)
    assert schema["definitions"]["E"]["enum"] == values
