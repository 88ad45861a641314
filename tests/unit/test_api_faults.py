"""The API client under faults, with httpx.MockTransport: lost answers on automation creates
(looked up, never repeated blindly), create-then-delete replacement, the run's retry budget,
timeouts, Retry-After, and the retry log."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from flowdeploy.api import Connection, PrefectApi
from flowdeploy.errors import ApiError, ConfigError
from flowdeploy.runner import automation_body

OWNER_ID = "0b9e6f3c-1d7e-4a7c-9d11-4c1f0a0d2b3e"
OWNER = f"prefect.deployment.{OWNER_ID}"


class Clock:
    """Virtual time: sleeping and slow answers advance it, nothing waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def make(
    handler: Callable[[httpx.Request], httpx.Response],
    clock: Clock | None = None,
    **kwargs: Any,
) -> tuple[PrefectApi, Clock, list[str]]:
    clock = clock or Clock()
    lines: list[str] = []
    api = PrefectApi(
        Connection("http://prefect.test/api"),
        transport=httpx.MockTransport(handler),
        sleep=clock.sleep,
        clock=clock,
        on_retry=lines.append,
        **kwargs,
    )
    return api, clock, lines


def body(expect: str = "x.done", name: str = "d__automation_1") -> dict[str, Any]:
    trigger = {"type": "event", "name": name, "expect": [expect], "parameters": {"n": 1}}
    return automation_body(trigger, OWNER_ID)


class FakeAutomations:
    """The automations endpoints of a Prefect server, with faults for the creates.

    ``faults`` is consumed one per POST: ``None`` (answer), ``"lost"`` (handled, then the
    connection drops), ``"502_after"`` (handled, then a gateway's 502), ``"timeout_after"``
    (handled, then no answer in time), ``"reset"`` (dropped before the server saw it),
    ``"503"`` (refused), ``"connect"`` (never connected), ``"422"`` (invalid),
    ``"lands_late"`` (no answer in time, and handled only when the next request arrives, or
    the next ``land_on`` request).
    """

    def __init__(self, faults: list[str | None] | None = None, land_on: str = "") -> None:
        self.land_on = land_on
        self.store: dict[str, dict[str, Any]] = {}
        self.owner: dict[str, str] = {}
        self.faults = list(faults or [])
        self.log: list[str] = []
        self.posts = 0
        self.pending: list[dict[str, Any]] = []
        self.reads_fail = False

    def add(self, payload: dict[str, Any]) -> dict[str, Any]:
        automation = {
            **{k: v for k, v in payload.items() if k != "owner_resource"},
            "id": str(uuid.uuid4()),
            "tags": [],
            "created": "2025-01-01T00:00:00Z",
        }
        automation["trigger"] = {**payload["trigger"], "id": str(uuid.uuid4())}
        self.store[automation["id"]] = automation
        if payload.get("owner_resource"):
            self.owner[automation["id"]] = payload["owner_resource"]
        return automation

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.log.append(f"{request.method} {path}")
        if request.method.startswith(self.land_on):  # a create held up somewhere lands now
            for payload in self.pending:
                self.add(payload)
            self.pending.clear()
        if request.method == "POST" and path == "/api/automations/":
            self.posts += 1
            fault = self.faults.pop(0) if self.faults else None
            payload = json.loads(request.content)
            if fault == "connect":
                raise httpx.ConnectError("refused", request=request)
            if fault == "reset":
                raise httpx.RemoteProtocolError("server disconnected", request=request)
            if fault == "503":
                return httpx.Response(503, json={"detail": "busy"})
            if fault == "422":
                return httpx.Response(422, json={"detail": "invalid trigger"})
            if fault == "lands_late":
                self.pending.append(payload)
                raise httpx.ReadTimeout("timed out", request=request)
            created = self.add(payload)
            if fault == "lost":
                raise httpx.ReadError("connection reset by peer", request=request)
            if fault == "502_after":
                return httpx.Response(502, text="bad gateway")
            if fault == "timeout_after":
                raise httpx.ReadTimeout("timed out", request=request)
            return httpx.Response(201, json=created)
        if request.method == "GET" and path.startswith("/api/automations/related-to/"):
            if self.reads_fail:
                raise httpx.ConnectError("refused", request=request)
            resource = path.rsplit("/", 1)[-1]
            related = [
                a
                for a in self.store.values()
                if self.owner.get(a["id"]) == resource
                or any(
                    f"prefect.deployment.{x.get('deployment_id')}" == resource for x in a["actions"]
                )
            ]
            return httpx.Response(200, json=related)
        if request.method == "DELETE" and path.startswith("/api/automations/owned-by/"):
            resource = path.rsplit("/", 1)[-1]
            for key in [k for k, owner in self.owner.items() if owner == resource]:
                self.store.pop(key, None)
            return httpx.Response(202)
        if request.method == "DELETE" and path.startswith("/api/automations/"):
            key = path.rsplit("/", 1)[-1]
            if self.store.pop(key, None) is None:
                return httpx.Response(404, json={"detail": "Automation not found"})
            return httpx.Response(204)
        return httpx.Response(404, json={"detail": "Not Found"})


# -- lost answers on automation creates ---------------------------------------------------


@pytest.mark.parametrize("fault", ["lost", "502_after", "timeout_after"])
def test_a_create_whose_answer_was_lost_is_read_back_not_repeated(fault: str) -> None:
    server = FakeAutomations([fault])
    api, clock, lines = make(server)
    new_id = api.create_automation(body())
    assert server.posts == 1
    assert list(server.store) == [new_id]
    assert any("read back: it was done" in line for line in lines), lines
    if fault == "timeout_after":  # given as long again to land before the read
        assert clock.slept[0] == api.timeout


@pytest.mark.parametrize("fault", ["reset", "503"])
def test_a_create_the_server_never_handled_is_sent_again(fault: str) -> None:
    server = FakeAutomations([fault])
    api, _, lines = make(server)
    api.create_automation(body())
    assert server.posts == 2 and len(server.store) == 1
    assert any("read back: not done" in line for line in lines), lines


def test_a_create_that_never_connected_is_sent_again_without_a_read() -> None:
    server = FakeAutomations(["connect", "connect"])
    api, _, _ = make(server)
    api.related_automations(OWNER)  # it answered once: a refused connection is a hiccup
    server.log.clear()
    api.create_automation(body())
    assert server.posts == 3 and len(server.store) == 1
    assert not any(entry.startswith("GET") for entry in server.log)


def test_an_existing_automation_of_the_same_name_is_not_taken_for_the_lost_create() -> None:
    """A trigger update keeps its name: the old automation is not the new one."""
    server = FakeAutomations()
    old = server.add({**body("x.old"), "owner_resource": OWNER})
    same_name_same_body = server.add({**body(), "owner_resource": OWNER})
    server.faults = ["lost"]
    api, _, _ = make(server)
    new_id = api.create_automation(body(), known={old["id"], same_name_same_body["id"]})
    assert new_id not in (old["id"], same_name_same_body["id"])
    assert server.posts == 1 and len(server.store) == 3


def test_when_the_read_back_fails_the_create_is_not_repeated_blindly() -> None:
    server = FakeAutomations(["lost"])
    server.reads_fail = True
    api, _, _ = make(server, retries=2)
    with pytest.raises(ApiError) as info:
        api.create_automation(body())
    assert server.posts == 1
    assert "its answer was lost" in info.value.render()
    assert "reading back whether the server handled it failed" in info.value.render()


def test_every_answer_lost_still_makes_one_automation_each() -> None:
    server = FakeAutomations(["lost"] * 10)
    api, _, _ = make(server)
    bodies = [body(f"x.{i}", name=f"d__automation_{i}") for i in range(5)]
    assert api.replace_owned_automations(OWNER, bodies)
    assert server.posts == 5 and len(server.store) == 5


def test_a_create_that_lands_after_its_read_back_is_removed_as_a_duplicate() -> None:
    """No answer in time; the read back (after the grace wait) sees nothing, so it is sent
    again; the first copy lands meanwhile: the sweep after the creates deletes it."""
    server = FakeAutomations(["lands_late"], land_on="POST")
    api, _, lines = make(server)
    assert api.replace_owned_automations(OWNER, [body()])
    assert server.posts == 2
    assert len(server.store) == 1, server.store
    assert any("late duplicate" in line for line in lines), lines


# -- create first, then delete --------------------------------------------------------------


def test_a_changed_trigger_is_created_before_the_old_one_is_deleted() -> None:
    server = FakeAutomations()
    old = server.add({**body("x.old"), "owner_resource": OWNER})
    api, _, _ = make(server)
    assert api.replace_owned_automations(OWNER, [body("x.new")])
    writes = [entry for entry in server.log if not entry.startswith("GET")]
    assert writes == ["POST /api/automations/", f"DELETE /api/automations/{old['id']}"]
    assert [a["expect"] for a in (x["trigger"] for x in server.store.values())] == [["x.new"]]


def test_an_identical_automation_is_kept_and_not_recreated() -> None:
    server = FakeAutomations()
    kept = server.add({**body(), "owner_resource": OWNER})
    api, _, _ = make(server)
    assert api.replace_owned_automations(OWNER, [body()])
    assert [entry for entry in server.log if not entry.startswith("GET")] == []
    assert list(server.store) == [kept["id"]]
    assert api.writes == 0


def test_duplicates_of_a_trigger_are_reduced_to_one() -> None:
    server = FakeAutomations()
    for _ in range(3):
        server.add({**body(), "owner_resource": OWNER})
    api, _, _ = make(server)
    assert api.replace_owned_automations(OWNER, [body()])
    assert len(server.store) == 1 and server.posts == 0


def test_a_failing_create_leaves_the_old_automations_and_removes_its_own() -> None:
    server = FakeAutomations([None, "422"])
    old = server.add({**body("x.old"), "owner_resource": OWNER})
    api, _, _ = make(server)
    with pytest.raises(ApiError) as info:
        api.replace_owned_automations(
            OWNER, [body("x.a", name="d__automation_1"), body("x.b", name="d__automation_2")]
        )
    assert info.value.detail == "invalid trigger"
    assert list(server.store) == [old["id"]]
    assert f"DELETE /api/automations/{old['id']}" not in server.log


def test_no_triggers_deletes_the_owned_automations_the_prefect_way() -> None:
    server = FakeAutomations()
    server.add({**body(), "owner_resource": OWNER})
    api, _, _ = make(server)
    assert api.replace_owned_automations(OWNER, [])
    assert server.store == {}
    assert server.log == [f"DELETE /api/automations/owned-by/{OWNER}"]


def test_deleting_what_is_already_gone_is_done() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"detail": "not found"})

    api, _, _ = make(handler)
    api.delete_deployment("d1")
    api.delete_automation("a1")


def test_an_old_server_without_automations_is_tolerated() -> None:
    api, _, _ = make(lambda request: httpx.Response(404, json={"detail": "Not Found"}))
    assert api.replace_owned_automations(OWNER, [body()]) is False
    assert api.replace_owned_automations(OWNER, []) is False


# -- retry budget, timeouts, Retry-After ----------------------------------------------------


def test_the_retry_budget_bounds_the_whole_run() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(503, json={"detail": "busy"})

    api, clock, _ = make(handler, retry_budget=10.0, retries=100)
    with pytest.raises(ApiError) as info:
        api.upsert_flow("etl")
    assert sum(clock.slept) <= 10.0
    assert "retry budget" in info.value.render()
    assert info.value.status == 503
    # spent, and the server still failing: the next request is not even sent
    before = calls
    with pytest.raises(ApiError) as info:
        api.upsert_flow("other")
    assert calls == before
    assert "not sent" in info.value.what and "budget" in info.value.render()


def test_with_the_budget_spent_each_request_gets_one_attempt_until_one_fails() -> None:
    answers = iter([200, 503, 200])
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        status = next(answers)
        return httpx.Response(status, json={"id": "f"} if status == 200 else {})

    api, clock, _ = make(handler, retry_budget=0.0)
    assert api.upsert_flow("etl") == "f"
    with pytest.raises(ApiError) as info:
        api.upsert_flow("etl")
    assert calls == 2 and clock.slept == []
    assert "retry budget (0 s) is spent" in info.value.render()
    with pytest.raises(ApiError):
        api.upsert_flow("etl")
    assert calls == 2


def test_timeouts_count_against_the_budget() -> None:
    """A server slower than the timeout: each attempt costs the timeout; the run gives up
    within the budget plus one timeout instead of retries x timeout."""
    clock = Clock()

    def handler(request: httpx.Request) -> httpx.Response:
        clock.now += 30.0
        raise httpx.ReadTimeout("timed out", request=request)

    api, _, _ = make(handler, clock=clock, timeout=30.0)
    with pytest.raises(ApiError) as info:
        api.read_deployments()
    assert clock.now <= api.retry_budget + 30.0 + 1.0
    assert "no answer within 30 s" in info.value.render()
    assert "PREFECT_API_REQUEST_TIMEOUT" in info.value.render()
    started = clock.now
    with pytest.raises(ApiError):
        api.read_flows(["f"])
    assert clock.now == started  # not sent: the server failed and the budget is spent


def test_a_server_slower_than_before_but_within_the_timeout_just_works() -> None:
    clock = Clock()

    def handler(request: httpx.Request) -> httpx.Response:
        clock.now += 40.0
        return httpx.Response(200, json=[])

    api, _, lines = make(handler, clock=clock)  # Prefect's default timeout: 60 s
    for _ in range(5):
        api.read_deployments()
    assert clock.slept == [] and lines == []
    assert api.retry_spent == 0.0


def test_per_request_attempts_are_bounded() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return httpx.Response(200, json=[])
        raise httpx.ConnectError("refused", request=request)

    api, _, _ = make(handler, retries=3)
    api.read_deployments()
    with pytest.raises(ApiError) as info:
        api.read_deployments()
    assert calls == 5
    assert "gave up after 4 attempts" in info.value.render()
    assert "cannot reach the Prefect API at http://prefect.test/api" in info.value.what


def test_a_server_that_never_answered_is_not_retried() -> None:
    """A refused connection before any answer is a wrong URL or a stopped server: said at
    once, as Prefect's client does, instead of after a minute of retries."""
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    api, clock, _ = make(handler)
    with pytest.raises(ConfigError) as info:
        api.check()
    assert calls == 1 and clock.slept == []
    assert "cannot reach the Prefect API at http://prefect.test/api" in info.value.what


def test_retry_after_seconds_and_dates_are_honoured() -> None:
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "3"}),
            httpx.Response(503, headers={"Retry-After": when}),
            httpx.Response(200, json={"id": "x"}),
        ]
    )
    api, clock, _ = make(lambda request: next(answers))
    api.upsert_flow("etl")
    assert clock.slept[0] == 3.0
    assert 25 <= clock.slept[1] <= 30


def test_a_retry_after_beyond_the_budget_gives_up_at_once() -> None:
    api, clock, _ = make(
        lambda request: httpx.Response(429, headers={"Retry-After": "3600"}), retry_budget=60
    )
    with pytest.raises(ApiError) as info:
        api.upsert_flow("etl")
    assert clock.slept == []
    assert "next attempt would be in 3600 s" in info.value.render()


def test_each_retry_is_logged_with_what_why_and_when() -> None:
    answers = iter([503, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        return httpx.Response(status, json={"id": "f"} if status == 200 else {})

    api, clock, lines = make(handler)
    api.upsert_flow("etl")
    assert lines == [
        f"register flow 'etl': HTTP 503; next attempt (2 of 11) in {clock.slept[0]:.1f} s"
    ]


def test_every_transport_failure_is_an_api_error() -> None:
    for exc in (httpx.WriteTimeout, httpx.PoolTimeout, httpx.ReadError, httpx.WriteError):

        def handler(request: httpx.Request, exc: type[httpx.TransportError] = exc) -> Any:
            raise exc("boom", request=request)

        api, _, _ = make(handler, retries=1)
        with pytest.raises(ApiError):
            api.read_automations()


def test_an_answer_that_is_not_json_is_an_api_error() -> None:
    api, _, _ = make(lambda request: httpx.Response(200, text="<html>login</html>"))
    with pytest.raises(ApiError) as info:
        api.read_deployments()
    assert "not JSON" in info.value.what


# -- PREFECT_API_REQUEST_TIMEOUT ------------------------------------------------------------


def test_the_request_timeout_is_read_like_prefect() -> None:
    from flowdeploy.settings import connection_from_env, load_settings

    assert Connection("http://x/api").timeout == 60.0
    assert Connection("http://x/api", request_timeout="").timeout == 60.0
    assert Connection("http://x/api", request_timeout=" 7.5 ").timeout == 7.5
    for bad in ("soon", "0", "-1", "nan", "inf"):
        with pytest.raises(ConfigError) as info:
            _ = Connection("http://x/api", request_timeout=bad).timeout
        assert "PREFECT_API_REQUEST_TIMEOUT" in info.value.render()
    environ = {"PREFECT_API_URL": "http://x/api", "PREFECT_API_REQUEST_TIMEOUT": "5"}
    assert connection_from_env(environ).timeout == 5.0
    settings = load_settings(environ, prefect_file="prefect.yaml", all_=True)
    with PrefectApi(settings.connection) as api:
        assert api.timeout == 5.0
        assert api._client.timeout.read == 5.0


def test_an_invalid_timeout_is_a_configuration_error_when_the_client_is_made() -> None:
    with pytest.raises(ConfigError):
        PrefectApi(Connection("http://x/api", request_timeout="abc"))
    # a link to the UI does not need it
    assert Connection("http://x/api", request_timeout="abc").ui_url == "http://x"
