"""A seeded fault-injecting reverse proxy in front of the Prefect server.

Like `support.proxy.RecordingProxy` (point PREFECT_API_URL at `proxy.api_url`), but each request
may meet a fault, drawn from a `random.Random(seed)` in arrival order, so a sequential client
sees the same faults on every run with the same seed:

- ``500``: answered 500 without forwarding (a failure no retry mends);
- ``503``: answered 503 without forwarding (the server never saw it);
- ``429``: answered 429 with ``Retry-After`` without forwarding;
- ``reset``: the connection is reset before forwarding (the server never saw it);
- ``reset_after``: forwarded, the server handled it, then the connection is reset: the client
  gets no answer for a request that was done;
- ``502_after``: forwarded and handled, then answered 502 (a gateway losing the answer);
- ``delay``: held ``delay`` seconds, then forwarded;
- ``late``: forwarded at once, the answer held ``delay`` seconds (past a short client timeout,
  a lost answer for a done request).

`Rule`s say which requests may meet which faults, with what probability (the first rule whose
`match` accepts a request decides; requests no rule matches pass). `records` tells what
happened to every request, `faults()` the ones that met a fault. `on_forwarded`, when set, is
called after a request was forwarded and before it is answered (e.g. to kill the server
there); a fault name it returns replaces the drawn one (e.g. ``reset_after``).
"""

from __future__ import annotations

import json
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

import httpx

from support.proxy import _HOP_BY_HOP, READ_ONLY_SUFFIXES, WRITE_METHODS

FAULTS = ("500", "503", "429", "reset", "reset_after", "502_after", "delay", "late")


@dataclass(frozen=True)
class Rule:
    """Which requests (``match(method, path)``) meet which faults, each with its probability."""

    faults: Mapping[str, float]
    match: Callable[[str, str], bool] = lambda method, path: True
    limit: int | None = None
    """At most this many faults from this rule (None: no limit)."""
    delay: float = 0.3
    """Seconds for ``delay`` and ``late``."""
    retry_after: str = "1"

    def __post_init__(self) -> None:
        unknown = set(self.faults) - set(FAULTS)
        assert not unknown, f"unknown faults {unknown}; known: {FAULTS}"
        assert sum(self.faults.values()) <= 1.0


def writes(method: str, path: str) -> bool:
    return method in WRITE_METHODS and not path.rstrip("/").endswith(READ_ONLY_SUFFIXES)


def everything(method: str, path: str) -> bool:
    return True


def endpoint(method: str, suffix: str) -> Callable[[str, str], bool]:
    """Requests with this method whose path ends with ``suffix`` (e.g. ``/automations/``)."""
    return lambda m, path: m == method and path.endswith(suffix)


@dataclass
class Record:
    method: str
    path: str
    fault: str | None
    status: int | None
    """The server's status when the request was forwarded; None when it was not."""
    forwarded: bool
    at: float = field(default_factory=time.monotonic)

    def __str__(self) -> str:
        return f"{self.method} {self.path} fault={self.fault} status={self.status}"


class FaultProxy:
    """Threaded HTTP proxy on 127.0.0.1 that forwards to `upstream_api_url`, injecting faults."""

    def __init__(
        self,
        upstream_api_url: str,
        rules: list[Rule] | tuple[Rule, ...] = (),
        *,
        seed: int = 0,
        on_forwarded: Callable[[Record], str | None] | None = None,
    ) -> None:
        parts = urlsplit(upstream_api_url)
        self._upstream_origin = f"{parts.scheme}://{parts.netloc}"
        self._api_path = parts.path.rstrip("/")
        self.rules = list(rules)
        self.seed = seed
        self.on_forwarded = on_forwarded
        self._random = random.Random(seed)
        self._used: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._records: list[Record] = []
        self._client = httpx.Client(base_url=self._upstream_origin, timeout=120.0)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fault-proxy", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self._api_path}"

    @property
    def records(self) -> list[Record]:
        with self._lock:
            return list(self._records)

    def faults(self) -> list[Record]:
        return [r for r in self.records if r.fault]

    def summary(self) -> dict[str, int]:
        """How many requests met each fault, and how many passed."""
        counts = Counter(r.fault or "none" for r in self.records)
        return dict(sorted(counts.items()))

    def set_rules(self, rules: list[Rule], seed: int | None = None) -> None:
        with self._lock:
            self.rules = list(rules)
            self._used.clear()
            if seed is not None:
                self.seed = seed
                self._random = random.Random(seed)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        self._client.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _choose(self, method: str, path: str) -> tuple[str | None, Rule | None]:
        """One draw per request, in arrival order, from the seeded generator."""
        with self._lock:
            for index, rule in enumerate(self.rules):
                if not rule.match(method, path):
                    continue
                draw = self._random.random()
                if rule.limit is not None and self._used[index] >= rule.limit:
                    return None, rule
                total = 0.0
                for name, probability in rule.faults.items():
                    total += probability
                    if draw < total:
                        self._used[index] += 1
                        return name, rule
                return None, rule
        return None, None

    def _record(self, entry: Record) -> None:
        with self._lock:
            self._records.append(entry)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def _read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks: list[bytes] = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _reset(self) -> None:
                """Close with RST: the client sees a reset connection and no answer."""
                self.close_connection = True
                try:
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.connection.close()
                except OSError:
                    pass

            def _answer(self, status: int, content: bytes, headers: list[tuple[str, str]]) -> None:
                try:
                    self.send_response(status)
                    for key, value in headers:
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(content)
                except OSError:  # the client gave up (its timeout) meanwhile
                    self.close_connection = True

            def _forward(self) -> None:
                split = urlsplit(self.path)
                body = self._read_body()
                fault, rule = proxy._choose(self.command, split.path)
                record = Record(self.command, split.path, fault, None, forwarded=False)
                proxy._record(record)
                if fault in ("500", "503", "429"):
                    status = int(fault)
                    extra = [("Retry-After", rule.retry_after)] if fault == "429" and rule else []
                    payload = json.dumps({"detail": f"fault proxy: injected {fault}"}).encode()
                    self._answer(status, payload, [("Content-Type", "application/json"), *extra])
                    return
                if fault == "reset":
                    self._reset()
                    return
                if fault == "delay" and rule is not None:
                    time.sleep(rule.delay)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                headers["Accept-Encoding"] = "identity"
                try:
                    upstream = proxy._client.request(
                        self.command, self.path, content=body, headers=headers
                    )
                except (httpx.HTTPError, RuntimeError) as exc:
                    # The server is down (or the proxy stopped): what a gateway answers.
                    record.status = 502
                    self._answer(
                        502,
                        f"fault proxy: upstream error: {exc}".encode(),
                        [("Content-Type", "text/plain")],
                    )
                    return
                record.status = upstream.status_code
                record.forwarded = True
                if proxy.on_forwarded is not None:
                    override = proxy.on_forwarded(record)
                    if override is not None:
                        fault = record.fault = override
                if fault == "reset_after":
                    self._reset()
                    return
                if fault == "502_after":
                    self._answer(502, b"fault proxy: answer lost", [("Content-Type", "text/plain")])
                    return
                if fault == "late" and rule is not None:
                    time.sleep(rule.delay)
                headers_out = [
                    (k, v)
                    for k, v in upstream.headers.multi_items()
                    if k.lower() not in _HOP_BY_HOP
                ]
                self._answer(upstream.status_code, upstream.content, headers_out)

            do_GET = _forward
            do_POST = _forward
            do_PUT = _forward
            do_PATCH = _forward
            do_DELETE = _forward
            do_HEAD = _forward
            do_OPTIONS = _forward

        return Handler
