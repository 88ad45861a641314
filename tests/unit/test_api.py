import json
import threading

import httpx
import pytest

from flowdeploy.api import Connection, PrefectApi, needs_certificates
from flowdeploy.errors import ApiError


def make(handler, **kw) -> tuple[PrefectApi, list[float]]:  # type: ignore[no-untyped-def]
    slept: list[float] = []
    api = PrefectApi(
        Connection("http://prefect.test/api", **kw),
        transport=httpx.MockTransport(handler),
        sleep=slept.append,
        retries=4,
    )
    return api, slept


def test_retries_transient_statuses_then_succeeds() -> None:
    answers = iter([503, 502, 429, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        return httpx.Response(status, json={"id": "f1"} if status == 200 else {})

    api, slept = make(handler)
    assert api.upsert_flow("etl") == "f1"
    assert len(slept) == 3


def test_honours_retry_after() -> None:
    answers = iter(
        [httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(200, json={"id": "x"})]
    )
    api, slept = make(lambda r: next(answers))
    api.upsert_flow("etl")
    assert slept == [2.0]


def test_connection_errors_are_retried_then_reported() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:  # once the server has answered, a refused connection is retried
            return httpx.Response(200, json=[])
        raise httpx.ConnectError("connection reset", request=request)

    api, _ = make(handler)
    api.read_flows(["f"])
    with pytest.raises(ApiError) as info:
        api.upsert_flow("etl")
    assert calls == 6
    assert "cannot reach the Prefect API" in info.value.render()


def test_client_errors_are_not_retried_and_carry_detail() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(409, json={"detail": "Schedule slugs must be unique."})

    api, _ = make(handler)
    with pytest.raises(ApiError) as info:
        api.create_deployment({"name": "d"})
    assert calls == 1
    assert info.value.detail == "Schedule slugs must be unique."
    assert info.value.status == 409


def test_auth_headers() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Authorization", ""))
        return httpx.Response(200, json=[])

    make(handler, api_key="pnu_123")[0].read_deployments()
    make(handler, auth_string="admin:pass")[0].read_deployments()
    assert seen == ["Bearer pnu_123", "Basic YWRtaW46cGFzcw=="]


def test_pagination_reads_every_page() -> None:
    rows = [{"id": str(i)} for i in range(450)]

    def handler(request: httpx.Request) -> httpx.Response:
        import json

        body = json.loads(request.content)
        return httpx.Response(200, json=rows[body["offset"] : body["offset"] + body["limit"]])

    api, _ = make(handler)
    assert len(api.read_deployments()) == 450
    assert api.writes == 0


def test_deployments_asked_early_are_read_once_and_only_for_the_whole_list() -> None:
    """The answer to the early read serves the next full read; a filtered read, or a second
    full one (after writes), asks the server again."""
    asked: list[object] = []
    answered = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        import json

        body = json.loads(request.content)
        asked.append(body.get("flows"))
        answered.set()
        return httpx.Response(200, json=[{"id": str(len(asked))}])

    api, _ = make(handler)
    api.read_deployments_early()
    assert answered.wait(5)  # asked before anyone wants it
    assert api.read_deployments() == [{"id": "1"}]
    assert len(asked) == 1
    assert api.read_deployments(["etl"]) == [{"id": "2"}]
    assert asked[1] == {"name": {"any_": ["etl"]}}
    assert api.read_deployments() == [{"id": "3"}]
    assert len(asked) == 3


def test_writes_are_counted() -> None:
    api, _ = make(lambda r: httpx.Response(200, json={"id": "1"}))
    api.upsert_flow("a")
    api.update_deployment("1", {})
    assert api.writes == 2


def test_validation_detail_keeps_the_message_not_the_echoed_input() -> None:
    body = {
        "exception_message": "Invalid request received.",
        "exception_detail": [
            {
                "type": "value_error",
                "loc": ["body"],
                "msg": "Validation failed for field 'n'.",
                "input": {"api_key": "do-not-echo"},
            }
        ],
    }
    api, _ = make(lambda r: httpx.Response(422, json=body))
    with pytest.raises(ApiError) as info:
        api.create_deployment({"name": "d"})
    assert info.value.detail == "Validation failed for field 'n'."
    assert "do-not-echo" not in info.value.render()


def test_unreachable_or_wrong_api_is_a_configuration_error() -> None:
    from flowdeploy.errors import EXIT_CONFIG, ConfigError

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    for handler, text in (
        (refuse, "cannot reach the Prefect API"),
        (lambda r: httpx.Response(404, text="nope"), "HTTP 404"),
        (lambda r: httpx.Response(401), "refused the credentials"),
    ):
        api, _ = make(handler)
        with pytest.raises(ConfigError) as info:
            api.check()
        assert text in info.value.render()
        assert info.value.exit_code == EXIT_CONFIG


def test_ui_links() -> None:
    cloud = Connection("https://api.prefect.cloud/api/accounts/a1/workspaces/w2")
    assert cloud.ui_url == "https://app.prefect.cloud/account/a1/workspace/w2"
    assert Connection("http://127.0.0.1:4200/api").ui_url == "http://127.0.0.1:4200"
    assert Connection("http://proxy.test/prefect").ui_url is None
    # Credentials in the URL never reach a link.
    assert Connection("https://bob:pw@prefect.example/api").ui_url == "https://prefect.example"


# -- a server that is not there ------------------------------------------------------------


def _refused(request: httpx.Request) -> httpx.Response:
    # What httpx raises for a closed port: the OS's ECONNREFUSED as the cause.
    try:
        raise ConnectionRefusedError(111, "Connection refused")
    except ConnectionRefusedError as cause:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request) from cause


def test_a_refused_first_connection_fails_at_once_with_the_good_message() -> None:
    """Before the server ever answered, a refused connection is a wrong URL or a stopped
    server (Prefect 3.9.1's client does not retry it either): no backoff, no retry line."""
    from flowdeploy.errors import EXIT_CONFIG, ConfigError

    told: list[str] = []
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return _refused(request)

    slept: list[float] = []
    api = PrefectApi(
        Connection("http://prefect.test/api"),
        transport=httpx.MockTransport(handler),
        sleep=slept.append,
        on_retry=told.append,
    )
    with pytest.raises(ConfigError) as info:
        api.check()
    assert (calls, slept, told) == (1, [], [])
    assert info.value.exit_code == EXIT_CONFIG
    assert (
        info.value.what
        == "cannot reach the Prefect API at http://prefect.test/api to check its health"
    )
    assert "Connection refused" in info.value.why
    assert "check PREFECT_API_URL and that the server is running" in info.value.fix


def test_a_refused_connection_after_an_answer_is_a_restart_and_is_retried() -> None:
    told: list[str] = []
    answers = iter(["ok", "refused", "refused", "ok"])

    def handler(request: httpx.Request) -> httpx.Response:
        if next(answers) == "refused":
            return _refused(request)
        return httpx.Response(200, json={"id": "f"})

    slept: list[float] = []
    api = PrefectApi(
        Connection("http://prefect.test/api"),
        transport=httpx.MockTransport(handler),
        sleep=slept.append,
        on_retry=told.append,
    )
    api.upsert_flow("a")
    assert api.upsert_flow("b") == "f"
    assert len(slept) == 2
    # Said at the first retry, with what, why and when.
    assert told[0].startswith("register flow 'b': cannot connect ([Errno 111] Connection refused)")
    assert "next attempt (2 of 11)" in told[0]


def test_the_first_retry_of_a_503_is_said_at_once() -> None:
    told: list[str] = []
    answers = iter([503, 503, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        return httpx.Response(200, json=True) if status == 200 else httpx.Response(503)

    def sleep(seconds: float) -> None:
        # Each wait, the first one too, is announced before it begins.
        assert len(told) == len(slept) + 1, "a wait began before it was announced"
        slept.append(seconds)

    slept: list[float] = []
    api = PrefectApi(
        Connection("http://prefect.test/api"),
        transport=httpx.MockTransport(handler),
        sleep=sleep,
        on_retry=told.append,
    )
    api.check()
    assert [t.split(";")[0] for t in told] == ["check its health: HTTP 503"] * 2


def test_messages_name_where_a_value_came_from() -> None:
    where = "from profile 'cloud' in /home/u/.prefect/profiles.toml"
    connection = Connection(
        "http://prefect.test/api",
        api_key="pnu_x",
        origins=(("PREFECT_API_URL", where), ("PREFECT_API_KEY", where)),
    )
    assert connection.named("PREFECT_API_URL") == f"PREFECT_API_URL ({where})"
    assert Connection("http://x/api").named("PREFECT_API_URL") == "PREFECT_API_URL"
    api = PrefectApi(connection, transport=httpx.MockTransport(_refused))
    from flowdeploy.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        api.check()
    assert f"check PREFECT_API_URL ({where})" in info.value.fix
    api = PrefectApi(connection, transport=httpx.MockTransport(lambda r: httpx.Response(401)))
    with pytest.raises(ConfigError) as info:
        api.check()
    assert f"check PREFECT_API_KEY ({where})" in info.value.fix


# -- is there a UI to link to --------------------------------------------------------------


def _ui(handler, api_url: str = "http://prefect.test/api", **kw):  # type: ignore[no-untyped-def]
    seen: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        result: httpx.Response = handler(request)
        return result

    api = PrefectApi(Connection(api_url, **kw), transport=httpx.MockTransport(record))
    return api.serves_ui(), seen


@pytest.mark.parametrize(
    ("answer", "served"),
    [
        # Prefect 3.9.1 with its UI, and with PREFECT_UI_ENABLED=false (checked on a server).
        ({"available_uis": ["v1", "v2"], "v1_base_url": "/"}, True),
        ({"available_uis": [], "v1_base_url": None}, False),
        ({"api_url": "http://x/api", "csrf_enabled": False}, True),  # older: always served
    ],
)
def test_the_server_says_whether_it_serves_its_ui(answer: object, served: bool) -> None:
    found, seen = _ui(lambda r: httpx.Response(200, json=answer))
    assert found is served
    assert seen == ["http://prefect.test/ui-settings"]


def test_no_ui_route_is_no_ui_and_a_failure_is_unknown() -> None:
    assert _ui(lambda r: httpx.Response(404))[0] is False
    assert _ui(lambda r: httpx.Response(500))[0] is None
    assert _ui(lambda r: httpx.Response(200, text="<html>"))[0] is None
    assert _ui(_refused)[0] is None


def test_cloud_a_given_ui_url_and_no_root_need_no_request() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    cloud = "https://api.prefect.cloud/api/accounts/a/workspaces/w"
    assert _ui(fail, cloud) == (True, [])
    assert _ui(fail, ui="https://ui.example/") == (True, [])
    assert _ui(fail, "http://proxy.test/prefect") == (False, [])
    assert Connection("http://x/api", ui="https://u:p@ui.example/").ui_url == "https://ui.example"


def test_the_health_is_checked_once_per_client() -> None:
    """The CLI checks before it loads the engine; the run's own check asks nothing again."""
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(200, json=True)

    api, _ = make(handler)
    api.check()
    api.check()
    assert calls == ["/api/health"]


def test_certificates_are_loaded_unless_the_api_is_plain_http_without_a_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in (
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)
    assert not needs_certificates("http://127.0.0.1:4200/api")
    assert needs_certificates("https://api.prefect.cloud/api/accounts/a/workspaces/w")
    assert needs_certificates("HTTPS://prefect.example/api")
    monkeypatch.setenv("HTTPS_PROXY", "https://proxy.example:443")
    assert needs_certificates("http://127.0.0.1:4200/api")  # TLS to the proxy


def test_pools_read_ahead_in_one_request_and_alone_when_missing_or_failed() -> None:
    """The plan's checks read each work pool once: those read ahead cost no request of their
    own; a pool the listing lacks is asked alone (and may not exist); a failed read-ahead
    leaves every pool to be asked alone, where a failure is told."""
    from flowdeploy.pipeline import PoolCache

    seen: list[tuple[str, str]] = []
    asked: list[list[str]] = []
    failing = False

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path))
        if request.url.path.endswith("/work_pools/filter"):
            asked.append(json.loads(request.content)["work_pools"]["name"]["any_"])
            if failing:
                return httpx.Response(400, json={"detail": "no"})
            return httpx.Response(200, json=[{"name": "a", "type": "process"}])
        if request.url.path.endswith("/work_pools/a"):
            return httpx.Response(200, json={"name": "a", "type": "process"})
        return httpx.Response(404, json={"detail": "Work pool not found."})

    api, _ = make(handler)
    pools = PoolCache(api)
    pools.read_ahead(["a", "b", None, "a"])
    assert seen == [("POST", "/api/work_pools/filter")] and asked == [["a", "b"]]
    assert pools.get("a") == {"name": "a", "type": "process"}
    assert seen == [("POST", "/api/work_pools/filter")]
    assert pools.get("b") is None
    assert seen[-1] == ("GET", "/api/work_pools/b")
    pools.read_ahead(["a", "b"])  # both known: no request
    assert len(seen) == 2

    failing = True
    seen.clear()
    pools = PoolCache(api)
    pools.read_ahead(["a"])
    assert pools.get("a") == {"name": "a", "type": "process"}
    assert seen == [("POST", "/api/work_pools/filter"), ("GET", "/api/work_pools/a")]
