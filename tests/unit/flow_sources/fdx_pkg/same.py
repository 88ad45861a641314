# ruff: noqa
# Fixture: written the way users write flows (legacy typing, mutable defaults...).
from pydantic import BaseModel


class Same(BaseModel):
    x: int = 1
