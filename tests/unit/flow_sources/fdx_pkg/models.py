# ruff: noqa
# Fixture: written the way users write flows (legacy typing, mutable defaults...).
from __future__ import annotations

import datetime as dt
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field

from . import enums
from .enums import Status


class Address(BaseModel):
    """Where to deliver.

    Indented second paragraph.
    """

    street: str
    city: str = "Paris"
    zip_code: Optional[str] = Field(None, alias="zip", description="postal code")


class Base(BaseModel):
    model_config = ConfigDict(extra="forbid", title="BaseTitle")

    id: int
    created: dt.datetime = dt.datetime(2024, 1, 1)


class Customer(Base):
    name: str = Field(..., min_length=1)
    address: Address
    addresses: list[Address] = []
    status: Status = Status.NEW
    priority: Optional[enums.Priority] = None
    tags: set[str] = Field(default_factory=set)
    referrer: Optional[Customer] = None
    _secret: str = "private"


class Line(BaseModel, extra="allow"):
    sku: str
    quantity: int = Field(1, ge=1)


class Order(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"customer": None}]}}

    customer: Customer
    lines: list[Line] = Field(default_factory=list)
    note: str = Field("", title="Free text", description="anything")
