# ruff: noqa
# Fixture: written the way users write flows (legacy typing, mutable defaults...).
from enum import Enum


class Mode(Enum):
    FAST = "fast"
