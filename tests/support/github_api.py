"""A local stand-in for GitHub's REST API, as far as issue comments go.

It answers like api.github.com: the same paths, status codes, JSON shapes and error messages,
pages with a ``Link`` header formatted as GitHub formats it (absolute ``/repositories/{id}/…``
URLs, rel order prev, next, last, first), and a Bearer token check. It records every request,
and can be told to misbehave as GitHub does: a secondary rate limit, a read-only token (what a
pull request from a fork gets), a gateway error, or a gateway error after the write was stored.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

DOCS = "https://docs.github.com/rest"
SECONDARY_RATE_LIMIT = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
    "again. If you reach out to GitHub Support for help, please include the request ID "
    "0400:1F2E:3D4C:5B6A:7988."
)
SECONDARY_RATE_LIMIT_DOCS = (
    "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api"
    "#about-secondary-rate-limits"
)
NOT_ACCESSIBLE = "Resource not accessible by integration"
BODY_LIMIT = 65536
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})

_REPO_COMMENTS = re.compile(r"/repos/([^/]+)/([^/]+)/issues/(\d+)/comments")
_ID_COMMENTS = re.compile(r"/repositories/(\d+)/issues/(\d+)/comments")
_ONE_COMMENT = re.compile(r"/repos/([^/]+)/([^/]+)/issues/comments/(\d+)")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: Mapping[str, str]
    body: Any
    headers: Mapping[str, str]

    def __str__(self) -> str:
        query = f"?{urlencode(dict(self.query))}" if self.query else ""
        return f"{self.method} {self.path}{query}"


@dataclass
class _Comment:
    id: int
    repo: str
    number: int
    body: str
    login: str
    user_type: str
    created_at: str
    updated_at: str


@dataclass
class _Faults:
    rate_limited: int = 0
    retry_after: int = 1
    unavailable: int = 0
    unavailable_status: int = 502
    unavailable_method: str | None = None
    lost_after_write: int = 0


@dataclass
class _State:
    comments: dict[int, _Comment] = field(default_factory=dict)
    repo_ids: dict[str, int] = field(default_factory=dict)
    next_id: int = 1_000_001
    clock: int = 0


class FakeGitHub:
    """Threaded server on 127.0.0.1; ``api_url`` is what GITHUB_API_URL would be."""

    def __init__(
        self,
        token: str = "ghs_fake_token_0123456789",
        *,
        actor: tuple[str, str] = ("github-actions[bot]", "Bot"),
        server_url: str = "https://github.com",
    ) -> None:
        self.token = token
        self.actor = actor
        self.server_url = server_url
        self.read_only = False
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._state = _State()
        self._faults = _Faults()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-github", daemon=True
        )

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeGitHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- arranging -------------------------------------------------------------------------

    def add_comment(
        self,
        repo: str,
        number: int,
        body: str,
        *,
        login: str = "octocat",
        user_type: str = "User",
    ) -> int:
        with self._lock:
            return self._store(repo, number, body, login, user_type).id

    def seed(
        self,
        repo: str,
        number: int,
        bodies: Iterable[str],
        *,
        login: str = "octocat",
        user_type: str = "User",
    ) -> list[int]:
        return [
            self.add_comment(repo, number, body, login=login, user_type=user_type)
            for body in bodies
        ]

    def rate_limit_next(self, count: int, *, retry_after: int = 1) -> None:
        """Answer the next ``count`` requests with GitHub's secondary-rate-limit 403."""
        with self._lock:
            self._faults.rate_limited = count
            self._faults.retry_after = retry_after

    def unavailable_next(self, count: int, *, status: int = 502, method: str | None = None) -> None:
        """Answer the next ``count`` requests (of ``method``, or any) with a gateway error,
        doing nothing."""
        with self._lock:
            self._faults.unavailable = count
            self._faults.unavailable_status = status
            self._faults.unavailable_method = method

    def lose_answer_after_next_writes(self, count: int) -> None:
        """Store the next ``count`` writes, then answer 502 as a timed-out gateway does."""
        with self._lock:
            self._faults.lost_after_write = count

    # -- inspecting ------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def writes(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method in WRITE_METHODS]

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        with self._lock:
            return [self._json(c) for c in self._on(repo.lower(), number)]

    def repository_id(self, repo: str) -> int:
        with self._lock:
            return self._repo_id(repo.lower())

    # -- state (under the lock) ------------------------------------------------------------

    def _repo_id(self, key: str) -> int:
        return self._state.repo_ids.setdefault(key, 100_000 + len(self._state.repo_ids))

    def _repo_of(self, repo_id: int) -> str | None:
        return next((k for k, v in self._state.repo_ids.items() if v == repo_id), None)

    def _on(self, key: str, number: int) -> list[_Comment]:
        found = [c for c in self._state.comments.values() if (c.repo, c.number) == (key, number)]
        return sorted(found, key=lambda c: c.id)

    def _timestamp(self) -> str:
        # A strictly increasing clock, so ordering by time equals ordering by id.
        self._state.clock += 1
        minutes, seconds = divmod(self._state.clock, 60)
        hours, minutes = divmod(minutes, 60)
        return f"2026-01-01T{hours % 24:02d}:{minutes:02d}:{seconds:02d}Z"

    def _store(self, repo: str, number: int, body: str, login: str, user_type: str) -> _Comment:
        key = repo.lower()
        self._repo_id(key)
        stamp = self._timestamp()
        comment = _Comment(self._state.next_id, key, number, body, login, user_type, stamp, stamp)
        self._state.comments[comment.id] = comment
        self._state.next_id += 1
        return comment

    def _json(self, comment: _Comment) -> dict[str, Any]:
        api = f"{self.api_url}/repos/{comment.repo}"
        return {
            "url": f"{api}/issues/comments/{comment.id}",
            "html_url": f"{self.server_url}/{comment.repo}/pull/{comment.number}"
            f"#issuecomment-{comment.id}",
            "issue_url": f"{api}/issues/{comment.number}",
            "id": comment.id,
            "node_id": f"IC_kwDO{comment.id:08d}",
            "user": {
                "login": comment.login,
                "id": 41898282 if comment.user_type == "Bot" else 583231,
                "type": comment.user_type,
            },
            "created_at": comment.created_at,
            "updated_at": comment.updated_at,
            "author_association": "NONE" if comment.user_type == "Bot" else "CONTRIBUTOR",
            "body": comment.body,
        }

    # -- answering -------------------------------------------------------------------------

    def _answer(
        self, method: str, path: str, query: Mapping[str, str], body: Any, auth: str
    ) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            if auth not in (f"Bearer {self.token}", f"token {self.token}"):
                return _failure(401, "Bad credentials")
            faults = self._faults
            if faults.rate_limited:
                faults.rate_limited -= 1
                status, headers, payload = _failure(
                    403, SECONDARY_RATE_LIMIT, docs=SECONDARY_RATE_LIMIT_DOCS
                )
                return status, {**headers, "Retry-After": str(faults.retry_after)}, payload
            if faults.unavailable and faults.unavailable_method in (None, method):
                faults.unavailable -= 1
                return _failure(faults.unavailable_status, "Server Error")
            status, headers, payload = self._route(method, path, query, body)
            if method in WRITE_METHODS and status < 300 and faults.lost_after_write:
                faults.lost_after_write -= 1
                return _failure(502, "Server Error")
            return status, headers, payload

    def _route(
        self, method: str, path: str, query: Mapping[str, str], body: Any
    ) -> tuple[int, dict[str, str], Any]:
        if match := _REPO_COMMENTS.fullmatch(path):
            key = f"{match[1]}/{match[2]}".lower()
            if method == "GET":
                return self._list(key, int(match[3]), query)
            if method == "POST":
                return self._create(key, int(match[3]), body)
        elif match := _ID_COMMENTS.fullmatch(path):
            repo = self._repo_of(int(match[1]))
            if repo is not None and method == "GET":
                return self._list(repo, int(match[2]), query)
        elif match := _ONE_COMMENT.fullmatch(path):
            key = f"{match[1]}/{match[2]}".lower()
            comment = self._state.comments.get(int(match[3]))
            if comment is None or comment.repo != key:
                return _failure(404, "Not Found")
            if method == "GET":
                return 200, {}, self._json(comment)
            if method == "PATCH":
                return self._update(comment, body)
        return _failure(404, "Not Found")

    def _list(
        self, key: str, number: int, query: Mapping[str, str]
    ) -> tuple[int, dict[str, str], Any]:
        per_page = min(100, max(1, _int(query.get("per_page"), 30)))
        page = max(1, _int(query.get("page"), 1))
        comments = self._on(key, number)
        items = [self._json(c) for c in comments[(page - 1) * per_page : page * per_page]]
        last = max(1, math.ceil(len(comments) / per_page))
        base = f"{self.api_url}/repositories/{self._repo_id(key)}/issues/{number}/comments"
        kept = [(k, v) for k, v in query.items() if k != "page"]

        def link(to: int, rel: str) -> str:
            return f'<{base}?{urlencode([*kept, ("page", str(to))])}>; rel="{rel}"'

        links = []
        if page > 1:
            links.append(link(page - 1, "prev"))
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links.append(link(1, "first"))
        return 200, ({"Link": ", ".join(links)} if links else {}), items

    def _create(self, key: str, number: int, body: Any) -> tuple[int, dict[str, str], Any]:
        if self.read_only:
            return _failure(403, NOT_ACCESSIBLE, docs=f"{DOCS}/issues/comments#create")
        if (invalid := _invalid_body(body)) is not None:
            return invalid
        comment = self._store(key, number, body["body"], *self.actor)
        url = f"{self.api_url}/repos/{key}/issues/comments/{comment.id}"
        return 201, {"Location": url}, self._json(comment)

    def _update(self, comment: _Comment, body: Any) -> tuple[int, dict[str, str], Any]:
        if self.read_only:
            return _failure(403, NOT_ACCESSIBLE, docs=f"{DOCS}/issues/comments#update")
        if (invalid := _invalid_body(body)) is not None:
            return invalid
        comment.body = body["body"]
        comment.updated_at = self._timestamp()
        return 200, {}, self._json(comment)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def _serve(self) -> None:
                split = urlsplit(self.path)
                query = dict(parse_qsl(split.query))
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                with fake._lock:
                    fake._requests.append(
                        RecordedRequest(
                            self.command, split.path, query, body, dict(self.headers.items())
                        )
                    )
                auth = self.headers.get("Authorization", "")
                status, headers, payload = fake._answer(self.command, split.path, query, body, auth)
                content = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("X-GitHub-Api-Version-Selected", "2022-11-28")
                # Every GitHub answer carries the primary limit; plenty left here.
                for name, value in (
                    ("x-ratelimit-limit", "5000"),
                    ("x-ratelimit-remaining", "4999"),
                    ("x-ratelimit-reset", "1767225600"),
                    ("x-ratelimit-used", "1"),
                    ("x-ratelimit-resource", "core"),
                    *headers.items(),
                ):
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = _serve
            do_POST = _serve
            do_PATCH = _serve
            do_PUT = _serve
            do_DELETE = _serve

        return Handler


def _failure(
    status: int, message: str, *, docs: str = DOCS
) -> tuple[int, dict[str, str], dict[str, Any]]:
    return status, {}, {"message": message, "documentation_url": docs, "status": str(status)}


def _invalid_body(body: Any) -> tuple[int, dict[str, str], Any] | None:
    if not isinstance(body, dict) or not isinstance(body.get("body"), str):
        return _failure(422, 'Invalid request.\n\n"body" wasn\'t supplied.')
    if len(body["body"]) > BODY_LIMIT:
        status, headers, payload = _failure(422, "Validation Failed")
        payload["errors"] = [
            {
                "resource": "IssueComment",
                "code": "custom",
                "field": "body",
                "message": f"body is too long (maximum is {BODY_LIMIT} characters)",
            }
        ]
        return status, headers, payload
    return None


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
