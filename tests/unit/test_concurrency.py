"""Concurrent writes: the gate bounds the requests in flight, halves itself on overload, and
``apply_plan`` keeps its results in the plan's order whatever order the writes finish in."""

from __future__ import annotations

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

    def __init__(self, *, serial: bool = False, queue: bool = False) -> None:
        self.serial = serial
        self.queue = queue
        """Serialise the writes by waiting (a lock) instead of refusing them."""
        self.db = threading.Lock()
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
            if self.queue:
                with self.db:  # long enough that the client's own work is noise
                    time.sleep(0.02)
            else:
                time.sleep(0.004)
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
        assert api.gate.highest >= 3  # writes side by side answer faster: it climbed
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


def test_a_server_that_serialises_writes_is_written_one_at_a_time_after_its_first_503() -> None:
    """A server that refuses every write but one at a time (SQLite under writes): the
    gate grows to two, is refused once, and stays at one; every deployment is written."""
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
        assert api.gate.limit == 1 and api.gate.settled and api.gate.highest == 2
    assert {o.status for o in results.outcomes} == {Status.CREATED}
    assert sorted(server.created) == sorted(f"dep-{i}" for i in range(40))
    assert server.refused <= 2
    assert [line.rsplit("at most ", 1)[1] for line in lines if "overloaded" in line] == [
        "1 write at a time"
    ]


def test_a_server_that_queues_writes_gets_one_at_a_time_without_a_single_503() -> None:
    """Writes that wait for each other on the server (SQLite's lock) answer no faster two
    at a time than one at a time: the climb steps back to one and stays there."""
    server = Server(queue=True)
    with _api(server, 4) as api:
        results = apply_plan(_plan(48), api)
        assert api.gate.limit == 1 and api.gate.settled
    assert {o.status for o in results.outcomes} == {Status.CREATED}
    assert server.refused == 0


class Clocked:
    """A gate on a clock that moves only when a write is answered."""

    def __init__(self, most: int) -> None:
        self.now = 0.0
        self.gate = Gate(most, clock=lambda: self.now)

    def answers(self, count: int, seconds_each: float) -> None:
        for _ in range(count):
            self.gate.enter()
            self.now += seconds_each
            self.gate.leave(answered=True)

    def window(self, seconds_each: float) -> None:
        """One window of answers at the gate's current limit."""
        self.answers(max(Gate.WINDOW, 4 * self.gate.limit), seconds_each)


def test_the_gate_climbs_while_the_rate_of_answers_grows() -> None:
    clocked = Clocked(8)
    gate, answers = clocked.gate, clocked.answers
    answers(15, 1.0)  # a window is sixteen answers: no decision before
    assert gate.limit == 1
    answers(1, 1.0)  # 1 per second at one: the first window always climbs
    assert gate.limit == 2
    answers(16, 0.5)  # 2 per second at two: better, climb
    assert gate.limit == 3
    answers(16, 0.48)  # barely better at three: back to two, and stay
    assert gate.limit == 2 and gate.settled and gate.highest == 3
    answers(40, 0.1)
    assert gate.limit == 2


def test_a_held_limit_is_tried_one_higher_again_after_some_windows() -> None:
    """One slow window at two (a server's pause) holds the gate at one; eight windows
    later two is tried again, and kept when it pays."""
    clocked = Clocked(8)
    gate, window = clocked.gate, clocked.window
    window(1.0)
    assert gate.limit == 2
    window(1.5)  # slower at two, by chance: back to one, held
    assert gate.limit == 1 and gate.settled
    for _ in range(Gate.PROBE_AFTER - 1):
        window(1.0)
    assert gate.limit == 1
    window(1.0)  # the eighth window held: two is tried
    assert gate.limit == 2 and not gate.settled
    window(0.5)  # two pays now: the climb goes on
    assert gate.limit == 3 and not gate.settled
    window(0.5)  # three does not: back to two, held
    assert gate.limit == 2 and gate.settled and gate.highest == 3


def test_a_gate_refused_side_by_side_is_never_probed_again() -> None:
    clocked = Clocked(8)
    gate = clocked.gate
    gate.limit = 2
    first, second = gate.enter(), gate.enter()
    assert gate.overloaded(second) and gate.limit == 1
    gate.leave(answered=False)
    gate.leave(answered=True)
    clocked.answers(Gate.WINDOW * (Gate.PROBE_AFTER + 2), 0.1)
    assert first is None and gate.limit == 1 and gate.settled


def test_gate_halves_once_per_generation_and_not_for_a_write_alone() -> None:
    gate = Gate(8)
    gate.limit = 8  # grown
    alone = gate.enter()
    second = gate.enter()
    third = gate.enter()
    assert alone is None
    assert not gate.overloaded(alone) and gate.limit == 8 and gate.settled
    assert gate.overloaded(second) and gate.limit == 4
    assert not gate.overloaded(third)  # sent at 8: already accounted for
    fourth = gate.enter()
    assert gate.overloaded(fourth) and gate.limit == 2
    for _ in range(4):
        gate.leave(answered=True)
    assert gate.limit == 2  # settled: no more growth


def test_a_restart_climbs_again_from_one() -> None:
    gate = Gate(4)
    gate.limit = 3
    assert gate.enter() is None
    assert not gate.overloaded(None)  # refused while alone: no halving, but settled
    gate.leave(answered=False)
    assert gate.settled and gate.limit == 3
    gate.restart()
    assert gate.limit == 1 and not gate.settled


def test_gate_blocks_beyond_its_limit() -> None:
    gate = Gate(2)
    gate.limit = 2
    gate.enter()
    gate.enter()
    entered = threading.Event()

    def third() -> None:
        gate.enter()
        entered.set()

    thread = threading.Thread(target=third)
    thread.start()
    assert not entered.wait(0.05)
    gate.leave(answered=False)
    assert entered.wait(2)
    thread.join()


def test_an_overload_answered_to_a_write_alone_keeps_the_limit_and_says_nothing_of_it() -> None:
    """The server's own trouble, not this client's: no halving, no "overloaded" line."""
    answers = iter([503, 503, 200])
    lines: list[str] = []
    with PrefectApi(
        Connection("http://prefect.test/api"),
        transport=httpx.MockTransport(lambda _: httpx.Response(next(answers), json={"id": "f"})),
        sleep=lambda _: None,
        concurrency=4,
        on_retry=lines.append,
    ) as api:
        assert api.upsert_flow("etl") == "f"
        assert api.gate.limit == 1 and api.gate.settled
    assert len(lines) == 2 and not [line for line in lines if "overloaded" in line]


def test_reads_are_not_gated() -> None:
    """The server is read while the files are parsed: reads never wait for the gate."""
    gate_api = PrefectApi(
        Connection("http://prefect.test/api"),
        transport=httpx.MockTransport(lambda _: httpx.Response(200, json=[])),
        concurrency=1,
    )
    gate_api.gate.enter()  # a write in flight holds the only place
    assert gate_api.read_deployments() == []
    gate_api.close()


@pytest.mark.parametrize("value", ["0", "-1", "two", "65", "1.5"])
def test_a_wrong_concurrency_is_a_configuration_error(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        PrefectApi(Connection("http://prefect.test/api", concurrency=value))
    assert "FLOWDEPLOY_CONCURRENCY" in caught.value.what and caught.value.fix


def test_the_default_concurrency_and_a_given_one() -> None:
    assert Connection("http://x/api").max_in_flight == 4
    assert Connection("http://x/api", concurrency=" 1 ").max_in_flight == 1


def test_the_gate_lets_writes_in_in_the_order_they_asked() -> None:
    """A thread that leaves and asks again at once must queue behind the waiting ones: the
    progress report follows the file's order, and once stalled behind a starved write it
    stalled for the rest of the run."""
    gate = Gate(1)
    gate.enter()
    order: list[str] = []

    def waiter(name: str) -> None:
        gate.enter()
        order.append(name)
        gate.leave(answered=False)

    threads = []
    for k, name in enumerate(("first", "second", "third"), start=2):
        thread = threading.Thread(target=waiter, args=(name,))
        thread.start()
        threads.append(thread)
        while gate._tickets < k:  # it is queued
            time.sleep(0.001)
    gate.leave(answered=False)
    gate.enter()
    order.append("again")
    gate.leave(answered=False)
    for thread in threads:
        thread.join(2)
    assert order == ["first", "second", "third", "again"]
