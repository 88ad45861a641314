# ruff: noqa
# Fixture: written the way users write flows (legacy typing, mutable defaults...).
from dataclasses import dataclass, field

from typing_extensions import NotRequired, TypedDict


@dataclass
class Point:
    """A point."""

    x: float
    y: float = 0.0
    tags: list[str] = field(default_factory=list)


@dataclass
class Size:
    w: int = 1
    h: int = 1


class Options(TypedDict, total=False):
    """Options."""

    verbose: bool
    level: int


class Job(TypedDict):
    name: str
    retries: NotRequired[int]
