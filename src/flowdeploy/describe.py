"""Plan values in words (pure): schedules as phrases, large values as the keys that changed.

``schedule_in_words`` phrases a Prefect schedule object (cron, interval or rrule) for a job
summary cell. It never guesses: a cron expression or rrule it cannot phrase exactly is shown
as written. ``value_changes`` splits two large values into the paths that differ, and
``short_value`` renders one of those leaves compactly.
"""

from __future__ import annotations

import enum
import itertools
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from flowdeploy import schedules as sched

__all__ = [
    "MISSING",
    "schedule_in_words",
    "schedules_in_words",
    "short_value",
    "value_changes",
]


class _Missing(enum.Enum):
    MISSING = "MISSING"

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing.MISSING
"""Stands for a key one side of ``value_changes`` does not have."""

NONE_TEXT: Final = "—"
CUT: Final = "…"
_RRULE_SHOWN = 120


# --------------------------------------------------------------------------- schedules


def schedules_in_words(schedules: Sequence[Mapping[str, Any]] | None) -> str:
    """Several schedule entries in one cell, ``"; "``-separated; ``"—"`` for none."""
    if not schedules:
        return NONE_TEXT
    return "; ".join(schedule_in_words(s) for s in schedules)


def schedule_in_words(schedule: Mapping[str, Any]) -> str:
    """One schedule entry as a short phrase, e.g. ``every day at 02:00 Europe/Berlin``.

    Takes the API's wrapper ``{"schedule": {...}, "active": ...}`` or the bare inner object.
    The timezone is shown whenever the entry names one; an inactive entry gets ``(paused)``.
    """
    inner: Mapping[str, Any] = schedule
    nested = schedule.get("schedule")
    if isinstance(nested, Mapping):
        inner = nested
    text = _inner_in_words(inner)
    if _is_false(schedule.get("active", True)):
        text += " (paused)"
    return text


def _inner_in_words(inner: Mapping[str, Any]) -> str:
    kinds = [k for k in sched.KINDS if inner.get(k) is not None]
    if len(kinds) != 1:
        return short_value(dict(inner))
    tz = inner.get("timezone")
    zone = tz if isinstance(tz, str) and tz else None
    kind = kinds[0]
    if kind == "cron":
        text = _cron_text(inner["cron"], inner.get("day_or", True))
    elif kind == "interval":
        text = _interval_text(inner["interval"], inner.get("anchor_date"), zone)
    else:
        text = _rrule_text(inner["rrule"])
    return f"{text} {zone}" if zone else text


def _is_false(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().casefold() in {"false", "f", "no", "n", "off", "0"}
    return value is False or (isinstance(value, (int, float)) and value == 0)


@dataclass(frozen=True)
class _Calendar:
    """The wall-clock minutes a schedule fires at: a minute fires when every set holds it.

    ``None`` means any (day of month 1-31, month 1-12, weekday 0=Sunday..6).
    """

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None = None
    months: frozenset[int] | None = None
    weekdays: frozenset[int] | None = None


_ALL_MINUTES = frozenset(range(60))
_ALL_HOURS = frozenset(range(24))
_WEEKDAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

# ---- cron

_CRON_MACROS = {
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_CRON_MONTHS = {name[:3].lower(): i for i, name in enumerate(_MONTH_NAMES, start=1)}
_CRON_WEEKDAYS = {name[:3].lower(): i for i, name in enumerate(_WEEKDAY_NAMES)}
# (lowest, highest for "*", highest written value, names)
_CRON_FIELDS: tuple[tuple[int, int, int, Mapping[str, int]], ...] = (
    (0, 59, 59, {}),
    (0, 23, 23, {}),
    (1, 31, 31, {}),
    (1, 12, 12, _CRON_MONTHS),
    (0, 6, 7, _CRON_WEEKDAYS),
)
_CRON_PART = re.compile(r"(?:(\*)|(\w+)(?:-(\w+))?)(?:/(\d+))?", re.ASCII)


def _cron_text(expr: Any, day_or: Any) -> str:
    if not isinstance(expr, str):
        return f"cron {short_value(expr)}"
    words = _calendar_words(_cron_calendar(expr))
    if words is not None:
        return words
    text = f"cron `{expr.strip()}`"
    fields = _CRON_MACROS.get(expr.strip().lower(), expr).split()
    if _is_false(day_or) and len(fields) >= 5 and fields[2] != "*" and fields[4] != "*":
        text += " (day_or false)"
    return text


def _cron_calendar(expr: str) -> _Calendar | None:
    """The calendar of a plain five-field cron expression, or None when it is anything else.

    Only ``*``, numbers, names, ``a-b`` ranges (a < b), ``*/n`` and ``a-b/n`` steps are
    understood. When both day of month and day of week are restricted, whether they
    combine with OR or AND depends on ``day_or`` and on croniter's reading of the fields,
    so that case is left to the caller's fallback.
    """
    expr = _CRON_MACROS.get(expr.strip().lower(), expr)
    fields = expr.split()
    if len(fields) != 5:
        return None
    try:
        if not sched.cron_is_valid(expr):
            return None
    except Exception:  # croniter is untyped; anything it raises means "not understood"
        return None
    sets = [_cron_field(text, *spec) for text, spec in zip(fields, _CRON_FIELDS, strict=True)]
    minutes, hours, days, months, weekdays = sets
    if minutes is None or hours is None or days is None or months is None or weekdays is None:
        return None
    if fields[2] != "*" and fields[4] != "*":
        return None
    return _Calendar(
        minutes=minutes,
        hours=hours,
        days=None if len(days) == 31 else days,
        months=None if len(months) == 12 else months,
        weekdays=None if len(weekdays) == 7 else weekdays,
    )


def _cron_field(
    text: str, low: int, star_high: int, high: int, names: Mapping[str, int]
) -> frozenset[int] | None:
    values: set[int] = set()
    for part in text.lower().split(","):
        match = _CRON_PART.fullmatch(part)
        if match is None:
            return None
        star, first, last, step_text = match.groups()
        step = int(step_text) if step_text else 1
        if step < 1:
            return None
        if star:
            start, end = low, star_high
        else:
            start_value = _cron_value(first, low, high, names)
            if start_value is None:
                return None
            if last is None:
                if step_text:  # "a/n": croniter versions disagree on it
                    return None
                values.add(start_value)
                continue
            end_value = _cron_value(last, low, high, names)
            if end_value is None or end_value <= start_value:
                return None  # croniter reads "a-a" as the whole field; wraps are not portable
            start, end = start_value, end_value
        values.update(range(start, end + 1, step))
    if high == 7 and 7 in values:  # day of week: 7 is Sunday
        values.discard(7)
        values.add(0)
    return frozenset(values)


def _cron_value(text: str, low: int, high: int, names: Mapping[str, int]) -> int | None:
    if text.isascii() and text.isdigit():
        value = int(text)
    elif text in names:
        value = names[text]
    else:
        return None
    return value if low <= value <= high else None


# ---- interval


def _interval_text(value: Any, anchor: Any, zone: str | None) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, (str, timedelta)):
        try:
            seconds = sched.parse_interval(value)
        except sched.ScheduleError:
            return f"interval {short_value(value)}"
    else:
        return f"interval {short_value(value)}"
    if not math.isfinite(seconds) or seconds <= 0:
        return f"interval {short_value(value)}"
    duration = _duration(seconds)
    single = duration.startswith("1 ") and " " not in duration[2:]
    text = f"every {duration[2:] if single else duration}"  # "every hour", not "every 1 hour"
    if anchor:
        text += _anchor_text(anchor, seconds, zone)
    return text


def _duration(seconds: float) -> str:
    if seconds != int(seconds):
        return f"{seconds} seconds"
    whole = int(seconds)
    if whole < 3600 and whole % 60:
        return _count(whole, "second")
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    units = ((days, "day"), (hours, "hour"), (minutes, "minute"), (secs, "second"))
    return " ".join(_count(n, unit) for n, unit in units if n)


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def _anchor_text(anchor: Any, seconds: float, zone: str | None) -> str:
    """`` from <anchor>`` when the anchor sets the phase: not for an interval that divides a
    day and is anchored on a clock boundary of it (every hour from 00:00 is every hour)."""
    try:
        moment = sched.parse_anchor(anchor)
    except sched.ScheduleError:
        return f" from {anchor}"
    known = zone is not None and zone in sched.timezones()
    local = moment.astimezone(ZoneInfo(zone)) if known and zone else moment
    of_day = timedelta(
        hours=local.hour,
        minutes=local.minute,
        seconds=local.second,
        microseconds=local.microsecond,
    ).total_seconds()
    if seconds <= 86400 and 86400 % seconds == 0 and of_day % seconds == 0:
        return ""
    text = local.strftime("%Y-%m-%d %H:%M")
    if local.second or local.microsecond:
        text += local.strftime(":%S")
    if not known:
        text += " " + _offset(local.utcoffset())
    return f" from {text}"


def _offset(offset: timedelta | None) -> str:
    if not offset:
        return "UTC"
    minutes = round(offset.total_seconds() / 60)
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02}:{minutes:02}"


# ---- rrule

_FREQS = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY")
_RRULE_KEYS = frozenset(
    {"FREQ", "INTERVAL", "BYDAY", "BYHOUR", "BYMINUTE", "BYSECOND", "BYMONTH", "BYMONTHDAY", "WKST"}
)
_RRULE_WEEKDAYS = {name[:2].upper(): i for i, name in enumerate(_WEEKDAY_NAMES)}
_DTSTART = re.compile(r"(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2}))?Z?")
PREFECT_RRULE_START: Final = datetime(2020, 1, 1)
"""Prefect's default DTSTART for a rule without one (wall time in the schedule's zone)."""


@dataclass(frozen=True)
class _Rule:
    freq: str
    interval: int
    start: datetime
    byday: frozenset[int] | None
    byhour: frozenset[int] | None
    byminute: frozenset[int] | None
    bymonth: frozenset[int] | None
    bymonthday: frozenset[int] | None


def _rrule_text(expr: Any) -> str:
    if not isinstance(expr, str):
        return f"rrule {short_value(expr)}"
    rule = _parse_rrule(expr)
    words = _rule_words(rule) if rule else None
    if words is not None:
        return words
    shown = " ".join(line.strip() for line in expr.strip().splitlines() if line.strip())
    if len(shown) > _RRULE_SHOWN:
        shown = shown[: _RRULE_SHOWN - 1] + CUT
    return f"rrule `{shown}`"


def _parse_rrule(expr: str) -> _Rule | None:
    """The simple parts of a single rule, or None for anything else (COUNT, UNTIL, sets,
    ordinal weekdays, BYSETPOS...)."""
    import dateutil.rrule  # only for rrule schedules

    try:
        parsed = dateutil.rrule.rrulestr(expr, dtstart=PREFECT_RRULE_START, cache=False)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError, OverflowError):
        return None
    if not isinstance(parsed, dateutil.rrule.rrule):
        return None
    start = PREFECT_RRULE_START
    body: str | None = None
    for raw in expr.upper().splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("DTSTART"):
            match = _DTSTART.fullmatch(line.rsplit(":", 1)[-1])
            if match is None:
                return None
            y, mo, d, h, mi, s = (int(g) if g else 0 for g in match.groups())
            start = datetime(y, mo, d, h, mi, s)
        elif body is None and (line.startswith("RRULE:") or ":" not in line):
            body = line.removeprefix("RRULE:")
        else:
            return None
    if body is None:
        return None
    parts: dict[str, str] = {}
    for pair in body.split(";"):
        key, eq, value = pair.partition("=")
        if not eq or key in parts or key not in _RRULE_KEYS:
            return None
        parts[key] = value
    freq = parts.get("FREQ", "")
    interval = _int(parts.get("INTERVAL", "1"))
    if freq not in _FREQS or interval is None or interval < 1:
        return None
    if "WKST" in parts and interval != 1:
        return None
    seconds = _ints(parts.get("BYSECOND"), 0, 59)
    if (seconds is None and start.second) or (seconds is not None and seconds != {0}):
        return None
    byday: frozenset[int] | None = None
    if "BYDAY" in parts:
        names = parts["BYDAY"].split(",")
        if not all(n in _RRULE_WEEKDAYS for n in names):
            return None
        byday = frozenset(_RRULE_WEEKDAYS[n] for n in names)
    fields = {
        key: _ints(parts.get(key), low, high)
        for key, low, high in (("BYHOUR", 0, 23), ("BYMINUTE", 0, 59), ("BYMONTH", 1, 12))
    }
    monthdays = _ints(parts.get("BYMONTHDAY"), 1, 31)
    for key, found in (*fields.items(), ("BYMONTHDAY", monthdays)):
        if key in parts and found is None:
            return None
    return _Rule(
        freq=freq,
        interval=interval,
        start=start,
        byday=byday,
        byhour=fields["BYHOUR"],
        byminute=fields["BYMINUTE"],
        bymonth=fields["BYMONTH"],
        bymonthday=monthdays,
    )


def _int(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() else None


def _ints(text: str | None, low: int, high: int) -> frozenset[int] | None:
    if text is None:
        return None
    values = [_int(v) for v in text.split(",")]
    if any(v is None or not low <= v <= high for v in values):
        return None
    return frozenset(v for v in values if v is not None)


def _weekday(moment: datetime) -> int:
    """0 = Sunday, as cron counts."""
    return (moment.weekday() + 1) % 7


def _rrule_calendar(rule: _Rule) -> _Calendar | None:
    """The calendar of a rule, or None when its runs depend on more than the wall clock and
    the date (every 3 days, every 2 weeks, every 5 hours...).

    Follows dateutil's defaults: what a rule does not say is taken from DTSTART. A step of
    minutes that divides an hour, or of hours that divides a day, keeps DTSTART's phase.
    """
    start, n = rule.start, rule.interval
    if n > 1 and not (
        (rule.freq == "MINUTELY" and 60 % n == 0) or (rule.freq == "HOURLY" and 24 % n == 0)
    ):
        return None
    defaults = rule.byday is None and rule.bymonthday is None
    minutes = rule.byminute
    if rule.freq == "MINUTELY":
        minutes = _phase(60, n, start.minute, minutes)
    elif minutes is None:
        minutes = frozenset({start.minute})
    hours = rule.byhour
    if rule.freq == "HOURLY":
        hours = _phase(24, n, start.hour, hours)
    elif hours is None:
        hours = _ALL_HOURS if rule.freq == "MINUTELY" else frozenset({start.hour})
    weekdays = rule.byday
    if weekdays is None and defaults and rule.freq == "WEEKLY":
        weekdays = frozenset({_weekday(start)})
    days = rule.bymonthday
    if days is None and defaults and rule.freq in ("YEARLY", "MONTHLY"):
        days = frozenset({start.day})
    months = rule.bymonth
    if months is None and defaults and rule.freq == "YEARLY":
        months = frozenset({start.month})
    if not minutes or not hours:
        return None
    return _Calendar(
        minutes=minutes,
        hours=hours,
        days=None if days is not None and len(days) == 31 else days,
        months=None if months is not None and len(months) == 12 else months,
        weekdays=None if weekdays is not None and len(weekdays) == 7 else weekdays,
    )


def _phase(size: int, step: int, first: int, only: frozenset[int] | None) -> frozenset[int]:
    values = frozenset(range(first % step, size, step))
    return values if only is None else values & only


def _rule_words(rule: _Rule) -> str | None:
    calendar = _rrule_calendar(rule)
    if calendar is not None:
        return _calendar_words(calendar)
    n, start = rule.interval, rule.start
    filtered = rule.bymonth is not None or rule.bymonthday is not None
    if rule.freq == "MINUTELY":
        if filtered or rule.byday or rule.byhour or rule.byminute:
            return None
        return f"every {n} minutes"
    if rule.freq == "HOURLY":
        if filtered or rule.byday or rule.byhour:
            return None
        minutes = rule.byminute or frozenset({start.minute})
        if len(minutes) != 1:
            return None
        (minute,) = minutes
        return f"every {n} hours" + (f" at minute {minute}" if minute else "")
    if rule.freq in ("DAILY", "WEEKLY") and not filtered:
        times = _time_words(
            rule.byminute or frozenset({start.minute}), rule.byhour or frozenset({start.hour})
        )
        if times is None or times[1]:
            return None
        if rule.freq == "DAILY":
            return None if rule.byday else f"every {n} days {times[0]}"
        days = rule.byday or frozenset({_weekday(start)})
        return f"every {n} weeks on {_weekdays_words(days)} {times[0]}"
    return None


# ---- phrasing a calendar


def _calendar_words(calendar: _Calendar | None) -> str | None:
    if calendar is None or (calendar.days is not None and calendar.weekdays is not None):
        return None
    times = _time_words(calendar.minutes, calendar.hours)
    if times is None:
        return None
    text, periodic = times
    months = _runs_words(sorted(calendar.months), _month_name) if calendar.months else None
    if calendar.weekdays is not None:
        where = "on " + _weekdays_words(calendar.weekdays) + (f" in {months}" if months else "")
    elif calendar.days is not None:
        days = sorted(calendar.days)
        where = ("on day " if len(days) == 1 else "on days ") + _runs_words(days, str)
        where += f" of {months}" if months else " of the month"
    elif months:
        return f"{text} in {months}" if periodic else f"every day {text} in {months}"
    else:
        return text if periodic else f"every day {text}"
    return f"{text} {where}"


def _time_words(minutes: frozenset[int], hours: frozenset[int]) -> tuple[str, bool] | None:
    """The times of day: ``(phrase, periodic)``; periodic phrases stand without "every day"."""
    ms, hs = sorted(minutes), sorted(hours)
    if not ms or not hs:
        return None
    step = _step(ms)
    if (
        step is not None  # minutes 0, step, 2*step... filling the hour
        and ms[0] == 0
        and len(ms) * step == 60
        and (hours == _ALL_HOURS or len(ms) * len(hs) > 2)
    ):
        every = "every minute" if step == 1 else f"every {step} minutes"
        if hours == _ALL_HOURS:
            return every, True
        spans = _spans(hs)
        if len(spans) <= 3:
            ranges = [f"from {a:02}:00 to {b:02}:{60 - step:02}" for a, b in spans]
            return f"{every} {_join(ranges)}", True
        return None
    if len(ms) == 1:
        m = ms[0]
        if hours == _ALL_HOURS:
            return ("every hour" if m == 0 else f"every hour at minute {m}"), True
        hour_step = _step(hs)
        if len(hs) > 4 and hour_step is not None:
            if hs[0] == 0 and 24 % hour_step == 0 and len(hs) * hour_step == 24:
                return f"every {hour_step} hours" + (f" at minute {m}" if m else ""), True
            every = "every hour" if hour_step == 1 else f"every {hour_step} hours"
            return f"{every} from {hs[0]:02}:{m:02} to {hs[-1]:02}:{m:02}", True
    if len(ms) * len(hs) <= 6:
        return "at " + _join([f"{h:02}:{m:02}" for h in hs for m in ms]), False
    if hours == _ALL_HOURS and len(ms) <= 4:
        return "every hour at minutes " + _join([str(m) for m in ms]), True
    return None


def _step(values: Sequence[int]) -> int | None:
    """The common difference of an arithmetic progression of two or more values."""
    if len(values) < 2:
        return None
    step = values[1] - values[0]
    if any(b - a != step for a, b in itertools.pairwise(values)):
        return None
    return step


def _spans(values: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted values as maximal runs of consecutive numbers."""
    spans: list[tuple[int, int]] = []
    for v in values:
        if spans and v == spans[-1][1] + 1:
            spans[-1] = (spans[-1][0], v)
        else:
            spans.append((v, v))
    return spans


def _runs_words(values: Sequence[int], name: Callable[[int], str]) -> str:
    """``1 to 5 and 7``: runs of three or more as ranges, the rest listed."""
    items: list[str] = []
    for a, b in _spans(values):
        if b - a >= 2:
            items.append(f"{name(a)} to {name(b)}")
        else:
            items.extend(name(v) for v in range(a, b + 1))
    return _join(items)


def _weekdays_words(weekdays: Iterable[int]) -> str:
    monday_first = sorted(7 if d == 0 else d for d in weekdays)
    return _runs_words(monday_first, lambda d: _WEEKDAY_NAMES[d % 7])


def _month_name(month: int) -> str:
    return _MONTH_NAMES[month - 1]


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


# --------------------------------------------------------------------------- values


def value_changes(
    old: Any, new: Any, *, path: str = "", limit: int = 50
) -> list[tuple[str, Any, Any]]:
    """The paths at which ``old`` and ``new`` differ, as ``(path, old, new)``.

    Mappings are compared key by key (``job_variables.env.LOG_LEVEL``, or
    ``env["A.B"]`` for a key that is not a plain name), lists of equal length element by
    element (``schedules[0].schedule.cron``); anything else is reported whole. A key only
    one side has is ``MISSING`` on the other. Booleans differ from numbers (``1`` is not
    ``true``). With more than ``limit`` changes, the first ``limit - 1`` are returned and a
    last entry ``("…", MISSING, "N more changes")`` counts the rest.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    found: list[tuple[str, Any, Any]] = []
    more = 0
    for change in _changes(old, new, path):
        if len(found) < limit:
            found.append(change)
        else:
            more += 1
    if more:  # the last entry found makes room for the count: more + 1 are not shown
        found[-1] = (CUT, MISSING, f"{more + 1} more changes")
    return found


def _changes(old: Any, new: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in _keys(old, new):
            sub = _key_path(path, key)
            if key not in new:
                yield sub, old[key], MISSING
            elif key not in old:
                yield sub, MISSING, new[key]
            else:
                yield from _changes(old[key], new[key], sub)
    elif _is_list(old) and _is_list(new) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            yield from _changes(a, b, f"{path}[{i}]")
    elif not _same(old, new):
        yield path, old, new


def _keys(old: Mapping[Any, Any], new: Mapping[Any, Any]) -> list[Any]:
    keys = list(old) + [k for k in new if k not in old]
    try:
        return sorted(keys)
    except TypeError:
        return keys


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def _key_path(path: str, key: Any) -> str:
    if isinstance(key, str) and _NAME.fullmatch(key):
        return f"{path}.{key}" if path else key
    if key is None or isinstance(key, (str, int, float, bool)):
        return f"{path}[{json.dumps(key, ensure_ascii=False)}]"
    return f"{path}[{key!r}]"


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, bool) or isinstance(new, bool):
        return isinstance(old, bool) and isinstance(new, bool) and old == new
    if isinstance(old, Mapping) or isinstance(new, Mapping) or _is_list(old) or _is_list(new):
        return False  # two containers that are alike were compared inside
    try:
        return bool(old == new)
    except Exception:  # a value whose == raises is not known to be equal
        return False


def short_value(value: Any, limit: int = 80) -> str:
    """Compact JSON of one value (keys sorted); ``(absent)`` for MISSING; cut at ``limit``."""
    if value is MISSING:
        text = "(absent)"
    else:
        try:
            text = _json(value, sort_keys=True)
        except TypeError:  # keys of mixed types cannot be sorted
            text = _json(value, sort_keys=False)
    if len(text) > limit:
        text = text[: max(limit - 1, 0)] + CUT
    return text


def _json(value: Any, *, sort_keys: bool) -> str:
    return json.dumps(
        value,
        sort_keys=sort_keys,
        ensure_ascii=False,
        separators=(", ", ": "),
        default=_json_default,
    )


def _json_default(value: Any) -> Any:
    if value is MISSING:
        return "(absent)"
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
