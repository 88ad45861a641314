"""A recording reverse proxy in front of the Prefect server.

Point PREFECT_API_URL at `proxy.api_url` and every request is forwarded to the real server and
logged (method, path, status). Tests use `proxy.writes()` to prove that a command sent no write:
any POST/PATCH/PUT/DELETE except the read-only query endpoints (`.../filter`, `.../count`,
`.../paginate`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

import httpx

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
READ_ONLY_SUFFIXES: tuple[str, ...] = ("/filter", "/count", "/paginate")

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-encoding",
        "accept-encoding",
    }
)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: str
    status: int | None

    def __str__(self) -> str:
        query = f"?{self.query}" if self.query else ""
        return f"{self.method} {self.path}{query} -> {self.status}"


class RecordingProxy:
    """Threaded HTTP proxy on 127.0.0.1 that forwards to `upstream_api_url` and records."""

    def __init__(self, upstream_api_url: str) -> None:
        parts = urlsplit(upstream_api_url)
        self._upstream_origin = f"{parts.scheme}://{parts.netloc}"
        self._api_path = parts.path.rstrip("/")
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._client = httpx.Client(base_url=self._upstream_origin, timeout=120.0)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="recording-proxy", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self._api_path}"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def writes(
        self, read_only_suffixes: tuple[str, ...] = READ_ONLY_SUFFIXES
    ) -> list[RecordedRequest]:
        """Requests that may have changed server state."""
        return [
            r
            for r in self.requests
            if r.method in WRITE_METHODS and not r.path.rstrip("/").endswith(read_only_suffixes)
        ]

    def start(self) -> RecordingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        self._client.close()

    def __enter__(self) -> RecordingProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _record(self, entry: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(entry)

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

            def _forward(self) -> None:
                split = urlsplit(self.path)
                body = self._read_body()
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                headers["Accept-Encoding"] = "identity"
                status: int | None = None
                try:
                    upstream = proxy._client.request(
                        self.command, self.path, content=body, headers=headers
                    )
                    status = upstream.status_code
                    content = upstream.content
                    self.send_response(upstream.status_code)
                    for key, value in upstream.headers.multi_items():
                        if key.lower() not in _HOP_BY_HOP:
                            self.send_header(key, value)
                except httpx.HTTPError as exc:
                    status = 502
                    content = f"recording proxy: upstream error: {exc}".encode()
                    self.send_response(502)
                    self.send_header("Content-Type", "text/plain")
                finally:
                    proxy._record(RecordedRequest(self.command, split.path, split.query, status))
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(content)

            do_GET = _forward
            do_POST = _forward
            do_PUT = _forward
            do_PATCH = _forward
            do_DELETE = _forward
            do_HEAD = _forward
            do_OPTIONS = _forward

        return Handler
