"""Values the Prefect server refuses are refused before the first write (issue #10, "Plan
says fine, apply fails half-way").

Each case puts one bad deployment between two good ones. ``plan`` and ``apply`` must exit 2,
name the offending key's prefect.yaml:line, and write nothing (every request goes through a
recording proxy). A control sends the same deployment (or automation) straight to the real
server and sees it refused, which shows the check is needed: without it, ``apply`` writes
the first deployment and then fails.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from textwrap import dedent, indent
from typing import Any

import httpx
import pytest

from flowdeploy import templating as tpl
from flowdeploy.cli import main
from flowdeploy.project import DeploymentSpec, load_project
from flowdeploy.runner import automation_body
from support.proxy import RecordingProxy
from support.server import create_work_pool

FLOW = '''\
from prefect import flow


@flow(name="etl")
def etl(n: int = 1, name: str = "x") -> None:
    """Load things."""
'''

GOOD = """\
  - name: {name}
    entrypoint: flows/etl.py:etl
    work_pool: {{name: pool}}
"""


@pytest.fixture
def api(recording_proxy: RecordingProxy, monkeypatch: pytest.MonkeyPatch) -> RecordingProxy:
    for var in list(os.environ):
        if var.startswith(("GITHUB_", "PREFECT_")):
            monkeypatch.delenv(var)
    monkeypatch.setenv("PREFECT_API_URL", recording_proxy.api_url)
    create_work_pool(recording_proxy.api_url, "pool", "process")
    recording_proxy.clear()
    return recording_proxy


def write_project(root: Path, bad: str) -> Path:
    """Three deployments: 'first' and 'last' are fine, 'bad' (in the middle) is not."""
    (root / "flows").mkdir(parents=True, exist_ok=True)
    (root / "flows" / "etl.py").write_text(FLOW)
    text = "deployments:\n" + GOOD.format(name="first") + indent(dedent(bad), "  ")
    text += GOOD.format(name="last")
    (root / "prefect.yaml").write_text(text)
    return root


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


class _NoLookups:
    def variable(self, name: str) -> Any:
        return tpl.MISSING

    def block(self, type_slug: str, name: str) -> Any:
        return None


def bad_spec(root: Path) -> DeploymentSpec:
    project = load_project(root / "prefect.yaml", repo_root=root, lookups=_NoLookups(), environ={})
    (spec,) = [s for s in project.specs if s.deployment.name not in ("first", "last")]
    return spec


# -- sending straight to the server (the controls) ----------------------------------------


def send(api_url: str, method: str, path: str, body: Any) -> httpx.Response:
    """One request to the real server, bypassing flowdeploy; SQLite's 503 is retried. A new
    connection each time: the server closes it after a 500."""
    for attempt in range(5):
        with httpx.Client(base_url=api_url.rstrip("/") + "/", timeout=60) as client:
            response = client.request(method, path, json=body)
        if response.status_code != 503:
            return response
        time.sleep(0.2 * (attempt + 1))
    return response


def flow_id(api_url: str) -> str:
    response = send(api_url, "POST", "flows/", {"name": "etl"})
    assert response.status_code < 300, response.text
    return str(response.json()["id"])


def post_deployment(api_url: str, spec: DeploymentSpec) -> httpx.Response:
    return send(api_url, "POST", "deployments/", spec.deployment.create_body(flow_id(api_url)))


def post_automation(
    api_url: str, spec: DeploymentSpec, edit: Callable[[dict[str, Any]], None] | None = None
) -> httpx.Response:
    """The deployment without its triggers (accepted), then its first trigger's automation."""
    dep = spec.deployment
    plain = dep.model_copy(update={"triggers": []})
    created = send(api_url, "POST", "deployments/", plain.create_body(flow_id(api_url)))
    assert created.status_code < 300, created.text
    trigger = dict(dep.triggers[0])
    raw_after = trigger.pop("schedule_after", None) if edit else None
    body = automation_body(trigger, str(created.json()["id"]))
    if edit:
        edit(body)
    assert raw_after is None or edit
    return send(api_url, "POST", "automations/", body)


def _negative_delay(body: dict[str, Any]) -> None:
    body["actions"][0]["schedule_after"] = -5.0


CASES: list[tuple[str, str, str, str, int, str]] = [
    # (id, bad deployment, what the message says, text of the reported line, status, control)
    (
        "negative-limit",
        "- name: bad\n  entrypoint: flows/etl.py:etl\n  work_pool: {name: pool}\n"
        "  concurrency_limit: -3\n",
        "concurrency_limit -3 of deployment 'etl/bad' is not positive",
        "concurrency_limit: -3",
        422,
        "deployment",
    ),
    (
        "negative-limit-and-grace",
        "- name: bad\n  entrypoint: flows/etl.py:etl\n  work_pool: {name: pool}\n"
        "  concurrency_limit:\n    limit: -1\n    grace_period_seconds: -5\n",
        "concurrency_limit -1 of deployment 'etl/bad' is not positive",
        "limit: -1",
        422,
        "deployment",
    ),
    (
        "huge-limit",
        "- name: bad\n  entrypoint: flows/etl.py:etl\n  work_pool: {name: pool}\n"
        "  concurrency_limit: 1000000000000000000000000000000\n",
        "concurrency_limit 1000000000000000000000000000000 of deployment 'etl/bad' is too large",
        "concurrency_limit: 1000",
        500,
        "deployment",
    ),
    (
        "limit-without-strategy",
        "- name: bad\n  entrypoint: flows/etl.py:etl\n  work_pool: {name: pool}\n"
        "  concurrency_limit: {limit: 2}\n",
        "has no collision_strategy",
        "concurrency_limit: {limit: 2}",
        422,
        "deployment",
    ),
    (
        "slash-in-name",
        "- name: nightly/eu\n  entrypoint: flows/etl.py:etl\n  work_pool: {name: pool}\n",
        "deployment name 'nightly/eu' contains '/'",
        "- name: nightly/eu",
        500,
        "deployment",
    ),
    (
        "slash-in-queue",
        "- name: bad\n  entrypoint: flows/etl.py:etl\n"
        "  work_pool: {name: pool, work_queue_name: eu/west}\n",
        "work queue name 'eu/west' of deployment 'etl/bad' contains '/'",
        "work_queue_name: eu/west",
        500,
        "deployment",
    ),
    (
        "parameter-off-schema",
        "- name: bad\n  entrypoint: flows/etl.py:etl\n  work_pool: {name: pool}\n"
        "  enforce_parameter_schema: true\n  parameters:\n    name: x\n    n: many\n",
        "parameter 'n' of deployment 'etl/bad' does not fit the flow's parameter schema",
        "n: many",
        422,
        "deployment",
    ),
    (
        "max-scheduled-runs",
        "- name: bad\n  entrypoint: flows/etl.py:etl\n  work_pool: {name: pool}\n"
        "  schedules:\n    - cron: '0 * * * *'\n      max_scheduled_runs: 51\n",
        "max_scheduled_runs 51 of schedule #1 of deployment 'etl/bad'",
        "max_scheduled_runs: 51",
        422,
        "deployment",
    ),
    (
        "duplicate-slugs",
        "- name: bad\n  entrypoint: flows/etl.py:etl\n  work_pool: {name: pool}\n"
        "  schedules:\n    - {cron: '0 * * * *', slug: main}\n"
        "    - {interval: 600, slug: main}\n",
        "schedule slug 'main' is used twice in deployment 'etl/bad'",
        "{interval: 600, slug: main}",
        409,
        "deployment",
    ),
    (
        "trigger-posture",
        "- name: bad\n  entrypoint: flows/etl.py:etl\n  work_pool: {name: pool}\n"
        "  triggers:\n    - expect: [external.thing.happened]\n      posture: Sometimes\n",
        "trigger #1 of deployment 'etl/bad': posture 'Sometimes' is not valid",
        "posture: Sometimes",
        422,
        "automation",
    ),
    (
        "trigger-proactive-within",
        "- name: bad\n  entrypoint: flows/etl.py:etl\n  work_pool: {name: pool}\n"
        "  triggers:\n    - expect: [external.thing.happened]\n      posture: Proactive\n"
        "      within: 5\n",
        "'within' is 5 seconds",
        "within: 5",
        422,
        "automation",
    ),
    (
        "trigger-compound-require",
        "- name: bad\n  entrypoint: flows/etl.py:etl\n  work_pool: {name: pool}\n"
        "  triggers:\n    - type: compound\n      require: 3\n      within: 60\n"
        "      triggers: [{expect: [a]}, {expect: [b]}]\n",
        "require 3 is out of range",
        "require: 3",
        422,
        "automation",
    ),
    (
        "trigger-loop",
        "- name: bad\n  entrypoint: flows/etl.py:etl\n  work_pool: {name: pool}\n"
        "  triggers:\n    - expect: [prefect.flow-run.Running]\n",
        "would run the deployment on its own flow runs' events",
        "expect: [prefect.flow-run.Running]",
        422,
        "automation",
    ),
    (
        "trigger-negative-delay",
        "- name: bad\n  entrypoint: flows/etl.py:etl\n  work_pool: {name: pool}\n"
        "  triggers:\n    - expect: [external.thing.happened]\n      schedule_after: -5\n",
        "schedule_after -5 is not a duration",
        "schedule_after: -5",
        422,
        "automation-negative-delay",
    ),
    (
        "job-variables-off-pool",
        "- name: bad\n  entrypoint: flows/etl.py:etl\n"
        "  work_pool:\n    name: pool\n    job_variables:\n      env: A=b\n",
        "job variable 'env' of deployment 'etl/bad' does not fit work pool 'pool'",
        "env: A=b",
        422,
        "deployment",
    ),
]


@pytest.mark.parametrize(
    ("bad", "what", "line", "status", "control"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_refused_before_the_first_write(
    api: RecordingProxy,
    clean_api: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    bad: str,
    what: str,
    line: str,
    status: int,
    control: str,
) -> None:
    root = write_project(tmp_path / "repo", bad)
    lines = (root / "prefect.yaml").read_text().splitlines()
    for command in ("plan", "apply"):
        extra = ("--all",) if command == "apply" else ()
        code, out, err = run(capsys, command, "--project-dir", str(root), *extra)
        assert code == 2, out + err
        assert what in err, err
        located = re.search(r"prefect\.yaml:(\d+): [^\n]*" + re.escape(what), err)
        assert located, err
        assert line in lines[int(located.group(1)) - 1]
        assert "fix:" in err
        assert "Traceback" not in out + err
        assert api.writes() == [], [str(w) for w in api.writes()]

    # The control: the same values, sent straight to the server, are refused.
    spec = bad_spec(root)
    if control == "deployment":
        response = post_deployment(clean_api.api_url, spec)
    elif control == "automation":
        response = post_automation(clean_api.api_url, spec)
    else:
        response = post_automation(clean_api.api_url, spec, _negative_delay)
    assert response.status_code == status, response.text


def test_a_parameter_update_the_server_would_refuse(
    api: RecordingProxy, clean_api: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's 409: the deployment exists, and the new value does not fit the schema."""
    good = "- name: bad\n  entrypoint: flows/etl.py:etl\n  work_pool: {name: pool}\n"
    root = write_project(tmp_path / "repo", good + "  parameters: {n: 2}\n")
    code, out, err = run(capsys, "apply", "--project-dir", str(root), "--all")
    assert code == 0, out + err
    api.clear()

    write_project(root, good + "  parameters: {n: two}\n")
    code, out, err = run(capsys, "apply", "--project-dir", str(root), "--all")
    assert code == 2, out + err
    assert re.search(r"prefect\.yaml:\d+: parameter 'n' of deployment 'etl/bad'", err), err
    assert api.writes() == []

    current = send(clean_api.api_url, "GET", "deployments/name/etl/bad", None).json()
    update = bad_spec(root).deployment.update_body()
    response = send(clean_api.api_url, "PATCH", f"deployments/{current['id']}", update)
    assert response.status_code == 409, response.text
    assert "Validation failed for field 'n'" in response.text


def test_a_variable_is_checked_with_the_value_the_server_holds(
    api: RecordingProxy, clean_api: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A variable used for a typed parameter: the resolved value is what is checked."""
    bad = (
        "- name: bad\n  entrypoint: flows/etl.py:etl\n  work_pool: {name: pool}\n"
        "  parameters: {n: '{{ prefect.variables.size }}'}\n"
    )
    root = write_project(tmp_path / "repo", bad)
    send(clean_api.api_url, "POST", "variables/", {"name": "size", "value": "seven"})
    code, _, err = run(capsys, "apply", "--project-dir", str(root), "--all")
    assert code == 2
    assert "'seven' is not of type 'integer'" in err
    assert api.writes() == []

    variables = send(clean_api.api_url, "POST", "variables/filter", {}).json()
    send(clean_api.api_url, "PATCH", f"variables/{variables[0]['id']}", {"value": 7})
    code, out, err = run(capsys, "apply", "--project-dir", str(root), "--all")
    assert code == 0, out + err
    deployment = send(clean_api.api_url, "GET", "deployments/name/etl/bad", None).json()
    assert deployment["parameters"] == {"n": 7}
