"""prefect.yaml schedule entries -> the schedule objects the Prefect API stores (pure).

Mirrors ``prefect.cli.deploy._schedules`` and the client schedule models: exactly one of
``cron`` / ``interval`` / ``rrule`` per entry; cron checked with croniter (no random or
hashed fields), rrule with python-dateutil, timezones against the IANA database.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

from pydantic import TypeAdapter, ValidationError

KINDS = ("cron", "interval", "rrule")
COMMON_KEYS = (
    "timezone",
    "anchor_date",
    "active",
    "parameters",
    "slug",
    "replaces",
    "day_or",
    "max_scheduled_runs",
)
KNOWN_KEYS = KINDS + COMMON_KEYS
"""The keys of Prefect's schedule entry model (``RawScheduleConfig``, which refuses any other
key), plus ``max_scheduled_runs``, which flowdeploy accepts on purpose (see the README)."""

_TIMEDELTA: TypeAdapter[timedelta] = TypeAdapter(timedelta)
_DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)
_BOOL: TypeAdapter[bool] = TypeAdapter(bool)


class ScheduleError(ValueError):
    """One schedule entry is invalid; ``key`` names the offending key for file:line."""

    def __init__(self, message: str, key: str | None = None, fix: str = "") -> None:
        super().__init__(message)
        self.key = key
        self.fix = fix


@cache
def timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_timezone(name: str, key: str = "timezone") -> str:
    if name not in timezones():
        raise ScheduleError(
            f"timezone {name!r} is not an IANA time zone name",
            key,
            "use a name such as 'Europe/Berlin', 'America/New_York' or 'UTC'",
        )
    return name


def check_cron(expr: str) -> str:
    if not isinstance(expr, str) or not cron_is_valid(expr):
        raise ScheduleError(
            f"cron expression {expr!r} is not valid",
            "cron",
            "use five fields: minute hour day-of-month month day-of-week, e.g. '0 6 * * 1-5'",
        )
    if any(field.casefold() in ("r", "h") for field in expr.split()):
        raise ScheduleError(
            f"cron expression {expr!r} uses a random or hashed field",
            "cron",
            "Prefect does not support 'R' or 'H' fields; write the value out",
        )
    return expr


# (lowest, highest) of minute, hour, day of month, month, day of week.
_CRON_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_CRON_ITEM = re.compile(r"(?:\*|(0|[1-9][0-9]?)(?:-(0|[1-9][0-9]?))?)(?:/([1-9][0-9]?))?")


def cron_is_valid(expr: str) -> bool:
    """Whether croniter (Prefect's judge) accepts ``expr``.

    The expressions nearly every file holds (five fields of ``*``, numbers, ``a-b`` ranges,
    ``/n`` steps and lists, all within each field's bounds) are a strict subset of what
    croniter accepts, and are answered here: importing croniter costs a re-run about a
    twentieth of its time (it runs ``file`` on the interpreter). Anything else is asked.
    """
    fields = expr.split(" ")
    if len(fields) == 5 and all(
        _plain_cron_field(field, low, high)
        for field, (low, high) in zip(fields, _CRON_BOUNDS, strict=True)
    ):
        return True
    from croniter import croniter

    return bool(croniter.is_valid(expr))


def _plain_cron_field(field: str, low: int, high: int) -> bool:
    for item in field.split(","):
        found = _CRON_ITEM.fullmatch(item)
        if found is None:
            return False
        first, last, step = found.groups()
        if first is None:
            continue  # "*" or "*/n"
        if not low <= int(first) <= high:
            return False
        if last is None:
            if step is not None:
                return False  # "a/n": croniter versions disagree on it
        elif not int(first) <= int(last) <= high:
            return False
    return True


def check_rrule(expr: str) -> str:
    import dateutil.rrule  # only for rrule schedules

    try:
        dateutil.rrule.rrulestr(expr, cache=True)
    except (ValueError, TypeError) as exc:
        raise ScheduleError(
            f"rrule {expr!r} is not valid: {exc}",
            "rrule",
            "write an RFC 5545 rule such as 'FREQ=WEEKLY;BYDAY=MO'",
        ) from None
    if len(expr) > 6500:
        raise ScheduleError(
            f"rrule is {len(expr)} characters long, over Prefect's limit of 6500",
            "rrule",
            "shorten the rule: list fewer RDATE/EXDATE values, or split it into several schedules",
        )
    return expr


def parse_interval(value: Any) -> float:
    """Seconds, as the API stores them; accepts numbers, ISO 8601 durations and HH:MM:SS."""
    if isinstance(value, bool):
        raise ScheduleError(
            f"interval {value!r} is not a duration",
            "interval",
            "give seconds (3600), an ISO 8601 duration (PT1H) or HH:MM:SS",
        )
    try:
        seconds = (
            timedelta(seconds=value)
            if isinstance(value, (int, float))
            else _TIMEDELTA.validate_python(value)
        ).total_seconds()
    except (ValidationError, TypeError, OverflowError):
        raise ScheduleError(
            f"interval {value!r} is not a duration",
            "interval",
            "give seconds (3600), an ISO 8601 duration (PT1H) or HH:MM:SS",
        ) from None
    if seconds <= 0:
        raise ScheduleError(
            f"interval {value!r} is not positive", "interval", "give a duration greater than zero"
        )
    return seconds


def parse_anchor(value: Any) -> datetime:
    """A naive anchor date is taken as UTC, as Prefect's client does."""
    try:
        parsed = value if isinstance(value, datetime) else _DATETIME.validate_python(value)
    except ValidationError:
        raise ScheduleError(
            f"anchor_date {value!r} is not a date-time",
            "anchor_date",
            "use ISO 8601, e.g. '2024-01-01T09:00:00'",
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def iso(dt: datetime) -> str:
    """ISO 8601 keeping the offset the user gave, as the server stores it; UTC as ``Z``."""
    return dt.isoformat().replace("+00:00", "Z")


def build_schedule(entry: Any) -> dict[str, Any]:
    """One prefect.yaml schedule entry -> a DeploymentScheduleCreate body.

    An interval schedule without anchor_date gets none here: Prefect anchors it at the
    moment of writing (see ``anchored``), and that moment is no part of the desired state.
    """
    if not isinstance(entry, dict):
        raise ScheduleError(
            f"a schedule entry must be a mapping, not {type(entry).__name__}",
            None,
            "write e.g. '- cron: \"0 6 * * *\"'",
        )
    given = [k for k in KINDS if entry.get(k) is not None]
    if len(given) != 1:
        what = "none of" if not given else "more than one of"
        raise ScheduleError(
            f"a schedule entry has {what} 'cron', 'interval', 'rrule'"
            + (f" (it has {', '.join(given)})" if given else ""),
            given[1] if len(given) > 1 else None,
            "give exactly one kind per entry; add another '- ' entry for another schedule",
        )
    kind = given[0]
    tz = entry.get("timezone")
    if tz is not None:
        check_timezone(tz)
    schedule: dict[str, Any]
    if kind == "cron":
        day_or = entry.get("day_or")
        schedule = {
            "cron": check_cron(entry["cron"]),
            "timezone": tz,
            "day_or": True if day_or is None else _as_bool(day_or, "day_or"),
        }
    elif kind == "interval":
        schedule = {"interval": parse_interval(entry["interval"]), "timezone": tz or "UTC"}
        if entry.get("anchor_date"):
            schedule["anchor_date"] = iso(parse_anchor(entry["anchor_date"]))
    else:
        schedule = _rrule_schedule(entry["rrule"], tz)
    body: dict[str, Any] = {
        "schedule": schedule,
        "active": True if entry.get("active") is None else _as_bool(entry["active"], "active"),
        "max_scheduled_runs": _max_runs(entry.get("max_scheduled_runs")),
        "parameters": entry.get("parameters") or {},
        "slug": entry.get("slug") or None,
    }
    if entry.get("replaces"):
        body["replaces"] = entry["replaces"]
    return body


def _rrule_schedule(expr: Any, tz: str | None) -> dict[str, Any]:
    if isinstance(expr, str) and expr.lstrip().startswith("{"):
        # Prefect accepts a JSON object {"rrule": ..., "timezone": ...} in place of the rule.
        try:
            spec = json.loads(expr)
        except json.JSONDecodeError:
            spec = None
        if isinstance(spec, dict):
            rule = check_rrule(spec.get("rrule", ""))
            zone = tz or spec.get("timezone") or "UTC"
            return {"rrule": rule, "timezone": check_timezone(zone)}
    if not isinstance(expr, str):
        raise ScheduleError(
            f"rrule {expr!r} is not a string",
            "rrule",
            "write the rule as text, e.g. rrule: 'FREQ=WEEKLY;BYDAY=MO'",
        )
    return {"rrule": check_rrule(expr), "timezone": tz or "UTC"}


def _as_bool(value: Any, key: str) -> bool:
    try:
        return _BOOL.validate_python(value)
    except ValidationError:
        raise ScheduleError(f"{key} {value!r} is not a boolean", key, "use true or false") from None


def _max_runs(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ScheduleError(
            f"max_scheduled_runs {value!r} is not a positive integer",
            "max_scheduled_runs",
            "give a whole number of at least 1, e.g. max_scheduled_runs: 10, or delete it",
        )
    return value


def _shape(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "schedule": dict(body.get("schedule") or {}),
        "active": body.get("active", True),
        "max_scheduled_runs": body.get("max_scheduled_runs"),
        "parameters": body.get("parameters") or {},
        "slug": body.get("slug"),
    }


def anchored(body: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The body to send: an interval schedule without anchor is anchored at ``now``."""
    schedule = body["schedule"]
    if "interval" in schedule and "anchor_date" not in schedule:
        return {**body, "schedule": {**schedule, "anchor_date": iso(now)}}
    return body


def same_schedule(desired: dict[str, Any], current: dict[str, Any]) -> bool:
    """Whether the server's schedule ``current`` already is ``desired``.

    The server adds a DTSTART line to a bare rrule, and an interval schedule created
    without an anchor_date is anchored at creation time; neither is a change the user
    made, so neither counts as a difference.
    """
    want, have = _shape(desired), _shape(current)
    want_s, have_s = want.pop("schedule"), have.pop("schedule")
    if "interval" in want_s and "anchor_date" not in want_s:
        have_s.pop("anchor_date", None)
    if want != have or set(want_s) != set(have_s):
        return False
    for key, value in want_s.items():
        other = have_s[key]
        if key == "rrule" and "DTSTART" not in str(value).upper():
            lines = str(other).split("\n")
            if lines[0].upper().startswith("DTSTART"):
                other = "\n".join(lines[1:])
        elif key == "interval":
            value, other = float(value), float(other)
        elif key == "anchor_date":
            value, other = parse_anchor(value), parse_anchor(other)
        if value != other:
            return False
    return True


def same_schedules(desired: list[dict[str, Any]], current: list[dict[str, Any]]) -> bool:
    """Order-free comparison: every desired schedule matches a distinct current one."""
    if len(desired) != len(current):
        return False
    left = list(current)
    for want in desired:
        for i, have in enumerate(left):
            if same_schedule(want, have):
                del left[i]
                break
        else:
            return False
    return True
