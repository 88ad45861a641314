"""The public Python API against a real Prefect server."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from flowdeploy import DeploymentApplyError, RunnerDeployment
from flowdeploy.api import Connection, PrefectApi
from flowdeploy.errors import ConfigError
from support.proxy import RecordingProxy
from support.server import create_work_pool

EXAMPLE = Path(__file__).resolve().parents[2] / "examples"


def test_from_entrypoint_apply_is_idempotent(recording_proxy: RecordingProxy) -> None:
    create_work_pool(recording_proxy.api_url, "demo-pool", "process")
    deployment = RunnerDeployment.from_entrypoint(
        "flows/etl.py:etl",
        "api-nightly",
        project_dir=EXAMPLE,
        cron=["0 2 * * *", "0 14 * * *"],
        timezone="Europe/Berlin",
        parameters={"source": "api"},
        work_pool_name="demo-pool",
    )
    assert deployment.full_name == "etl/api-nightly"
    assert deployment.description and deployment.description.startswith("Load one source")
    with PrefectApi(Connection(recording_proxy.api_url)) as api:
        first = deployment.apply(api=api)
        recording_proxy.clear()
        assert deployment.apply(api=api) == first
        assert recording_proxy.writes() == []
    stored = httpx.get(f"{recording_proxy.api_url}/deployments/{first}").json()
    assert sorted(s["schedule"]["cron"] for s in stored["schedules"]) == ["0 14 * * *", "0 2 * * *"]
    assert stored["parameters"] == {"source": "api"}


def test_only_one_schedule_kind() -> None:
    with pytest.raises(ConfigError, match="Only one of interval, cron, rrule"):
        RunnerDeployment.from_entrypoint(
            "flows/etl.py:etl", "x", project_dir=EXAMPLE, cron="0 1 * * *", interval=60
        )


def test_server_refusal_is_a_deployment_apply_error(recording_proxy: RecordingProxy) -> None:
    create_work_pool(recording_proxy.api_url, "demo-pool", "process")
    deployment = RunnerDeployment.from_entrypoint(
        "flows/etl.py:etl",
        "bad",
        project_dir=EXAMPLE,
        parameters={"batch_size": "many"},
        work_pool_name="demo-pool",
    )
    with (
        PrefectApi(Connection(recording_proxy.api_url)) as api,
        pytest.raises(DeploymentApplyError) as info,
    ):
        deployment.apply(api=api)
    assert "batch_size" in info.value.detail


def test_apply_validates_the_pool_first(recording_proxy: RecordingProxy) -> None:
    deployment = RunnerDeployment.from_entrypoint(
        "flows/etl.py:etl", "x", project_dir=EXAMPLE, work_pool_name="missing-pool"
    )
    with (
        PrefectApi(Connection(recording_proxy.api_url)) as api,
        pytest.raises(ConfigError, match="work pool 'missing-pool'"),
    ):
        deployment.apply(api=api)
    with (
        PrefectApi(Connection(recording_proxy.api_url)) as api,
        pytest.raises(ConfigError, match="An image can only be provided"),
    ):
        RunnerDeployment.from_entrypoint("flows/etl.py:etl", "y", project_dir=EXAMPLE).apply(
            image="registry.test/x:1", api=api
        )
    assert recording_proxy.writes() == []
