"""The only module that talks to Prefect: a small REST client over one httpx.Client.

One client, keep-alive, for the whole run. Transient failures (429, 408, 502, 503, 504,
dropped connections, timeouts) are retried with exponential backoff and jitter, honouring
Retry-After; a real Prefect server on SQLite answers 503 now and then under writes.

Retrying is bounded twice: per request (``retries``) and per run (``retry_budget``: the
seconds one client may lose to failed attempts and to waiting between attempts). Once the
budget is spent, a request gets one attempt; once that also fails, later requests fail at
once instead of each waiting for the same unhealthy server.

Several threads may share one client (``apply`` writes deployments concurrently): a gate
bounds the writes in flight, starting at one and growing to ``concurrency`` while the
server keeps up, and halves that bound when the server answers 503 or 429 to writes sent
side by side. A Prefect server on SQLite serialises its writes and refuses with 503 when
they pile up; on PostgreSQL they run side by side (benchmarks/README.md has the figures).

A write whose answer is lost (a timeout or a dropped connection after the request was sent,
a 5xx from a proxy) may have been handled. Every write flowdeploy makes is safe to repeat
(flows and deployments are upserts, PATCH and DELETE are idempotent, 404 on a DELETE is
success) except ``POST /automations/``: a create is looked up before it is sent again (see
``create_automation``).
"""

from __future__ import annotations

import base64
import email.utils
import math
import random
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlsplit
from urllib.request import getproxies

import httpx

from flowdeploy.errors import ApiError, ConfigError
from flowdeploy.masking import strip_userinfo

RETRY_STATUSES = frozenset({408, 429, 502, 503, 504})
OVERLOAD_STATUSES = frozenset({429, 503})
READ_ONLY_POSTS = ("/filter", "/count", "/paginate")
PAGE = 200
DEFAULT_TIMEOUT = 60.0
"""Prefect 3.9.1's ``PREFECT_API_REQUEST_TIMEOUT`` default (``APISettings.request_timeout``)."""
DEFAULT_RETRY_BUDGET = 120.0
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 64
CONCURRENCY_ENV = "FLOWDEPLOY_CONCURRENCY"
TIMEOUT_ENV = "PREFECT_API_REQUEST_TIMEOUT"

# Failures where the request never reached the server: always safe to send again.
_NOT_SENT: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
# Failures no retry can mend (a wrong URL scheme, a broken proxy setting).
_FATAL: tuple[type[Exception], ...] = (
    httpx.UnsupportedProtocol,
    httpx.ProxyError,
    httpx.LocalProtocolError,
)
# Automation fields the server stores as given (ids and timestamps aside).
_AUTOMATION_KEYS = (
    "name",
    "description",
    "enabled",
    "trigger",
    "actions",
    "actions_on_trigger",
    "actions_on_resolve",
)
_VOLATILE = frozenset({"id", "created", "updated"})
_CLOUD_HOSTS = ("api.prefect.cloud", "api.prefect.dev")
_UI_CHECK_TIMEOUT = 5.0


class Gate:
    """At most ``limit`` writes in flight, the limit found by climbing.

    It starts at one. After each window of answered writes (four times the limit, at
    least sixteen), the rate of answers is compared with the last window's: ten per cent
    better and the limit grows by one, up to ``most``; otherwise it steps back to where the
    rate was best, and holds there. One window's rate is noisy (a server's checkpoint or
    scheduler pass can halve it), so a held limit is tried one higher again every
    ``PROBE_AFTER`` windows. An overload answer (503, 429) ends the climb for good, and
    halves the limit when the write was sent alongside others (not below one). A server
    that serialises its writes (Prefect on SQLite) is thus written one at a time, and one
    that takes them side by side (PostgreSQL, Prefect Cloud) with as many as pay off.
    """

    GAIN = 1.1
    WINDOW = 16
    """Answers per window, at least (four times the limit when that is more): over fewer,
    a server's own pauses decided the climb (on PostgreSQL it climbed to where writes were
    slower than one at a time)."""
    PROBE_AFTER = 8
    """Windows held at a limit before one more is tried again: a probe that does not pay
    costs one window at most ten per cent slower, in eight."""

    def __init__(self, most: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.most = max(1, most)
        self.limit = 1
        self.highest = 1
        """The largest limit reached."""
        self.settled = self.most == 1
        """The limit is held: it grows again only when probed (never after an overload)."""
        self._held = 0
        """Windows answered since the limit was last held."""
        self._clock = clock
        self._in_flight = 0
        self._tickets = 0
        self._serving = 0
        self._generation = 0
        self._window = (clock(), 0)
        self._last_rate = 0.0
        self._refused = False
        self._cond = threading.Condition()

    def enter(self) -> int | None:
        """Wait for a free place; the generation of the limit it was given under, or None
        when no other write is in flight (an overload is then not of this client's making,
        and fewer writes at a time would not help)."""
        with self._cond:
            # First come, first served: a thread that has just left would otherwise take
            # the place back before a woken waiter runs, and starve it (and the progress
            # report, which follows the file's order) for the whole run.
            ticket = self._tickets
            self._tickets += 1
            while ticket != self._serving or self._in_flight >= self.limit:
                self._cond.wait()
            self._serving += 1
            self._in_flight += 1
            self._cond.notify_all()
            return self._generation if self._in_flight > 1 else None

    def leave(self, *, answered: bool) -> None:
        """A write is done; ``answered``: the server took it (no overload, no failure)."""
        with self._cond:
            self._in_flight -= 1
            if answered and not self._refused and self.most > 1:
                self._climb()
            self._cond.notify_all()

    def _climb(self) -> None:
        started, count = self._window
        count += 1
        if count < max(self.WINDOW, 4 * self.limit):
            self._window = (started, count)
            return
        now = self._clock()
        rate = count / max(now - started, 1e-9)
        self._window = (now, 0)
        if self.settled:
            self._held += 1
            if self._held >= self.PROBE_AFTER and self.limit < self.most:
                self._last_rate = rate
                self._grow()
            return
        if rate >= self._last_rate * self.GAIN and self.limit < self.most:
            self._last_rate = rate
            self._grow()
        else:
            if rate < self._last_rate * self.GAIN and self.limit > 1:
                self.limit -= 1  # the last step did not pay: back to the best
            self.settled = True
            self._held = 0

    def _grow(self) -> None:
        self.limit += 1
        self.highest = max(self.highest, self.limit)
        self.settled = False

    def restart(self) -> None:
        """Climb again from one, for writes of another kind: a server that takes small
        flow upserts side by side may still serialise deployments. One that refused writes
        sent side by side is not asked again."""
        with self._cond:
            self.limit = 1
            self.settled = self.most == 1 or self._refused
            self._held = 0
            self._window = (self._clock(), 0)
            self._last_rate = 0.0
            self._generation += 1

    def overloaded(self, generation: int | None) -> bool:
        """An overload answer to a write sent under ``generation``: hold the limit, and
        unless the write went alone (the server's trouble, not this client's) stop climbing
        for good and halve the limit (True), once per halving: answers to writes sent before
        it do not halve it again."""
        with self._cond:
            self.settled = True
            self._held = 0
            if generation is None:
                return False
            self._refused = True
            if generation != self._generation or self.limit == 1:
                return False
            self.limit = max(1, self.limit // 2)
            self._generation += 1
            return True


def needs_certificates(api_url: str) -> bool:
    """Whether the client may meet TLS, and so must load the CA bundle (certifi's, as
    Prefect's client does). A plain-http API reached without a proxy never does: every
    request goes to that origin and redirects are not followed. Loading the bundle costs
    about 30 ms, a twentieth of a run with nothing to do."""
    return urlsplit(api_url).scheme.lower() != "http" or bool(getproxies())


@dataclass(frozen=True)
class Connection:
    """Where the API is and how to authenticate; the same variables Prefect reads."""

    api_url: str
    api_key: str | None = None
    auth_string: str | None = None
    request_timeout: str | None = None
    """``PREFECT_API_REQUEST_TIMEOUT`` as given (seconds); None or empty: Prefect's 60."""
    ui: str | None = None
    """``PREFECT_UI_URL``: where the UI is, when given (else inferred, as Prefect does)."""
    concurrency: str | None = None
    """``FLOWDEPLOY_CONCURRENCY`` as given: the most requests in flight while applying."""
    origins: tuple[tuple[str, str], ...] = ()
    """(variable, where it came from) for the values not from the environment, such as
    ``("PREFECT_API_URL", "from profile 'local' in ~/.prefect/profiles.toml")``."""

    def named(self, variable: str) -> str:
        """The variable as messages name it: with where its value came from, when that was
        not the environment (a profile's stale URL is otherwise hard to find)."""
        origin = dict(self.origins).get(variable)
        return f"{variable} ({origin})" if origin else variable

    def headers(self) -> dict[str, str]:
        if self.api_key:
            return {"Authorization": f"Bearer {self.api_key}"}
        if self.auth_string:
            token = base64.b64encode(self.auth_string.encode()).decode()
            return {"Authorization": f"Basic {token}"}
        return {}

    @property
    def timeout(self) -> float:
        """Seconds per request (connect, send, wait for the answer), read like Prefect."""
        text = (self.request_timeout or "").strip()
        if not text:
            return DEFAULT_TIMEOUT
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value <= 0:
            raise ConfigError(
                f"{self.named(TIMEOUT_ENV)} {self.request_timeout!r} is not a number of seconds",
                why="it is how long each request to the Prefect API may take",
                fix=f"set e.g. {TIMEOUT_ENV}=60 (Prefect's default), or unset it",
            )
        return value

    @property
    def max_in_flight(self) -> int:
        """``concurrency`` read; DEFAULT_CONCURRENCY when not given."""
        text = (self.concurrency or "").strip()
        if not text:
            return DEFAULT_CONCURRENCY
        if not text.isdigit() or not 1 <= int(text) <= MAX_CONCURRENCY:
            raise ConfigError(
                f"{CONCURRENCY_ENV} {self.concurrency!r} is not a whole number from 1 to "
                f"{MAX_CONCURRENCY}",
                why="it bounds the requests flowdeploy sends to the Prefect API at once",
                fix=f"set e.g. {CONCURRENCY_ENV}=1 to write one deployment at a time, or "
                f"unset it ({DEFAULT_CONCURRENCY}, halved when the server is overloaded)",
            )
        return int(text)

    @property
    def ui_url(self) -> str | None:
        """The UI base for links: PREFECT_UI_URL, else inferred from the API URL as Prefect
        3.9.1 does (``default_ui_url``): Cloud's app URL, or the server's own root."""
        if self.ui:
            return strip_userinfo(self.ui).rstrip("/")
        url = strip_userinfo(self.api_url).rstrip("/")
        if self.is_cloud:
            return (
                url.replace("api.", "app.", 1)
                .replace("/api/accounts/", "/account/")
                .replace("/workspaces/", "/workspace/")
            )
        return url[: -len("/api")] if url.endswith("/api") else None

    @property
    def is_cloud(self) -> bool:
        return any(host in self.api_url for host in _CLOUD_HOSTS)


Lookup = Callable[[], "httpx.Response | None"]
"""Asked after a write's answer was lost: the answer the server would have given when the
write was handled (found by reading back), or None when it was not (send it again)."""


class PrefectApi:
    """Typed calls to the Prefect REST API; every method maps to one endpoint.

    ``timeout`` (seconds per request) defaults to the connection's
    ``PREFECT_API_REQUEST_TIMEOUT``; ``retries`` bounds the attempts of one request and
    ``retry_budget`` the seconds the whole run may lose to retrying. ``on_retry`` hears one
    line per retry (what, why, when the next attempt is) and per lost answer.
    ``concurrency`` bounds the writes in flight when threads share the client (default:
    the connection's ``FLOWDEPLOY_CONCURRENCY``, else ``DEFAULT_CONCURRENCY``; see
    ``Gate``).
    """

    def __init__(
        self,
        connection: Connection,
        *,
        transport: httpx.BaseTransport | None = None,
        retries: int = 10,
        backoff: float = 0.25,
        max_backoff: float = 20.0,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float | None = None,
        retry_budget: float = DEFAULT_RETRY_BUDGET,
        on_retry: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        concurrency: int | None = None,
    ) -> None:
        self.connection = connection
        self._retries = retries
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._sleep = sleep
        self._clock = clock
        self._on_retry = on_retry
        self.retry_budget = retry_budget
        self.retry_spent = 0.0
        """Seconds lost so far to failed attempts and to waiting between attempts."""
        self.retried = 0
        """Attempts made after a failed one, over the whole run."""
        self.lost_answers = 0
        """Writes whose answer was lost and that were looked up before being sent again."""
        self._unhealthy = False
        self._answered = False
        """Whether the server ever answered: a refused connection before that is a wrong
        URL or a stopped server, not a hiccup (Prefect's client does not retry it either)."""
        self._checked = False
        self.writes = 0
        self._lock = threading.Lock()
        self.gate = Gate(connection.max_in_flight if concurrency is None else concurrency)
        self.timeout = connection.timeout if timeout is None else timeout
        self._client = httpx.Client(
            base_url=connection.api_url.rstrip("/") + "/",
            headers={**connection.headers(), "Accept": "application/json"},
            timeout=self.timeout,
            transport=transport,
            verify=needs_certificates(connection.api_url),
        )
        self._early: Future[list[dict[str, Any]]] | None = None

    def close(self) -> None:
        if self._early is not None:
            self._early.cancel()
        self._client.close()

    def read_deployments_early(self) -> None:
        """Ask for every deployment now, in the background; the next
        ``read_deployments()`` takes the answer. The server needs about as long to list a
        few hundred deployments as this process needs to load the engine and parse the
        files, so the two overlap instead of following each other."""
        if self._early is None:
            reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flowdeploy-early")
            self._early = reader.submit(self._read_deployments, None)
            reader.shutdown(wait=False)

    def __enter__(self) -> PrefectApi:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- transport -------------------------------------------------------------------

    @property
    def budget_left(self) -> float:
        return max(0.0, self.retry_budget - self.retry_spent)

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str | None = None,
        lookup: Lookup | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send with retries; return the final response (any status but a transient one).

        ``lookup`` is for a write that must not be sent twice: it is asked after every
        attempt whose answer was lost, before the write is sent again. Raises ApiError when
        the server cannot be reached or keeps failing; ``what`` names the call in messages.
        """
        url = path.lstrip("/")
        what = what or f"{method} {path}"
        write = method != "GET" and not (
            method == "POST" and path.rstrip("/").endswith(READ_ONLY_POSTS)
        )
        if write:
            with self._lock:
                self.writes += 1
        self._refuse_when_down(what)
        attempt = 1
        while True:
            started = self._clock()
            response: httpx.Response | None = None
            failure: httpx.TransportError | None = None
            generation = self.gate.enter() if write else None
            try:
                response = self._client.request(method, url, **kwargs)
            except _FATAL as exc:
                raise self._unreachable(what, exc) from None
            except httpx.ConnectError as exc:
                if not self._answered:
                    raise self._unreachable(what, exc) from None
                failure, why, maybe_handled = exc, _describe(exc, self.timeout), False
            except httpx.TransportError as exc:
                failure, why = exc, _describe(exc, self.timeout)
                maybe_handled = not isinstance(exc, _NOT_SENT)
            else:
                self._answered = True
                if response.status_code not in RETRY_STATUSES:
                    self._unhealthy = False
                    return response
                why = f"HTTP {response.status_code}"
                # 429 and 408 are refusals before any work; a 5xx may come from a proxy
                # after the server did the work.
                maybe_handled = response.status_code not in (408, 429)
            finally:
                if write:
                    self.gate.leave(
                        answered=response is not None and response.status_code not in RETRY_STATUSES
                    )
            overloaded = response is not None and response.status_code in OVERLOAD_STATUSES
            if write and overloaded and self.gate.overloaded(generation):
                self._tell(
                    f"{what}: the server is overloaded ({why}): from now on at most "
                    f"{self.gate.limit} write{'s' if self.gate.limit > 1 else ''} at a time"
                )
            self._charge(self._clock() - started)
            if maybe_handled and lookup is not None and method != "GET":
                if isinstance(failure, (httpx.ReadTimeout, httpx.WriteTimeout)):
                    # The server may still be working on it: give it as long again to
                    # land before reading back.
                    grace = min(self.timeout, self.budget_left)
                    self._tell(f"{what}: {why}; reading back in {grace:.1f} s")
                    self._sleep(grace)
                    self._charge(grace)
                found = self._look_up(what, why, lookup)
                if found is not None:
                    self._unhealthy = False
                    return found
            delay = self._delay(attempt, response)
            stop = self._stop_reason(attempt, delay)
            if stop:
                self._unhealthy = True
                if failure is not None:
                    raise self._unreachable(what, failure, stop) from None
                assert response is not None
                raise _error(response, what, stop)
            self._tell(
                f"{what}: {why}; next attempt ({attempt + 1} of {self._retries + 1}) "
                f"in {delay:.1f} s"
            )
            self._sleep(delay)
            self._charge(delay)
            with self._lock:
                self.retried += 1
            attempt += 1

    def _refuse_when_down(self, what: str) -> None:
        """After the budget is spent, a server that failed the last request is not asked
        again: each request would wait as long as the last one did, for nothing."""
        if self._unhealthy and self.budget_left <= 0:
            raise ApiError(
                f"could not {what}: not sent",
                why=f"the Prefect API failed the previous request and this run's retry "
                f"budget ({self.retry_budget:.0f} s) is spent",
                fix="check the server, then re-run: what was written is not written again",
            )

    def _look_up(self, what: str, why: str, lookup: Lookup) -> httpx.Response | None:
        with self._lock:
            self.lost_answers += 1
        try:
            found = lookup()
        except ApiError as exc:
            raise ApiError(
                f"could not {what}",
                why=f"its answer was lost ({why}) and reading back whether the server "
                f"handled it failed: {exc.why or exc.what}",
                fix="re-run when the server answers: flowdeploy reads back before it writes",
            ) from None
        if found is not None:
            self._tell(f"{what}: the answer was lost ({why}); read back: it was done")
        else:
            self._tell(f"{what}: the answer was lost ({why}); read back: not done")
        return found

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        retry_after = _retry_after(response) if response is not None else None
        if retry_after is not None:
            return retry_after
        cap = min(self._max_backoff, self._backoff * 2.0 ** (attempt - 1))
        return cap / 2 + random.uniform(0, cap / 2)

    def _stop_reason(self, attempt: int, delay: float) -> str:
        """Why not to retry (empty: retry). A wait the budget cannot pay spends it all."""
        if attempt > self._retries:
            return f"gave up after {attempt} attempts"
        if delay > self.budget_left:
            left, self.retry_spent = self.budget_left, max(self.retry_spent, self.retry_budget)
            if left <= 0:
                return (
                    f"gave up after {attempt} attempt{'s' if attempt > 1 else ''}: this "
                    f"run's retry budget ({self.retry_budget:.0f} s) is spent"
                )
            return (
                f"gave up after {attempt} attempt{'s' if attempt > 1 else ''}: the next "
                f"attempt would be in {delay:.0f} s, beyond what is left of this run's "
                f"retry budget ({left:.0f} of {self.retry_budget:.0f} s)"
            )
        return ""

    def _charge(self, seconds: float) -> None:
        with self._lock:
            self.retry_spent += max(0.0, seconds)

    def _tell(self, line: str) -> None:
        if self._on_retry is not None:
            self._on_retry(line)

    def _unreachable(self, what: str, exc: Exception, stop: str = "") -> ApiError:
        url = strip_userinfo(self.connection.api_url)
        why = _describe(exc, self.timeout)
        lead = (
            "no answer in time from" if isinstance(exc, httpx.TimeoutException) else "cannot reach"
        )
        return ApiError(
            f"{lead} the Prefect API at {url} to {what}",
            why=f"{why}; {stop}" if stop else why,
            fix=f"check {self.connection.named('PREFECT_API_URL')} and that the server is "
            f"running (prefect server start); a slow server may need a longer {TIMEOUT_ENV} "
            f"(now {self.timeout:g} s)",
        )

    def _json(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        response = self.request(method, path, what=what, **kwargs)
        if not response.is_success:
            raise _error(response, what)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ApiError(
                f"could not {what}: the answer is not JSON",
                detail=response.text[:200],
                fix=f"check {self.connection.named('PREFECT_API_URL')}: it should point at "
                "the Prefect API (it usually ends in /api)",
            ) from None

    # -- reads -----------------------------------------------------------------------

    def check(self) -> None:
        """Fail early, with a clear message, when the API is unreachable or refuses us.

        Both are configuration errors (exit 2): nothing has been written yet. Asked once
        per client: the CLI checks before it loads the engine, and the run checks again.
        """
        if self._checked:
            return
        try:
            response = self.request("GET", "/health", what="check its health")
        except ApiError as exc:
            raise ConfigError(exc.what, why=exc.why, fix=exc.fix) from None
        if response.status_code in (401, 403):
            raise ConfigError(
                "the Prefect API refused the credentials",
                why=f"HTTP {response.status_code} from {strip_userinfo(self.connection.api_url)}",
                fix=_credentials_fix(self.connection),
            )
        if not response.is_success:
            error = _error(response, "reach the Prefect API")
            raise ConfigError(error.what, why=error.why, fix=error.fix)
        self._checked = True

    def serves_ui(self) -> bool | None:
        """Whether ``connection.ui_url`` shows a UI, for links: None when it cannot tell.

        Prefect Cloud and a given PREFECT_UI_URL have one. A Prefect 3.9.1 server answers
        ``GET <root>/ui-settings`` whether it serves its UI or not, with ``available_uis``
        empty when it does not (``PREFECT_UI_ENABLED=false``); older servers answer without
        that key, and always served it. No route there (404): the UI is elsewhere (another
        ``PREFECT_UI_SERVE_BASE``) or not exposed, so a link to the root would not open.
        One attempt, a short timeout, no retry: a link is not worth waiting for.
        """
        root = self.connection.ui_url
        if root is None:
            return False
        if self.connection.ui or self.connection.is_cloud:
            return True
        try:
            response = self._client.get(
                self.connection.api_url.rstrip("/")[: -len("/api")] + "/ui-settings",
                timeout=min(self.timeout, _UI_CHECK_TIMEOUT),
            )
        except httpx.HTTPError:
            return None
        if response.status_code == 404:
            return False
        if not response.is_success:
            return None
        try:
            settings = response.json()
        except ValueError:
            return None
        if not isinstance(settings, dict):
            return None
        available = settings.get("available_uis")
        return bool(available) if isinstance(available, list) else True

    def read_deployments(self, flow_names: list[str] | None = None) -> list[dict[str, Any]]:
        """Every deployment, or those of the named flows."""
        if flow_names is None and self._early is not None:
            early, self._early = self._early, None
            return early.result()
        return self._read_deployments(flow_names)

    def _read_deployments(self, flow_names: list[str] | None) -> list[dict[str, Any]]:
        body = {"flows": {"name": {"any_": flow_names}}} if flow_names is not None else {}
        return list(self._paginate("/deployments/filter", body))

    def find_deployment(
        self, flow: str, name: str, *, by_id: bool = False
    ) -> dict[str, Any] | None:
        """The deployment ``name`` of the flow named ``flow`` (or whose id is ``flow``)."""
        key = "id" if by_id else "name"
        body = {
            "flows": {key: {"any_": [flow]}},
            "deployments": {"name": {"any_": [name]}},
            "limit": 2,
        }
        found = self._json("POST", "/deployments/filter", f"read deployment {name!r}", json=body)
        return dict(found[0]) if found else None

    def read_deployment(self, deployment_id: str) -> dict[str, Any] | None:
        return self._get_or_none(
            f"/deployments/{quote(deployment_id, safe='')}", f"deployment {deployment_id}"
        )

    def read_flows(self, ids: list[str]) -> list[dict[str, Any]]:
        if not ids:
            return []
        return list(self._paginate("/flows/filter", {"flows": {"id": {"any_": ids}}}))

    def read_work_pool(self, name: str) -> dict[str, Any] | None:
        return self._get_or_none(f"/work_pools/{quote(name, safe='')}", f"work pool {name!r}")

    def read_work_pools(self, names: list[str]) -> list[dict[str, Any]]:
        """The named work pools that exist, in one request."""
        if not names:
            return []
        return list(self._paginate("/work_pools/filter", {"work_pools": {"name": {"any_": names}}}))

    def read_variable(self, name: str) -> dict[str, Any] | None:
        return self._get_or_none(f"/variables/name/{quote(name, safe='')}", f"variable {name!r}")

    def read_block_document(self, type_slug: str, name: str) -> dict[str, Any] | None:
        path = (
            f"/block_types/slug/{quote(type_slug, safe='')}/block_documents/name/"
            f"{quote(name, safe='')}"
        )
        return self._get_or_none(
            path, f"block {type_slug}/{name}", params={"include_secrets": "true"}
        )

    def _get_or_none(self, path: str, what: str, **kwargs: Any) -> dict[str, Any] | None:
        """One object, or None when the server says it does not exist."""
        response = self.request("GET", path, what=f"read {what}", **kwargs)
        if response.status_code == 404:
            return None
        if not response.is_success:
            raise _error(response, f"read {what}")
        result: dict[str, Any] = response.json()
        return result

    def read_automations(self) -> list[dict[str, Any]]:
        return list(self._paginate("/automations/filter", {}))

    def related_automations(self, resource: str) -> list[dict[str, Any]] | None:
        """The automations owned by ``resource`` or acting on it; None when the server has
        no automations API."""
        response = self.request(
            "GET",
            f"/automations/related-to/{quote(resource, safe='')}",
            what=f"read the automations of {resource}",
        )
        if response.status_code == 404:
            return None
        if not response.is_success:
            raise _error(response, f"read the automations of {resource}")
        return list(response.json())

    def _paginate(self, path: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            page = self._json(
                "POST", path, f"read {path}", json={**body, "limit": PAGE, "offset": offset}
            )
            yield from page
            if len(page) < PAGE:
                return
            offset += PAGE

    # -- writes ----------------------------------------------------------------------

    def upsert_flow(self, name: str) -> str:
        """``POST /flows/`` answers the existing flow of that name: safe to repeat."""
        result = self._json("POST", "/flows/", f"register flow {name!r}", json={"name": name})
        return str(result["id"])

    def create_deployment(self, body: dict[str, Any]) -> str:
        """``POST /deployments/`` is an upsert on (flow, name): repeating it after a lost
        answer writes the same deployment again, never a second one."""
        result = self._json(
            "POST", "/deployments/", f"create deployment {body.get('name')!r}", json=body
        )
        return str(result["id"])

    def update_deployment(self, deployment_id: str, body: dict[str, Any]) -> None:
        self._json("PATCH", f"/deployments/{deployment_id}", "update deployment", json=body)

    def delete_deployment(self, deployment_id: str) -> None:
        """Gone already (404, e.g. after a lost answer) is done."""
        response = self.request("DELETE", f"/deployments/{deployment_id}", what="delete deployment")
        if response.status_code != 404 and not response.is_success:
            raise _error(response, "delete deployment")

    def create_automation(self, body: dict[str, Any], *, known: Collection[str] = ()) -> str:
        """``POST /automations/`` creates one more every time it is handled. After a lost
        answer, the owner's automations are read back: one equal to ``body`` whose id is not
        in ``known`` (those that existed before, or this run made for another body) is this
        create, and it is not sent again."""
        owner = str(body.get("owner_resource") or "")
        name = body.get("name")

        def lookup() -> httpx.Response | None:
            for automation in self.related_automations(owner) or []:
                if str(automation.get("id")) not in known and same_automation(automation, body):
                    return httpx.Response(201, json=automation)
            return None

        result = self._json(
            "POST",
            "/automations/",
            f"create automation {name!r}",
            json=body,
            lookup=lookup if owner else None,
        )
        return str(result["id"])

    def delete_automation(self, automation_id: str) -> None:
        """Gone already (404, e.g. after a lost answer) is done."""
        response = self.request(
            "DELETE", f"/automations/{automation_id}", what="delete an old automation"
        )
        if response.status_code != 404 and not response.is_success:
            raise _error(response, "delete an old automation")

    def delete_owned_automations(self, owner: str) -> bool:
        """Prefect's way (``DELETE /automations/owned-by/…``): idempotent. False when the
        server has no automations API (404), as Prefect tolerates."""
        response = self.request(
            "DELETE",
            f"/automations/owned-by/{owner}",
            what="delete the deployment's automations",
        )
        if response.status_code == 404:
            return False
        if not response.is_success:
            raise _error(response, "delete the deployment's automations")
        return True

    def replace_owned_automations(
        self,
        owner: str,
        bodies: list[dict[str, Any]],
        *,
        current: list[dict[str, Any]] | None = None,
    ) -> bool:
        """Make ``bodies`` the automations of ``owner`` (``prefect.deployment.<id>``).

        Create first, then delete: an automation equal to a body is kept as it is; the
        missing ones are created; only when every create succeeded are the old ones
        deleted, so a failing create leaves the old automations working (and the ones this
        call made are removed again). The old ones are those that run this deployment
        (what a plan compares); with no bodies, Prefect's own delete of the owned ones.

        ``current``: the automations related to ``owner`` when the caller knows them (a
        deployment created a moment ago has none); else they are read.

        Returns False when the server has no automations API (404), as Prefect tolerates.
        """
        if not bodies:
            return self.delete_owned_automations(owner)
        if current is None:
            current = self.related_automations(owner)
            if current is None:
                return False
        deployment_id = owner.removeprefix("prefect.deployment.")
        old = [a for a in current if runs_deployment(a, deployment_id)]
        kept: set[str] = set()
        missing: list[dict[str, Any]] = []
        for body in bodies:
            match = next(
                (a for a in old if str(a["id"]) not in kept and same_automation(a, body)), None
            )
            if match is None:
                missing.append(body)
            else:
                kept.add(str(match["id"]))
        existing = {str(a["id"]) for a in current}
        created: list[str] = []
        lost_before = self.lost_answers
        try:
            for body in missing:
                created.append(self.create_automation(body, known=existing | set(created)))
        except ApiError:
            self._undo(created)
            raise
        if self.lost_answers != lost_before:
            self._drop_late_duplicates(owner, missing, existing | set(created))
        for automation in old:
            if str(automation["id"]) not in kept:
                self.delete_automation(str(automation["id"]))
        return True

    def _undo(self, created: list[str]) -> None:
        """Best effort: the old automations stay the deployment's only ones."""
        for automation_id in created:
            try:
                self.delete_automation(automation_id)
            except ApiError:
                self._tell(f"could not remove automation {automation_id} after a failed create")

    def _drop_late_duplicates(
        self, owner: str, bodies: list[dict[str, Any]], accounted: set[str]
    ) -> None:
        """A create whose answer was lost, read back as not done, may still have been in
        flight and landed since: a second copy of a body this call created is deleted."""
        for automation in self.related_automations(owner) or []:
            automation_id = str(automation.get("id"))
            if automation_id not in accounted and any(
                same_automation(automation, body) for body in bodies
            ):
                self._tell(f"deleting a late duplicate of automation {automation.get('name')!r}")
                self.delete_automation(automation_id)


def same_automation(server: Mapping[str, Any], body: Mapping[str, Any]) -> bool:
    """Whether the server's automation is ``body`` as created (ids and timestamps aside)."""
    return all(
        _strip(server.get(key)) == _strip(body.get(key)) for key in _AUTOMATION_KEYS if key in body
    )


def runs_deployment(automation: Mapping[str, Any], deployment_id: str) -> bool:
    """An automation that runs this deployment: what a plan counts as its triggers."""
    return any(
        isinstance(action, Mapping)
        and action.get("type") == "run-deployment"
        and str(action.get("deployment_id")) == deployment_id
        for action in automation.get("actions") or []
    )


def _strip(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _strip(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _describe(exc: Exception, timeout: float) -> str:
    if isinstance(exc, httpx.TimeoutException):
        kind = {
            httpx.ConnectTimeout: "connecting",
            httpx.ReadTimeout: "waiting for the answer",
            httpx.WriteTimeout: "sending the request",
            httpx.PoolTimeout: "waiting for a connection",
        }.get(type(exc), "waiting")
        return f"no answer within {timeout:g} s ({kind}; {TIMEOUT_ENV})"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({exc})" if str(exc) else "cannot connect"
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
        return "the connection was closed before the answer"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header: a number, or an HTTP date."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def detail_of(response: httpx.Response) -> str:
    """The server's ``detail`` (FastAPI style) or a short body excerpt."""
    try:
        payload = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    if isinstance(payload, dict) and "detail" in payload:
        detail = payload["detail"]
        return detail if isinstance(detail, str) else _format_detail(detail)
    if (
        isinstance(payload, dict)
        and "exception_detail" not in payload
        and ("exception_message" in payload)
    ):
        return str(payload["exception_message"])
    if isinstance(payload, dict) and "exception_detail" in payload:
        # Prefect's 422: pydantic errors whose "input" echoes the whole request; keep the msg.
        return _format_detail(payload["exception_detail"])
    return str(payload)[:500]


def _format_detail(detail: Any) -> str:
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict) and "msg" in item:
                loc = ".".join(str(x) for x in item.get("loc", ()) if x != "body")
                parts.append(f"{loc}: {item['msg']}" if loc else str(item["msg"]))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(detail)


def _credentials_fix(connection: Connection) -> str:
    if connection.api_key:
        return (
            f"check {connection.named('PREFECT_API_KEY')}: it may be wrong, expired, or for "
            "another account or workspace"
        )
    if connection.auth_string:
        return f"check {connection.named('PREFECT_API_AUTH_STRING')} (the server's user:password)"
    return "set PREFECT_API_KEY (Prefect Cloud) or PREFECT_API_AUTH_STRING (self-hosted basic auth)"


def _error(response: httpx.Response, what: str, note: str = "") -> ApiError:
    status = response.status_code
    fix = {
        401: "set PREFECT_API_KEY or PREFECT_API_AUTH_STRING",
        403: "check that the API key may write to this workspace",
        404: "check PREFECT_API_URL (it usually ends in /api)",
    }.get(status, "see the server's detail; re-run to retry")
    detail = detail_of(response)
    return ApiError(
        f"could not {what} (HTTP {status})",
        status=status,
        detail=f"{detail} ({note})" if note else detail,
        fix=fix,
    )
