"""Secrets and their forms: masks, redaction, and values never rendered at all."""

from __future__ import annotations

import base64
import json

from flowdeploy.masking import (
    SECRET_CHANGED,
    hide_secret_change,
    redact,
    secret_forms,
    strip_userinfo,
    url_secrets,
)
from flowdeploy.plan import Action, FieldChange, Plan, PlannedDeployment
from flowdeploy.run import shown_plan

SECRET = 'p@ss"w\\rd-0123'


def test_every_derived_form_is_redacted() -> None:
    basic = base64.b64encode(b"admin:" + SECRET.encode()).decode()
    text = "\n".join(
        [
            f"raw {SECRET}",
            f"json {json.dumps(SECRET)}",
            f"basic Basic {basic}",
            "multi line-one-of-it\nline-two-of-it",
        ]
    )
    out = redact(text, [SECRET, f"admin:{SECRET}", "line-one-of-it\nline-two-of-it"])
    assert SECRET not in out and basic not in out and json.dumps(SECRET)[1:-1] not in out
    assert "line-one" not in out and "line-two" not in out
    assert out == 'raw ***\njson "***"\nbasic Basic ***\nmulti ***'


def test_short_fragments_are_not_masked_alone() -> None:
    assert "ab" not in secret_forms(["ab\nlong-enough-line"])
    assert redact("a tab b", ["ab\nlong-enough-line"]) == "a tab b"


def test_url_credentials() -> None:
    url = "https://bob:s%40cret@prefect.example/api"
    assert strip_userinfo(url) == "https://prefect.example/api"
    assert {"bob:s%40cret", "s%40cret", "s@cret"} <= set(url_secrets(url))
    assert url_secrets("https://prefect.example/api") == ()


def test_a_rotated_secret_is_shown_as_changed_on_both_sides() -> None:
    old = {"env": {"TOKEN": "old-secret-value", "LOG": "INFO"}, "image": "x"}
    new = {"env": {"TOKEN": "new-secret-value", "LOG": "DEBUG"}, "image": "x"}
    before, after = hide_secret_change(old, new, ["new-secret-value"])
    assert before["env"] == {"TOKEN": SECRET_CHANGED, "LOG": "INFO"}
    assert after["env"] == {"TOKEN": SECRET_CHANGED, "LOG": "DEBUG"}
    assert before["image"] == after["image"] == "x"


def test_the_plan_shown_carries_no_secret_nor_its_predecessor() -> None:
    plan = Plan(
        items=(
            PlannedDeployment(
                name="etl/a",
                action=Action.UPDATE,
                changes={
                    "parameters": FieldChange(old={"key": "rotated-away"}, new={"key": SECRET})
                },
            ),
        )
    )
    shown = shown_plan(plan, [SECRET])
    dumped = shown.model_dump_json()
    assert SECRET not in dumped and "rotated-away" not in dumped
    assert json.dumps(SECRET)[1:-1] not in dumped
    assert shown.items[0].changes["parameters"].new == {"key": SECRET_CHANGED}
