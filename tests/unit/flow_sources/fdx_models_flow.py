# ruff: noqa
# Fixture: written the way users write flows (legacy typing, mutable defaults...).
from typing import Optional

from fdx_ns.sub.shapes import Job, Options, Point, Size
from fdx_pkg import Customer, Order, Status
from fdx_pkg.models import Address, Line
from fdx_pkg.other import models as other
from fdx_pkg import same
from fdx_pkg.other.models import Same

from prefect import flow


@flow(name="models", description="Flow with models")
def models(
    order: Order,
    customer: Optional[Customer] = None,
    lines: list[Line] = [],
    by_name: dict[str, Address] = {},
    status: Status = Status.DONE,
    line: Line = Line(sku="a"),
):
    pass


@flow
def collisions(
    a: Address, b: other.Address, c: Optional[Same] = None, d: Optional[same.Same] = None
):
    pass


@flow
def shapes(p: Point, s: Size = Size(), o: Options = None, j: Optional[Job] = None):
    pass
