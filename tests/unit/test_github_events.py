"""github.py: event files as the runner writes them, and the range each event asks for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flowdeploy.errors import ConfigError
from flowdeploy.github import RangeRequest, is_null_sha, load_event, range_request

ZEROS = "0" * 40
BEFORE = "1a2b3c4d" * 5
AFTER = "5d6e7f80" * 5
GITHUB_SHA = "9" * 40


def from_file(tmp_path: Path, name: str, event: dict[str, Any]) -> RangeRequest | None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event), encoding="utf-8")
    return range_request(
        base=None, head=None, event_name=name, event=load_event(path), sha=GITHUB_SHA
    )


def push(
    ref: str = "refs/heads/main", before: str = BEFORE, after: str = AFTER, **extra: Any
) -> dict[str, Any]:
    return {
        "ref": ref,
        "before": before,
        "after": after,
        "created": before == ZEROS,
        "deleted": after == ZEROS,
        "repository": {"default_branch": "main", "full_name": "team/flows"},
        **extra,
    }


def test_push_to_a_branch(tmp_path: Path) -> None:
    assert from_file(tmp_path, "push", push()) == RangeRequest(
        kind="push",
        base=BEFORE,
        head=AFTER,
        branch="main",
        default_branch="main",
        reason="push to main",
    )


def test_push_without_after_uses_the_run_sha(tmp_path: Path) -> None:
    event = push()
    del event["after"]
    request = from_file(tmp_path, "push", event)
    assert request is not None and (request.kind, request.head) == ("push", GITHUB_SHA)


def test_new_branch(tmp_path: Path) -> None:
    request = from_file(tmp_path, "push", push("refs/heads/feature/x", before=ZEROS))
    assert request == RangeRequest(
        kind="new-branch",
        head=AFTER,
        branch="feature/x",
        default_branch="main",
        reason="new branch feature/x",
    )


def test_tag_push_is_everything(tmp_path: Path) -> None:
    request = from_file(tmp_path, "push", push("refs/tags/v1.2", before=ZEROS))
    assert request == RangeRequest(kind="everything", head=AFTER, reason="tag push v1.2")


@pytest.mark.parametrize(
    "event",
    [
        push("refs/heads/gone", after=ZEROS),
        # `deleted` alone is enough, whatever `after` says.
        {**push("refs/heads/gone"), "deleted": True},
    ],
)
def test_deleted_branch(tmp_path: Path, event: dict[str, Any]) -> None:
    request = from_file(tmp_path, "push", event)
    assert request is not None
    assert (request.kind, request.base, request.reason) == (
        "deleted",
        BEFORE,
        "branch gone deleted",
    )


def test_deleted_tag_deploys_nothing_rather_than_everything(tmp_path: Path) -> None:
    request = from_file(tmp_path, "push", push("refs/tags/v1", after=ZEROS))
    assert request is not None and (request.kind, request.reason) == ("deleted", "tag v1 deleted")


def test_sha256_zeros_are_null_too() -> None:
    assert is_null_sha("0" * 64) and is_null_sha(ZEROS)
    assert not is_null_sha("") and not is_null_sha("0" * 39 + "1")


@pytest.mark.parametrize("name", ["pull_request", "pull_request_target"])
def test_pull_request(tmp_path: Path, name: str) -> None:
    event = {
        "action": "opened",
        "number": 12,
        "pull_request": {
            "number": 12,
            "base": {"ref": "main", "sha": BEFORE},
            "head": {"ref": "feature", "sha": AFTER},
        },
        "repository": {"default_branch": "main"},
    }
    assert from_file(tmp_path, name, event) == RangeRequest(
        kind="pull-request",
        base=BEFORE,
        head=AFTER,
        branch="feature",
        default_branch="main",
        reason="pull request #12",
    )


def test_pull_request_without_shas_is_everything(tmp_path: Path) -> None:
    request = from_file(tmp_path, "pull_request", {"number": 3, "pull_request": {}})
    assert request is not None and (request.kind, request.head) == ("everything", GITHUB_SHA)


@pytest.mark.parametrize(
    "name", ["workflow_dispatch", "schedule", "release", "repository_dispatch", "merge_group"]
)
def test_other_events_are_everything(tmp_path: Path, name: str) -> None:
    assert from_file(tmp_path, name, {}) == RangeRequest(
        kind="everything", head=GITHUB_SHA, reason=f"{name} event"
    )


def test_cli_base_wins_over_the_event() -> None:
    request = range_request(base="main", head=None, event_name="push", event=push(), sha=GITHUB_SHA)
    assert request == RangeRequest(kind="explicit", base="main", head="HEAD", reason="--base main")
    request = range_request(base="v1", head="v2", event_name=None, event=None, sha=None)
    assert request is not None and (request.base, request.head) == ("v1", "v2")


def test_head_without_base_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="--head was given without --base"):
        range_request(base=None, head="HEAD", event_name=None, event=None, sha=None)


def test_nothing_asked_is_none() -> None:
    assert range_request(base=None, head=None, event_name=None, event=None, sha=GITHUB_SHA) is None


@pytest.mark.parametrize(
    ("content", "why"),
    [(None, "No such file"), ("{not json", "Expecting property name"), ("[1, 2]", "JSON list")],
)
def test_unreadable_event_file_is_a_config_error(
    tmp_path: Path, content: str | None, why: str
) -> None:
    path = tmp_path / "event.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_event(path)
    assert why in info.value.why and info.value.where is not None
    assert "GITHUB_EVENT_PATH" in info.value.fix


def test_request_is_frozen_and_strict() -> None:
    with pytest.raises(ValueError):
        RangeRequest(kind="push", reason="x", forced=True)  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        RangeRequest(kind="sideways", reason="x")  # type: ignore[arg-type]
