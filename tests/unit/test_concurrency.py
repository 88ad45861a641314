"""Concurrent writes: the gate bounds the requests in flight, halves itself on overload, and
``apply_plan`` keeps its results in the plan's order whatever order the writes finish in."""

from __future__ import annotations

import random
import threading
import time
import uuid

import httpx
import pytest

from flowdeploy.api import Connection, Gate, PrefectApi
from flowdeploy.errors import ConfigError
from flowdeploy.pipeline import Status, apply_plan
from flowdeploy.plan import Action, Plan, PlannedDeployment
from flowdeploy.project import DeploymentSpec
from flowdeploy.runner import Deployment


class Server:
    """Answers like Prefect's deployment endpoints, slowly, and counts what is in flight.

    ``serial``: refuse with 503 whenever another request is being handled, as a SQLite
    server does when writes pile up."""

    def __init__(self, *, serial: bool = False) -> None:
        self.serial = serial
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most = 0
        self.refused = 0
        self.flows: dict[str, str] = {}
        self.created: list[str] = []
        self.flow_before_deployment = True

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            busy = self.in_flight > 1
        try:
            if self.serial and busy:
                with self.lock:
                    self.refused += 1
                return httpx.Response(503, json={"detail": "database is locked"})
            time.sleep(random.uniform(0.001, 0.01))
            return self._answer(request)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _answer(self, request: httpx.Request) -> httpx.Response:
        body = httpx.Request("POST", "/", content=request.content).read()
        import json

        data = json.loads(body) if body else {}
        if request.url.path.endswith("/flows/"):
            with self.lock:
                flow_id = self.flows.setdefault(data["name"], str(uuid.uuid4()))
            return httpx.Response(200, json={"id": flow_id})
        if request.url.path.endswith("/deployments/"):
            with self.lock:
                if data["flow_id"] not in self.flows.values():
                    self.flow_before_deployment = False
                self.created.append(data["name"])
            return httpx.Response(200, json={"id": str(uuid.uuid4())})
        return httpx.Response(404, json={"detail": "not found"})


def _api(server: Server, concurrency: int) -> PrefectApi:
    return PrefectApi(
        Connection("http://prefect.test/api"),
        transport=httpx.MockTransport(server),
        sleep=lambda _: None,
        concurrency=concurrency,
    )


def _plan(n: int) -> Plan:
    items = [
        PlannedDeployment(
            name=f"flow-{i}/dep-{i}",
            action=Action.CREATE,
            spec=DeploymentSpec(deployment=Deployment(name=f"dep-{i}", flow_name=f"flow-{i}")),
        )
        for i in range(n)
    ]
    return Plan(items=tuple(items))


def test_apply_writes_with_at_most_the_limit_in_flight_and_keeps_the_plans_order() -> None:
    server = Server()
    plan = _plan(60)
    done: list[str] = []
    with _api(server, 4) as api:
        results = apply_plan(plan, api, progress=lambda item: done.append(item.name))
    assert [o.name for o in results.outcomes] == [i.name for i in plan.items]
    assert {o.status for o in results.outcomes} == {Status.CREATED}
    assert done == [i.name for i in plan.items]  # progress too, in the plan's order
    assert 1 < server.most <= 4
    assert server.flow_before_deployment
    assert sorted(server.created) == sorted(f"dep-{i}" for i in range(60))


def test_one_at_a_time_never_overlaps() -> None:
    server = Server()
    with _api(server, 1) as api:
        results = apply_plan(_plan(20), api)
    assert len(results.outcomes) == 20 and server.most == 1


def test_overload_halves_the_limit_once_per_storm_down_to_one() -> None:
    """A server that refuses every request but one at a time (SQLite under writes): the
    8 writers become 4, 2, then 1, and every deployment is written once."""
    server = Server(serial=True)
    lines: list[str] = []
    with PrefectApi(
        Connection("http://prefect.test/api"),
        transport=httpx.MockTransport(server),
        sleep=lambda _: None,
        concurrency=8,
        on_retry=lines.append,
    ) as api:
        results = apply_plan(_plan(40), api)
        assert api.gate.limit == 1 and api.gate.lowest == 1
    assert {o.status for o in results.outcomes} == {Status.CREATED}
    assert sorted(server.created) == sorted(f"dep-{i}" for i in range(40))
    halvings = [line for line in lines if "overloaded" in line]
    assert [h.rsplit("at most ", 1)[1] for h in halvings] == [
        "4 requests at a time",
        "2 requests at a time",
        "1 request at a time",
    ]


def test_gate_ignores_late_answers_from_before_a_halving() -> None:
    gate = Gate(8)
    alone = gate.enter()
    second = gate.enter()
    third = gate.enter()
    assert alone is None  # nothing else was in flight: not ours to fix
    assert not gate.shrink(alone) and gate.limit == 8
    assert gate.shrink(second) and gate.limit == 4
    assert not gate.shrink(third)  # sent at 8: already accounted for
    fourth = gate.enter()
    assert gate.shrink(fourth) and gate.limit == 2
    for _ in range(4):
        gate.leave()


def test_an_overload_while_alone_keeps_the_limit() -> None:
    """The health check or a single read answered 503: the server's trouble, not ours."""
    answers = iter([503, 503, 200])
    lines: list[str] = []
    with PrefectApi(
        Connection("http://prefect.test/api"),
        transport=httpx.MockTransport(lambda _: httpx.Response(next(answers), json=[])),
        sleep=lambda _: None,
        concurrency=4,
        on_retry=lines.append,
    ) as api:
        api.read_deployments()
        assert api.gate.limit == 4
    assert not [line for line in lines if "overloaded" in line]


def test_gate_blocks_beyond_its_limit() -> None:
    gate = Gate(2)
    gate.enter()
    gate.enter()
    entered = threading.Event()

    def third() -> None:
        gate.enter()
        entered.set()

    thread = threading.Thread(target=third)
    thread.start()
    assert not entered.wait(0.05)
    gate.leave()
    assert entered.wait(2)
    thread.join()


@pytest.mark.parametrize("value", ["0", "-1", "two", "65", "1.5"])
def test_a_wrong_concurrency_is_a_configuration_error(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        PrefectApi(Connection("http://prefect.test/api", concurrency=value))
    assert "FLOWDEPLOY_CONCURRENCY" in caught.value.what and caught.value.fix


def test_the_default_concurrency_and_a_given_one() -> None:
    assert Connection("http://x/api").max_in_flight == 4
    assert Connection("http://x/api", concurrency=" 1 ").max_in_flight == 1
