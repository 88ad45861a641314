import httpx
import pytest

from flowdeploy.api import Connection, PrefectApi
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
