# ruff: noqa
# Fixture: written the way users write flows (legacy typing, mutable defaults...).
from pydantic import BaseModel


class Address(BaseModel):
    """A different model with the same name."""

    line1: str


class Same(BaseModel):
    x: int = 1
