"""The GitHub runner contract: the event file and what range of commits an event asks for.

Pure: no git, no network. The runner describes the event in a JSON file (``GITHUB_EVENT_PATH``)
and names it in ``GITHUB_EVENT_NAME``; this module turns both into a ``RangeRequest`` that
``flowdeploy.git.resolve_comparison`` resolves against the clone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from flowdeploy.errors import ConfigError, Location

RangeKind = Literal["explicit", "push", "new-branch", "pull-request", "deleted", "everything"]

_PULL_REQUEST_EVENTS = frozenset({"pull_request", "pull_request_target"})


class RangeRequest(BaseModel):
    """Which commits to compare, as asked for; ``git.resolve_comparison`` finds the commits."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: RangeKind
    base: str | None = None
    head: str = "HEAD"
    default_branch: str | None = None
    branch: str | None = None
    reason: str


def load_event(path: Path) -> dict[str, Any]:
    """The webhook payload the runner wrote for this run."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad_event(path, str(exc)) from exc
    if not isinstance(data, dict):
        raise _bad_event(path, f"it holds a JSON {type(data).__name__}, not an object")
    return data


def _bad_event(path: Path, why: str) -> ConfigError:
    return ConfigError(
        "cannot read the GitHub event file",
        why=why,
        fix="GITHUB_EVENT_PATH must name the event JSON the runner writes; unset it outside "
        "GitHub Actions, or pass --base",
        where=Location(path),
    )


def range_request(
    *,
    base: str | None,
    head: str | None,
    event_name: str | None,
    event: Mapping[str, Any] | None,
    sha: str | None,
) -> RangeRequest | None:
    """What to compare: the CLI's --base/--head win over the event; None when neither says."""
    if base:
        shown = f"--base {base}" + (f" --head {head}" if head else "")
        return RangeRequest(kind="explicit", base=base, head=head or "HEAD", reason=shown)
    if head:
        raise ConfigError(
            "--head was given without --base",
            why="a range needs the commit to compare from",
            fix="add --base (a branch, tag or commit), or drop --head",
        )
    if not event_name:
        return None
    payload: Mapping[str, Any] = event or {}
    if event_name == "push":
        return _push(payload, sha)
    if event_name in _PULL_REQUEST_EVENTS:
        return _pull_request(payload, sha, event_name)
    return RangeRequest(kind="everything", head=sha or "HEAD", reason=f"{event_name} event")


def _push(event: Mapping[str, Any], sha: str | None) -> RangeRequest:
    ref = _text(event.get("ref")) or ""
    before = _text(event.get("before"))
    after = _text(event.get("after"))
    head = after if after and not is_null_sha(after) else (sha or "HEAD")
    branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
    default_branch = _text(_get(event, "repository", "default_branch"))
    # Deletion first: a deleted tag is nothing to deploy, not a reason to deploy everything.
    if event.get("deleted") is True or (after is not None and is_null_sha(after)):
        return RangeRequest(
            kind="deleted",
            base=before if before and not is_null_sha(before) else None,
            branch=branch,
            default_branch=default_branch,
            reason=f"{_ref_label(ref)} deleted",
        )
    if ref.startswith("refs/tags/"):
        tag = ref.removeprefix("refs/tags/")
        return RangeRequest(kind="everything", head=head, reason=f"tag push {tag}")
    if before is None:
        return RangeRequest(kind="everything", head=head, reason="push event without 'before'")
    if is_null_sha(before):
        return RangeRequest(
            kind="new-branch",
            head=head,
            branch=branch,
            default_branch=default_branch,
            reason=f"new branch {branch or ref}",
        )
    return RangeRequest(
        kind="push",
        base=before,
        head=head,
        branch=branch,
        default_branch=default_branch,
        reason=f"push to {branch or ref or 'a ref'}",
    )


def _pull_request(event: Mapping[str, Any], sha: str | None, event_name: str) -> RangeRequest:
    number = event.get("number", _get(event, "pull_request", "number"))
    label = f"pull request #{number}" if number is not None else "pull request"
    base = _text(_get(event, "pull_request", "base", "sha"))
    head = _text(_get(event, "pull_request", "head", "sha"))
    if base is None or head is None:
        return RangeRequest(
            kind="everything",
            head=sha or "HEAD",
            reason=f"{event_name} event without pull_request.base.sha/head.sha",
        )
    return RangeRequest(
        kind="pull-request",
        base=base,
        head=head,
        branch=_text(_get(event, "pull_request", "head", "ref")),
        default_branch=_text(_get(event, "repository", "default_branch")),
        reason=label,
    )


def _ref_label(ref: str) -> str:
    if ref.startswith("refs/heads/"):
        return f"branch {ref.removeprefix('refs/heads/')}"
    if ref.startswith("refs/tags/"):
        return f"tag {ref.removeprefix('refs/tags/')}"
    return ref or "ref"


def is_null_sha(sha: str) -> bool:
    """The all-zeros name GitHub gives a ref that does not exist (before a create, after a
    delete); 40 zeros for SHA-1 repositories, 64 for SHA-256."""
    return bool(sha) and set(sha) == {"0"}


def _get(data: Mapping[str, Any], *keys: str) -> object:
    value: object = data
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
