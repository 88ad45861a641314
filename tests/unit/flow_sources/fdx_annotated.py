# ruff: noqa
# Fixture: written the way users write flows (legacy typing, mutable defaults...).
from typing import Annotated, Optional

import annotated_types as at
import pydantic
from pydantic import Field, PositiveInt, SecretStr, conint, constr

from prefect import flow

PosInt = Annotated[int, Field(gt=0)]
Small = Annotated[PosInt, Field(lt=10, description="small")]


@flow
def annotated(
    a: Annotated[int, Field(ge=1, le=5, description="from field", title="A title")] = 2,
    b: Annotated[str, Field(min_length=2, max_length=4, pattern="^a")] = "ab",
    c: Annotated[Optional[int], Field(ge=1)] = None,
    d: Optional[Annotated[int, Field(ge=1, description="inner")]] = None,
    e: Annotated[list[int], Field(min_length=1)] = [1],
    f: Annotated[int, at.Ge(1), at.Lt(9)] = 3,
    g: Annotated[float, Field(gt=0.5, multiple_of=0.5)] = 1.0,
    h: Annotated[int, Field(examples=[1, 2], json_schema_extra={"x-extra": 1, "position": 99})] = 1,
    i: Annotated[int, "plain metadata"] = 1,
    j: PosInt = 1,
    k: Small = 2,
    l: Annotated[int, Field(deprecated=True)] = 1,
    m: list[Annotated[int, Field(ge=0, description="each")]] = [],
    n: PositiveInt = 1,
    o: SecretStr = None,
    p: pydantic.HttpUrl = None,
    q: conint(ge=0, le=9) = 0,
    r: constr(max_length=3) = "abc",
    s: Annotated[int, Field(description="field only")] = 1,
):
    """Doc.

    Args:
        a: from the docstring
    """


@flow
def field_defaults(
    a: int = Field(3, description="described", ge=0, title="ignored", examples=[1]),
    b: list = Field(default_factory=list),
    c: int = Field(description="required"),
    d: int = Field(5, json_schema_extra={"position": 9, "k": "v"}),
    e: str = Field(default="e"),
):
    """Doc.

    Args:
        a: docstring loses to Field(description=...)
        c: docstring loses too
    """
