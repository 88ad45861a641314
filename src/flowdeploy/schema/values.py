"""Static values: what a default read from source is, and its JSON form.

Defaults are never computed by running user code (:mod:`flowdeploy.schema.analyzer` evaluates
them from the syntax tree); the results are plain Python values plus the few stand-ins below for
things only the repository defines. :func:`encode_default` writes any of them the way pydantic
dumps a default in ``mode="json"``.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import PurePath
from typing import Any


class NotStatic(Exception):
    """An expression whose value is only known by running the code."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


class Unencodable(Exception):
    """A value pydantic would refuse to put in a JSON schema (it then leaves the default out)."""


@dataclass(frozen=True)
class EnumMember:
    """A member of an enum defined in the repository."""

    enum: str
    name: str
    value: Any


@dataclass(frozen=True)
class Instance:
    """An instance of a model or dataclass defined in the repository: its fields' values."""

    cls: str
    values: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class ObjectRef:
    """A class or function used as a value: it exists, but has no JSON form."""

    qualname: str


def _rust_float(value: float) -> str:
    """A float as Rust's ``Display`` writes it: shortest digits, never an exponent."""
    digits = Decimal(repr(value))
    # Two shortest candidates can be equally close (562949953421312.25 is .2 or .3): Python
    # takes the even digit, Rust the one away from zero.
    step = Decimal(1).scaleb(digits.as_tuple().exponent)  # type: ignore[arg-type]
    exact = Decimal(value)
    other = (2 * exact - digits).normalize()
    if abs(exact - digits) * 2 == step and abs(other) > abs(digits) and float(other) == value:
        digits = other
    text = format(digits, "f")
    return text[:-2] if text.endswith(".0") else text


def _complex(value: complex) -> str:
    """pydantic-core's complex format: ``1.5+2j``, ``2j`` when the real part is zero."""
    imag = _rust_float(value.imag)
    if value.real == 0:
        return f"{imag}j"
    sign = "-" if math.copysign(1.0, value.imag) < 0 else "+"
    return f"{_rust_float(value.real)}{sign}{imag.lstrip('-')}j"


def _duration(value: dt.timedelta) -> str:
    """ISO 8601 duration exactly as pydantic-core (speedate) writes it: 365-day years, no months."""
    total = abs(value)
    days = total.days
    seconds = total.seconds
    micros = total.microseconds
    sign = "-" if value < dt.timedelta(0) else ""
    years, days = divmod(days, 365)
    out = f"{sign}P"
    if years:
        out += f"{years}Y"
    if days:
        out += f"{days}D"
    hours, rem = divmod(seconds, 3600)
    minutes, secs = divmod(rem, 60)
    time = ""
    if hours:
        time += f"{hours}H"
    if minutes:
        time += f"{minutes}M"
    if secs or micros:
        frac = f".{micros:06d}".rstrip("0") if micros else ""
        time += f"{secs}{frac}S"
    if time:
        out += f"T{time}"
    if out in ("P", "-P"):
        return f"{sign}PT0S"
    return out


def _offset(value: dt.timedelta | None) -> str:
    if value is None:
        return ""
    if value == dt.timedelta(0):
        return "Z"
    sign = "-" if value < dt.timedelta(0) else "+"
    minutes = int(abs(value).total_seconds()) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _with_offset(value: dt.datetime | dt.time) -> str:
    return value.replace(tzinfo=None).isoformat() + _offset(value.utcoffset())


def _key(value: Any) -> str:
    encoded = encode_default(value)
    if isinstance(encoded, bool):
        return "true" if encoded else "false"
    if encoded is None:
        return "None"
    if isinstance(encoded, list):
        return ",".join(_key(v) for v in encoded)
    return str(encoded)


def encode_default(value: Any) -> Any:
    """``TypeAdapter(type(value)).dump_python(value, mode="json")``, for static values."""
    if isinstance(value, EnumMember):
        return encode_default(value.value)
    if isinstance(value, Instance):
        return {k: encode_default(v) for k, v in value.values}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, complex):
        return _complex(value)
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError as exc:
            raise Unencodable("bytes that are not UTF-8") from exc
    if isinstance(value, (list, tuple)):
        return [encode_default(v) for v in value]
    if isinstance(value, (set, frozenset)):
        # iteration order, as pydantic; only a top-level default set is sorted (by the caller)
        return [encode_default(v) for v in value]
    if isinstance(value, dict):
        return {_key(k): encode_default(v) for k, v in value.items()}
    if isinstance(value, (dt.datetime, dt.time)):
        return _with_offset(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return _duration(value)
    if isinstance(value, (Decimal, uuid.UUID, PurePath)):
        return str(value)
    raise Unencodable(f"a {type(value).__name__} value")


# ``default_factory`` callables safe to call here: they build an empty container, no user code
FACTORIES: dict[str, Callable[[], Any]] = {
    "builtins.list": list,
    "builtins.dict": dict,
    "builtins.set": set,
    "builtins.tuple": tuple,
    "builtins.frozenset": frozenset,
}


class _Unknown:
    """A default that exists but cannot be read statically."""

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = _Unknown()
