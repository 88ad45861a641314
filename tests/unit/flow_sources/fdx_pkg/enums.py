# ruff: noqa
# Fixture: written the way users write flows (legacy typing, mutable defaults...).
from enum import Enum


class Status(str, Enum):
    NEW = "new"
    DONE = "done"


class Priority(Enum):
    """How urgent."""

    LOW = 1
    HIGH = 2
