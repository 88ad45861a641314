"""Everything flowdeploy knows about GitHub: the runner's event file, and the REST API.

The event half is pure (no git, no network). The runner describes the event in a JSON file
(``GITHUB_EVENT_PATH``) and names it in ``GITHUB_EVENT_NAME``; ``range_request`` turns both into
a ``RangeRequest`` that ``flowdeploy.git.resolve_comparison`` resolves against the clone, and
the small helpers below read the pull-request facts the PR comment needs.

The REST half (``GitHubApi``) is the only code that talks to GitHub: one sticky comment per pull
request, found again by a hidden marker and edited in place. ``fit_comment`` keeps a body under
GitHub's size limit without leaving a fence or a ``<details>`` open.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict

from flowdeploy.errors import ConfigError, FlowdeployError, Location

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


# -- pull-request facts ------------------------------------------------------------------------


def pull_request_number(event: Mapping[str, Any]) -> int | None:
    """The pull request this event is about, or None."""
    for value in (_get(event, "pull_request", "number"), event.get("number")):
        # bool is an int to Python; a payload's `true` is not a pull-request number.
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def is_fork_pull_request(event: Mapping[str, Any]) -> bool:
    """Whether the pull request comes from another repository.

    Such a run gets a read-only GITHUB_TOKEN, so a comment cannot be written. When in doubt
    this says True: the cost is a plan shown only in the job summary, not a failed job.
    """
    pull_request = event.get("pull_request")
    if not isinstance(pull_request, Mapping):
        return False
    head = pull_request.get("head")
    if isinstance(head, Mapping) and "repo" in head and head["repo"] is None:
        # GitHub nulls head.repo when the head repository was deleted: only a fork can be.
        return True
    head_name = _text(_get(pull_request, "head", "repo", "full_name"))
    base_name = _text(_get(pull_request, "base", "repo", "full_name")) or _text(
        _get(event, "repository", "full_name")
    )
    if head_name and base_name:
        # Repository names are case-insensitive on GitHub.
        return head_name.casefold() != base_name.casefold()
    # `fork` alone also holds for a branch of a repository that is itself a fork, so it only
    # decides when the names are missing.
    return _get(pull_request, "head", "repo", "fork") is True


def run_url(server_url: str, repository: str, run_id: str | int) -> str:
    """The page of a workflow run; its job summary is shown there."""
    return f"{server_url.rstrip('/')}/{repository}/actions/runs/{run_id}"


# -- comment size --------------------------------------------------------------------------------

COMMENT_LIMIT = 65536
"""GitHub refuses an issue or pull-request comment longer than this many characters (422)."""

_LINE = re.compile(r"[^\n]*\n|[^\n]+")
_FENCE_OPEN = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
_DETAILS_OPEN = re.compile(r"<details(?:\s[^>]*)?>", re.IGNORECASE)
_DETAILS_CLOSE = re.compile(r"</details\s*>", re.IGNORECASE)


def fit_comment(body: str, limit: int, link: str | None) -> str:
    """``body`` if it fits in ``limit`` characters, else its longest prefix that ends at a
    line break, with any open code fence and ``<details>`` closed and a note that says where
    the rest is (``link``: the run whose job summary holds the whole plan)."""
    if len(body) <= limit:
        return body
    if link:
        note = f"\n… truncated: the full plan is in the [job summary]({link})\n"
    else:
        # No link means there is nowhere else to point to (the job summary itself is cut).
        note = "\n… truncated: the rest does not fit in GitHub's size limit\n"
    if len(note) > limit:
        return body[:limit]
    best = note.lstrip("\n")
    kept = 0
    fence: str | None = None
    depth = 0
    for line in _LINE.findall(body):
        if kept + len(note) > limit:
            break
        # The closers depend on where we cut, so every line boundary is weighed on its own.
        candidate = _closers(fence, depth) + note
        if kept + len(candidate) <= limit:
            best = body[:kept] + candidate if kept else candidate.lstrip("\n")
        fence, depth = _after_line(line.rstrip("\r\n"), fence, depth)
        kept += len(line)
    return best


def _after_line(line: str, fence: str | None, depth: int) -> tuple[str | None, int]:
    """The open fence (its marker run) and ``<details>`` depth after one more line."""
    if fence is not None:
        stripped = line.strip()
        closes = (
            len(line) - len(line.lstrip(" ")) <= 3
            and len(stripped) >= len(fence)
            and set(stripped) == {fence[0]}
        )
        return (None if closes else fence), depth
    opened = _FENCE_OPEN.fullmatch(line)
    # CommonMark: a backtick fence's info string may not hold a backtick.
    if opened and not (opened.group(1)[0] == "`" and "`" in opened.group(2)):
        return opened.group(1), depth
    # Inside a fence a <details> tag is text; outside it opens or closes a fold.
    depth += len(_DETAILS_OPEN.findall(line)) - len(_DETAILS_CLOSE.findall(line))
    return None, max(depth, 0)


def _closers(fence: str | None, depth: int) -> str:
    text = f"{fence}\n" if fence else ""
    if depth:
        # A blank line first ends any list or paragraph the cut left open.
        text += "\n" + "</details>\n" * depth
    return text


# -- the REST API ---------------------------------------------------------------------------------

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
_TRANSIENT_STATUSES = frozenset({502, 503, 504})
_TRANSPORT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.ReadError,
    httpx.ReadTimeout,
    httpx.WriteError,
    httpx.WriteTimeout,
    httpx.PoolTimeout,
    httpx.RemoteProtocolError,
)
# Only these prove that GitHub never saw the request, so only these may repeat a create.
_UNSENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
_NEEDS_WRITE = (
    "the workflow needs `permissions: pull-requests: write` to comment; a pull request from "
    "a fork gets a read-only token, so there the plan is only in the job summary"
)
CommentState = Literal["created", "updated", "unchanged"]


class GitHubError(FlowdeployError):
    """GitHub could not be reached or refused a call (exit code 1).

    ``status`` is the HTTP status (None when no answer came) and ``message`` GitHub's own
    ``message``; neither ever holds the token.
    """

    def __init__(
        self,
        what: str,
        *,
        status: int | None = None,
        message: str | None = None,
        why: str = "",
        fix: str = "",
    ) -> None:
        self.status = status
        self.message = message
        super().__init__(what, why=why or (message or ""), fix=fix)


class GitHubApi:
    """The few REST calls the PR comment needs, over one keep-alive client.

    Rate limits are waited out when GitHub says for how long and that is at most ``max_wait``
    seconds; 502/503/504 and dropped connections are retried with exponential backoff; at most
    ``max_attempts`` tries per call. A create is never sent twice unless GitHub provably did not
    get the first one: a duplicate comment is worse than a missing one.
    """

    def __init__(
        self,
        api_url: str | None,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        timeout: float = 30.0,
        max_attempts: int = 5,
        max_wait: float = 60.0,
        backoff: float = 1.0,
    ) -> None:
        if not token:
            raise ConfigError(
                "no GitHub token to write the pull-request comment",
                why="the github-token input is empty",
                fix="leave github-token at its default (${{ github.token }}) or pass a token "
                "that may write to pull requests",
            )
        self.api_url = (api_url or DEFAULT_API_URL).rstrip("/")
        self._token = token
        self._sleep = sleep
        self._clock = clock
        self._max_attempts = max(1, max_attempts)
        self._max_wait = max_wait
        self._backoff = backoff
        self._client = httpx.Client(
            base_url=self.api_url + "/",
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "flowdeploy",
            },
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> GitHubApi:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- comments --------------------------------------------------------------------------

    def list_issue_comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        """Every comment on an issue or pull request, oldest first."""
        return list(self._comments(repo, number))

    def create_issue_comment(self, repo: str, number: int, body: str) -> dict[str, Any]:
        path = f"repos/{_repo_path(repo)}/issues/{_number(number)}/comments"
        what = f"create the comment on {repo}#{number}"
        response = self._send("POST", path, what, json={"body": body}, replay_safe=False)
        return self._object(response, what, write=True)

    def update_issue_comment(self, repo: str, comment_id: int, body: str) -> dict[str, Any]:
        path = f"repos/{_repo_path(repo)}/issues/comments/{_number(comment_id)}"
        what = f"update comment {comment_id} in {repo}"
        response = self._send("PATCH", path, what, json={"body": body})
        return self._object(response, what, write=True)

    def upsert_sticky_comment(
        self, repo: str, number: int, body: str, marker: str
    ) -> tuple[CommentState, str]:
        """Create the one comment that carries ``marker``, or edit it in place; returns what
        happened and the comment's URL. The marker is added at the top when ``body`` lacks it,
        so that a later ``fit_comment`` cannot cut it off."""
        if not marker.strip():
            raise ValueError("the sticky-comment marker must not be blank")
        if marker not in body:
            body = f"{marker}\n{body}"
            if len(body) > COMMENT_LIMIT:
                body = fit_comment(body, COMMENT_LIMIT, None)
        found = self._find_marked(repo, number, marker)
        state: CommentState = "updated"
        if found is None:
            try:
                return "created", _html_url(self.create_issue_comment(repo, number, body))
            except GitHubError as exc:
                # A 5xx or a dropped answer may come after GitHub stored the comment: look
                # before posting again.
                if exc.status is not None and exc.status < 500:
                    raise
                self._sleep(self._backoff)
                found = self._find_marked(repo, number, marker)
                if found is None:
                    return "created", _html_url(self.create_issue_comment(repo, number, body))
                state = "created"
        if _same_text(str(found.get("body") or ""), body):
            return ("created" if state == "created" else "unchanged"), _html_url(found)
        return state, _html_url(self.update_issue_comment(repo, int(found["id"]), body))

    def _find_marked(self, repo: str, number: int, marker: str) -> dict[str, Any] | None:
        """The comment to edit: the first with the marker written by a bot (the Actions
        token's own identity), else the first with the marker at all (a personal token)."""
        first: dict[str, Any] | None = None
        for comment in self._comments(repo, number):
            if marker not in str(comment.get("body") or ""):
                continue
            if _get(comment, "user", "type") == "Bot":
                return comment
            first = first or comment
        return first

    def _comments(self, repo: str, number: int) -> Iterator[dict[str, Any]]:
        what = f"list the comments on {repo}#{number}"
        url = f"repos/{_repo_path(repo)}/issues/{_number(number)}/comments?per_page=100"
        seen: set[str] = set()
        while True:
            response = self._send("GET", url, what)
            page = self._json(response, what, write=False)
            if not isinstance(page, list):
                raise self._unexpected(response, what)
            yield from (c for c in page if isinstance(c, dict))
            next_url = response.links.get("next", {}).get("url")
            if not next_url or next_url in seen:
                return
            seen.add(next_url)
            self._check_origin(next_url, what)
            url = next_url

    def _check_origin(self, url: str, what: str) -> None:
        # httpx would send the Authorization header to whatever host a Link names.
        target, base = httpx.URL(url), self._client.base_url
        if (target.scheme, target.host, target.port) != (base.scheme, base.host, base.port):
            raise GitHubError(
                f"could not {what}",
                why=f"the next page is on another host ({target.host}); the token is not sent "
                "there",
                fix="check GITHUB_API_URL; it must be the API that serves this repository",
            )

    # -- transport ---------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        what: str,
        *,
        json: Any = None,
        replay_safe: bool = True,
    ) -> httpx.Response:
        """One call with retries; returns the last answer whatever its status."""
        attempt = 1
        while True:
            try:
                response = self._client.request(method, url, json=json)
            except _TRANSPORT_ERRORS as exc:
                retry = replay_safe or isinstance(exc, _UNSENT_ERRORS)
                if not retry or attempt >= self._max_attempts:
                    raise self._unreachable(exc, what) from None
                self._sleep(self._backoff_for(attempt))
                attempt += 1
                continue
            except httpx.HTTPError as exc:
                raise self._unreachable(exc, what) from None
            if attempt >= self._max_attempts:
                return response
            wait = self._rate_limit_wait(response)
            if wait is None and response.status_code in _TRANSIENT_STATUSES and replay_safe:
                wait = self._backoff_for(attempt)
            # Sleeping a capped time when GitHub asked for longer would only spend the attempts
            # (and GitHub may block clients that keep calling while limited).
            if wait is None or wait > self._max_wait:
                return response
            self._sleep(wait)
            attempt += 1

    def _backoff_for(self, attempt: int) -> float:
        # Deterministic: one runner makes these calls, so there is no herd to spread.
        return float(min(self._max_wait, self._backoff * 2 ** (attempt - 1)))

    def _rate_limit_wait(self, response: httpx.Response) -> float | None:
        """Seconds GitHub asks us to wait when the answer is a rate limit; None otherwise.

        A 403 is also what a missing permission gets: without a rate-limit header or message
        it is final.
        """
        if response.status_code not in (403, 429):
            return None
        headers = response.headers
        retry_after = _retry_after(headers.get("retry-after"), self._clock)
        if retry_after is not None:
            return retry_after
        if headers.get("x-ratelimit-remaining") == "0":
            reset = _float(headers.get("x-ratelimit-reset"))
            if reset is not None:
                return max(0.0, reset - self._clock())
            return 60.0
        if response.status_code == 429 or "rate limit" in (_message(response) or "").lower():
            # GitHub's advice when it gives no time: wait at least a minute.
            return 60.0
        return None

    # -- answers ---------------------------------------------------------------------------

    def _json(self, response: httpx.Response, what: str, *, write: bool) -> Any:
        if not response.is_success:
            raise self._error(response, what, write=write)
        try:
            return response.json()
        except ValueError:
            raise self._unexpected(response, what) from None

    def _object(self, response: httpx.Response, what: str, *, write: bool) -> dict[str, Any]:
        result = self._json(response, what, write=write)
        if not isinstance(result, dict):
            raise self._unexpected(response, what)
        return result

    def _error(self, response: httpx.Response, what: str, *, write: bool) -> GitHubError:
        status = response.status_code
        message = _message(response)
        why = f"GitHub answered HTTP {status}" + (f": {message}" if message else "")
        wait = self._rate_limit_wait(response)
        if wait is not None:
            fix = f"GitHub's rate limit: re-run the job in {max(1, round(wait))} s or later"
        elif status == 401:
            fix = "the token was refused; leave github-token at its default (${{ github.token }})"
        elif status in (403, 404) and write:
            fix = _NEEDS_WRITE
        elif status in (403, 404):
            fix = (
                "check the repository and pull-request number; a private repository needs "
                "`permissions: pull-requests: read`"
            )
        elif status == 422:
            fix = "GitHub rejected the comment body; see its message"
        elif status >= 500:
            fix = "GitHub is having trouble; re-run the job"
        else:
            fix = "see GitHub's message"
        return GitHubError(
            self._redact(f"could not {what} (HTTP {status})"),
            status=status,
            message=self._redact(message) if message else None,
            why=self._redact(why),
            fix=fix,
        )

    def _unreachable(self, exc: httpx.HTTPError, what: str) -> GitHubError:
        return GitHubError(
            self._redact(f"could not {what}: no answer from {self.api_url}"),
            why=self._redact(f"{type(exc).__name__}: {exc}"),
            fix="check GITHUB_API_URL and the runner's network; re-run the job",
        )

    def _unexpected(self, response: httpx.Response, what: str) -> GitHubError:
        return GitHubError(
            self._redact(f"could not {what}"),
            status=response.status_code,
            why=self._redact(f"the answer is not the JSON GitHub sends: {response.text[:200]!r}"),
            fix="check GITHUB_API_URL; it must be GitHub's REST API",
        )

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***")


def _repo_path(repo: str) -> str:
    owner, slash, name = repo.partition("/")
    if not (owner and slash and name) or "/" in name:
        raise ConfigError(
            f"not a GitHub repository: {repo!r}",
            why="expected owner/name, as GITHUB_REPOSITORY gives it",
            fix="run inside GitHub Actions, or set GITHUB_REPOSITORY to owner/name",
        )
    return f"{quote(owner, safe='')}/{quote(name, safe='')}"


def _number(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(
            f"not a GitHub issue or comment number: {value!r}",
            why="GitHub numbers start at 1",
            fix="comment only on pull_request events, where the event names the pull request",
        )
    return value


def _html_url(comment: Mapping[str, Any]) -> str:
    return str(comment.get("html_url") or "")


def _same_text(a: str, b: str) -> bool:
    # Edits made in GitHub's web editor come back with CRLF line ends.
    return a.replace("\r\n", "\n") == b.replace("\r\n", "\n")


def _message(response: httpx.Response) -> str | None:
    """GitHub's ``message``, with the details of a 422's ``errors`` list."""
    try:
        payload = response.json()
    except ValueError:
        return response.text.strip()[:300] or None
    if not isinstance(payload, dict):
        return None
    message = str(payload.get("message") or "").strip()
    details = [
        str(e.get("message") or e.get("code"))
        for e in payload.get("errors") or ()
        if isinstance(e, dict) and (e.get("message") or e.get("code"))
    ]
    if details:
        message = f"{message} ({'; '.join(details)})" if message else "; ".join(details)
    return message or None


def _retry_after(value: str | None, clock: Callable[[], float]) -> float | None:
    """Retry-After as seconds; HTTP also allows a date there."""
    if value is None:
        return None
    seconds = _float(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - clock())


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
