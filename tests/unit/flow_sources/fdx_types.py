# ruff: noqa
# Fixture: written the way users write flows (legacy typing, mutable defaults...).
"""Flows whose parameters cover the types Prefect turns into JSON schema."""

import datetime
import typing
import uuid
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, time, timedelta, timezone
from decimal import Decimal
from enum import Enum, IntEnum, auto
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Literal, Optional, Set, Tuple, Union

from prefect import flow

DEFAULT_RETRIES = 3
PREFIX = "job"
NAMES = [PREFIX, f"{PREFIX}-2"]
ONE_HOUR = timedelta(hours=1)


class Color(Enum):
    """A color.

    With a second paragraph.
    """

    RED = "red"
    GREEN = "green"
    CRIMSON = "red"


class Level(IntEnum):
    LOW = auto()
    HIGH = auto()
    TOP = 10
    OVER = auto()


class Mixed(Enum):
    A = 1.5
    B = "b"
    C = None


@flow
def scalars(
    a, b: int, c: float = 1.5, d: str = "x", e: bool = True, f: None = None, g: bytes = b"raw"
):
    pass


@flow
def collections(
    a: list[int] = [1, 2],
    b: List[str] = [],
    c: dict[str, float] = {},
    d: Dict[str, Any] = {"k": [1, {"x": None}]},
    e: tuple[int, str] = (1, "a"),
    f: tuple[int, ...] = (),
    g: Tuple = (),
    h: set[int] = {3, 1, 2},
    i: FrozenSet[str] = frozenset({"b", "a"}),
    j: Sequence[int] = (1,),
    k: Mapping[str, int] = {},
    l: Iterable[str] = (),
    m: typing.Deque[int] = None,
    n: deque = None,
    o: OrderedDict[str, int] = None,
    p: typing.Counter[str] = None,
    q: list = [],
    r: dict = {},
    s: Set = set(),
    t: tuple[()] = (),
    u: dict[int, str] = {1: "a", 2: "b"},
    v: list[list[dict[str, int]]] = [[{"a": 1}]],
    w: dict[Literal["a", "b"], int] = {},
    x: dict[Color, int] = {},
):
    pass


@flow
def unions(
    a: Optional[int] = None,
    b: int | None = 3,
    c: Union[int, str] = 1,
    d: Union[None, int, str] = None,
    e: Union[int, Optional[str]] = None,
    f: Optional[Any] = None,
    g: Union[int, Any] = 1,
    h: Union[int, typing.Callable] = 1,
    i: typing.Callable = None,
    j: str | list[str] | None = None,
    k: Optional[Union[int, float]] = None,
    l: Union[int] = 1,
    m: "Optional[int]" = None,
    n: Optional["int"] = None,
):
    pass


@flow
def literals(
    a: Literal["a", "b"] = "a",
    b: Literal[1] = 1,
    c: Literal[1, "a", None] = None,
    d: Literal[True] = True,
    e: Optional[Literal["x", "y"]] = None,
    f: Union[Literal["a"], Literal["b"]] = "a",
    g: Literal[Color.RED, Color.GREEN] = Color.RED,
    h: Literal[1.5, 2.5] = 1.5,
    i: Literal[Literal["n"], "m"] = "m",
):
    pass


@flow
def enums(
    a: Color = Color.GREEN,
    b: Level = Level.HIGH,
    c: Mixed = Mixed.A,
    d: Optional[Color] = None,
    e: list[Color] = [Color.RED],
    f: Color = "red",
    Color: Color = Color.RED,
):
    pass


@flow
def temporal(
    a: datetime.datetime = datetime.datetime(2020, 1, 2, 3, 4, 5, 6),
    b: date = date(1999, 12, 31),
    c: time = time(1, 2, 3, 400),
    d: timedelta = timedelta(days=1, hours=2, minutes=3, seconds=4, microseconds=5),
    e: timedelta = timedelta(days=-1, seconds=5),
    f: timedelta = ONE_HOUR * 2,
    g: datetime.datetime = datetime.datetime(2020, 1, 2, tzinfo=timezone.utc),
    h: datetime.datetime = datetime.datetime(2020, 1, 2, tzinfo=timezone(timedelta(hours=-5))),
    i: timedelta = timedelta(days=400),
    j: time = time(1, 2, tzinfo=timezone.utc),
    k: uuid.UUID = uuid.UUID("12345678123456781234567812345678"),
    l: Path = Path("/tmp/data"),
    m: Decimal = Decimal("1.50"),
    n: Optional[uuid.UUID] = None,
    o: complex = 1 + 2j,
):
    pass


@flow
def constants(
    retries: int = DEFAULT_RETRIES,
    names: list[str] = NAMES,
    label: str = PREFIX + "-x",
    size: int = 2**10,
    neg: float = -0.5,
    big: int = 10**20,
    inf: float = 1e100,
    kind: type = int,
):
    pass


@flow
def variadic(a: int, *args: int, b: str = "x", c: float, **kwargs: str):
    pass


@flow
def untyped_variadic(*args, **kwargs):
    pass


@flow
def positional_only(a: int, /, b: int = 2, *, c: int = 3):
    pass


@flow
def nothing():
    pass


@flow
async def documented(a: int, b: str = "x", c: bool = False, d=None):
    """Summary line.

    Longer description.

    Args:
        a: The a.
        b (str): The b,
            on two lines.
        c: The c.

            With a paragraph.
        unknown: Not a parameter.

    Returns:
        Nothing.
    """


@flow
def numpy_documented(a: int):
    """Summary.

    Parameters
    ----------
    a : int
        The a.
    """


@flow
def two_arg_sections(a: int, b: int):
    """Summary.

    Args:
        a: First section.

    Examples:
        Some example.

    Args:
        b: Second section replaces the first.
    """
