import subprocess
import sys
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowdeploy import schedules as sched


def test_cron_defaults_match_prefect() -> None:
    body = sched.build_schedule({"cron": "0 1 * * *"})
    assert body == {
        "schedule": {"cron": "0 1 * * *", "timezone": None, "day_or": True},
        "active": True,
        "max_scheduled_runs": None,
        "parameters": {},
        "slug": None,
    }


def test_interval_forms_and_anchor() -> None:
    assert sched.build_schedule({"interval": 600})["schedule"] == {
        "interval": 600.0,
        "timezone": "UTC",
    }
    assert sched.build_schedule({"interval": "PT1H"})["schedule"]["interval"] == 3600.0
    assert sched.build_schedule({"interval": "01:00:00"})["schedule"]["interval"] == 3600.0
    body = sched.build_schedule(
        {"interval": 60, "anchor_date": "2024-01-01T00:00:00", "timezone": "America/New_York"}
    )
    assert body["schedule"]["anchor_date"] == "2024-01-01T00:00:00Z"
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    sent = sched.anchored(sched.build_schedule({"interval": 60}), now)
    assert sent["schedule"]["anchor_date"] == "2026-01-02T03:04:05Z"


def test_rrule_default_timezone() -> None:
    assert sched.build_schedule({"rrule": "FREQ=DAILY;COUNT=5"})["schedule"] == {
        "rrule": "FREQ=DAILY;COUNT=5",
        "timezone": "UTC",
    }


@pytest.mark.parametrize(
    ("entry", "key", "text"),
    [
        ({"cron": "0 1 * * *", "interval": 60}, "interval", "more than one"),
        ({"timezone": "UTC"}, None, "none of"),
        ({"cron": "61 * * * *"}, "cron", "not valid"),
        ({"cron": "H * * * *"}, "cron", ""),
        ({"rrule": "FREQ=SOMETIMES"}, "rrule", "not valid"),
        ({"interval": -5}, "interval", "not positive"),
        ({"interval": "soon"}, "interval", "not a duration"),
        ({"cron": "0 1 * * *", "timezone": "Mars/Olympus"}, "timezone", "IANA"),
        ({"cron": "0 1 * * *", "active": "maybe"}, "active", "boolean"),
    ],
)
def test_invalid_entries_name_the_key(entry: dict[str, object], key: str | None, text: str) -> None:
    with pytest.raises(sched.ScheduleError) as info:
        sched.build_schedule(entry)
    assert info.value.key == key
    assert text in str(info.value)


def test_same_schedule_ignores_server_additions() -> None:
    want = sched.build_schedule({"rrule": "FREQ=DAILY;COUNT=5"})
    have = {
        **want,
        "schedule": {"rrule": "DTSTART:20200101T000000\nFREQ=DAILY;COUNT=5", "timezone": "UTC"},
        "id": "x",
    }
    assert sched.same_schedule(want, have)
    interval = sched.build_schedule({"interval": 60})
    stored = {
        **interval,
        "schedule": {
            "interval": 60.0,
            "timezone": "UTC",
            "anchor_date": "2026-11-24T13:58:00.224373Z",
        },
    }
    assert sched.same_schedule(interval, stored)


def test_same_schedule_sees_real_changes() -> None:
    want = sched.build_schedule({"cron": "0 1 * * *"})
    assert not sched.same_schedule(want, sched.build_schedule({"cron": "0 2 * * *"}))
    assert not sched.same_schedule(
        want, sched.build_schedule({"cron": "0 1 * * *", "active": False})
    )
    anchored = sched.build_schedule({"interval": 60, "anchor_date": "2024-01-01T00:00:00"})
    other = sched.build_schedule({"interval": 60, "anchor_date": "2024-01-02T00:00:00"})
    assert not sched.same_schedule(anchored, other)


def test_same_schedules_is_order_free() -> None:
    a = sched.build_schedule({"cron": "0 1 * * *"})
    b = sched.build_schedule({"interval": 60})
    assert sched.same_schedules([a, b], [b, a])
    assert not sched.same_schedules([a, b], [a])


@pytest.mark.parametrize(
    "entry",
    [
        {"cron": "0 1 * * *", "interval": 60},
        {"timezone": "UTC"},
        {"cron": "61 * * * *"},
        {"cron": "H * * * *"},
        {"rrule": "FREQ=SOMETIMES"},
        {"rrule": 5},
        {"rrule": "FREQ=DAILY;" + "BYHOUR=1;" * 800},
        {"interval": True},
        {"interval": -5},
        {"anchor_date": "someday", "interval": 60},
        {"cron": "0 1 * * *", "timezone": "Mars/Olympus"},
        {"cron": "0 1 * * *", "day_or": "sometimes"},
        {"cron": "0 1 * * *", "max_scheduled_runs": 0},
        "0 1 * * *",
    ],
)
def test_every_refusal_says_what_to_do(entry: object) -> None:
    with pytest.raises(sched.ScheduleError) as info:
        sched.build_schedule(entry)
    assert info.value.fix, f"no fix for {info.value}"


def test_known_keys_are_prefects_schedule_model_plus_max_scheduled_runs() -> None:
    # RawScheduleConfig's fields in prefect/cli/deploy/_models.py (3.9.1).
    prefect = {
        "cron",
        "interval",
        "rrule",
        "timezone",
        "anchor_date",
        "active",
        "parameters",
        "slug",
        "replaces",
        "day_or",
    }
    assert set(sched.KNOWN_KEYS) == prefect | {"max_scheduled_runs"}


def _cron_item(low: int, high: int) -> st.SearchStrategy[str]:
    number = st.integers(low - 2, high + 2).map(str)
    return st.one_of(
        st.just("*"),
        st.builds(lambda n: f"*/{n}", st.integers(0, 70)),
        number,
        st.builds(lambda a, b: f"{a}-{b}", number, number),
        st.builds(lambda a, b, n: f"{a}-{b}/{n}", number, number, st.integers(0, 70)),
        st.builds(lambda a, n: f"{a}/{n}", number, st.integers(0, 70)),
        st.sampled_from(["0", "00", "05", "MON", "JAN", "L", "5W", "1#2", "?", "R", "H", ""]),
    )


def _cron_field(low: int, high: int) -> st.SearchStrategy[str]:
    return st.lists(_cron_item(low, high), min_size=1, max_size=3).map(",".join)


@settings(max_examples=1500, deadline=None)
@given(
    st.tuples(
        _cron_field(0, 59),
        _cron_field(0, 23),
        _cron_field(1, 31),
        _cron_field(1, 12),
        _cron_field(0, 7),
    ).map(" ".join)
)
def test_cron_validity_answered_without_croniter_agrees_with_croniter(expr: str) -> None:
    """The plain expressions answered without importing croniter are ones it accepts, and
    every other expression gets croniter's own answer."""
    from croniter import croniter

    assert sched.cron_is_valid(expr) == bool(croniter.is_valid(expr))


@pytest.mark.parametrize(
    "expr",
    ["0 6 * * 1-5", "*/15 * * * *", "0,30 8-18/2 1 1,6,12 0", "59 23 31 12 6"],
)
def test_plain_cron_expressions_are_answered_without_importing_croniter(expr: str) -> None:
    code = (
        "import sys; from flowdeploy import schedules; "
        f"assert schedules.cron_is_valid({expr!r}); assert 'croniter' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
