# ruff: noqa
# Fixture: written the way users write flows (legacy typing, mutable defaults...).
from typing import TYPE_CHECKING, Optional

from pydantic import BaseModel

from prefect import flow

if TYPE_CHECKING:
    from decimal import Decimal


class M(BaseModel):
    x: int = 1


@flow
def strings_ok(a: "int", b: "Optional[M]" = None, c: Optional["M"] = None, d: list["int"] = []):
    pass


@flow
def strings_fail(
    a: "int",
    b: "Optional[str]" = None,
    c: "Decimal" = 1,
    d: "list[int]" = [],
    e: "typing.List[int]" = [],
):
    pass
