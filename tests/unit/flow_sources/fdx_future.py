# ruff: noqa
# Fixture: written the way users write flows (legacy typing, mutable defaults...).
from __future__ import annotations

import typing
from typing import TYPE_CHECKING, Optional

from pydantic import BaseModel

from prefect import flow

if TYPE_CHECKING:
    from decimal import Decimal


class Later(BaseModel):
    x: int = 1


@flow
def future_ok(
    a: int, b: Optional[str] = None, c: list[Later] = [], d: Defined | None = None
) -> None:
    pass


@flow
def future_type_checking(
    a: int, b: Optional[str] = None, c: list[int] = [], d: Decimal = 1, e: typing.List[int] = []
):
    pass


@flow
def future_return_only(a: int, b: Optional[str] = None) -> Decimal:
    pass


class Defined(BaseModel):
    y: str = "y"
