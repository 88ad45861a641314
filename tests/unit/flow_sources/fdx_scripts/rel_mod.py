from enum import Enum


class Mode(Enum):
    FAST = "fast"
