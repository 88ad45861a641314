"""What the Prefect server would refuse, found before any write (``flowdeploy.validation``).

Each case is a small prefect.yaml loaded with the real loader; the refusal must name the
offending key's line, say why, and say how to fix it. What the server does with each value
was checked against a Prefect 3.9.1 server (tests/integration/test_refused_values.py shows
it again for the cases the issue named).
"""

from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent, indent
from typing import Any

import pytest

from flowdeploy import templating as tpl
from flowdeploy import validation
from flowdeploy.errors import ConfigError, ConfigErrors, Location
from flowdeploy.project import DeploymentSpec, Project, load_project
from flowdeploy.runner import Deployment
from flowdeploy.validation import (
    MAX_DB_INTEGER,
    check_specs,
    job_variable_refusals,
    refusals,
)

FLOW = '''\
from datetime import date
from typing import Literal

from pydantic import BaseModel
from prefect import flow


class Options(BaseModel):
    size: int
    label: str = "x"


@flow(name="etl")
def etl(
    n: int = 1,
    name: str = "x",
    xs: list[int] = [],
    mode: Literal["full", "incremental"] = "full",
    day: date | None = None,
    options: Options | None = None,
) -> None:
    """Load things."""
'''

HEAD = """\
deployments:
  - name: good
    entrypoint: flows/etl.py:etl
    work_pool: {name: pool}
    parameters: {n: 2}
  - name: daily
    entrypoint: flows/etl.py:etl
    work_pool:
      name: pool
"""


class Lookups:
    """A server's variables, or (``offline``) none: placeholders stay as text, as a plan
    without a server leaves them."""

    def __init__(self, variables: dict[str, Any] | None = None, offline: bool = False) -> None:
        self.variables = variables or {}
        self.offline = offline

    def variable(self, name: str) -> Any:
        if self.offline:
            return "{{ prefect.variables." + name + " }}"
        return self.variables.get(name, tpl.MISSING)

    def block(self, type_slug: str, name: str) -> Any:
        return "{{ prefect.blocks." + type_slug + "." + name + " }}" if self.offline else None


def load(tmp_path: Path, extra: str, lookups: Lookups | None = None) -> Project:
    """HEAD plus ``extra`` (keys of the 'daily' deployment, written at its indentation)."""
    (tmp_path / "flows").mkdir(exist_ok=True)
    (tmp_path / "flows" / "etl.py").write_text(FLOW)
    (tmp_path / "prefect.yaml").write_text(HEAD + indent(dedent(extra), "    "))
    return load_project(
        tmp_path / "prefect.yaml",
        repo_root=tmp_path,
        lookups=lookups or Lookups(),
        environ={},
        display_root=tmp_path,
    )


def refused(
    tmp_path: Path,
    extra: str,
    environ: dict[str, str] | None = None,
    lookups: Lookups | None = None,
) -> list[ConfigError]:
    return [e for s in load(tmp_path, extra, lookups).specs for e in refusals(s, environ)]


def line_of(tmp_path: Path, error: ConfigError) -> str:
    assert error.where is not None and error.where.line
    assert str(error.where.path) == "prefect.yaml"
    return (tmp_path / "prefect.yaml").read_text().splitlines()[error.where.line - 1]


def only(errors: list[ConfigError]) -> ConfigError:
    assert len(errors) == 1, "\n".join(e.render() for e in errors)
    return errors[0]


# -- a valid project is not refused -------------------------------------------------------


def test_a_valid_deployment_has_no_refusal(tmp_path: Path) -> None:
    extra = """\
    concurrency_limit: {limit: 2, collision_strategy: CANCEL_NEW, grace_period_seconds: 60}
    parameters:
      n: 5
      name: abc
      xs: [1, 2]
      mode: incremental
      day: 2024-01-31
      options: {size: 3}
    schedules:
      - cron: "0 * * * *"
        slug: hourly
        max_scheduled_runs: 50
      - interval: 600
        slug: often
    triggers:
      - expect: [prefect.flow-run.Completed]
        posture: Reactive
        threshold: 0
        within: PT1M
        match: {prefect.resource.id: [prefect.flow-run.*]}
        match_related: [{prefect.resource.role: flow}]
        for_each: [prefect.resource.id]
        parameters: {n: "{{ event.payload.n }}"}
        schedule_after: 30
      - posture: Proactive
        expect: [x]
      - type: compound
        require: 2
        within: 600
        triggers:
          - expect: [a]
          - type: sequence
            within: null
            triggers: [{expect: [b]}]
      - type: metric
        metric: {name: lateness, threshold: 60, operator: ">", range: 300}
    """
    assert refused(tmp_path, extra) == []


def test_threshold_zero_is_accepted_as_the_server_accepts_it(tmp_path: Path) -> None:
    # Prefect 3.9.1's EventTrigger.threshold is a plain int: 0 and -1 are stored (checked).
    assert refused(tmp_path, "triggers: [{expect: [x], threshold: -1}]") == []


# -- concurrency ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "fragment", "key"),
    [
        (
            "concurrency_limit: -3",
            "concurrency_limit -3 of deployment 'etl/daily' is not positive",
            "concurrency_limit:",
        ),
        ("concurrency_limit: 0", "is not positive", "concurrency_limit:"),
        (
            "concurrency_limit:\n  limit: -1\n  collision_strategy: ENQUEUE",
            "concurrency_limit -1",
            "limit: -1",
        ),
        ("concurrency_limit: 1000000000000000000000000000000", "is too large", "concurrency"),
        (f"concurrency_limit: {MAX_DB_INTEGER + 1}", "is too large", "concurrency_limit:"),
        (
            "concurrency_limit:\n  limit: 2\n",
            "has no collision_strategy",
            "concurrency_limit:",
        ),
        (
            "concurrency_limit:\n  limit: 2\n  collision_strategy: ENQUEUE\n"
            "  grace_period_seconds: -5",
            "grace_period_seconds -5",
            "grace_period_seconds",
        ),
        (
            "concurrency_limit:\n  limit: 2\n  collision_strategy: ENQUEUE\n"
            "  grace_period_seconds: 59",
            "grace_period_seconds 59",
            "grace_period_seconds",
        ),
        (
            "concurrency_limit:\n  limit: 2\n  collision_strategy: ENQUEUE\n"
            "  grace_period_seconds: 86401",
            "grace_period_seconds 86401",
            "grace_period_seconds",
        ),
        (
            "concurrency_limit:\n  limit: 2\n  collision_strategy: ENQUEUE\n"
            "  grace_period_seconds: 60.5",
            "grace_period_seconds 60.5",
            "grace_period_seconds",
        ),
    ],
)
def test_concurrency_values_the_server_refuses(
    tmp_path: Path, extra: str, fragment: str, key: str
) -> None:
    error = only(refused(tmp_path, extra))
    assert fragment in error.what
    assert key in line_of(tmp_path, error)
    assert error.fix and error.why


def test_both_halves_of_a_bad_mapping_are_reported(tmp_path: Path) -> None:
    extra = "concurrency_limit: {limit: -1, grace_period_seconds: -5}"
    errors = refused(tmp_path, extra)
    assert [e.what for e in errors] == [
        "concurrency_limit -1 of deployment 'etl/daily' is not positive",
        "concurrency_limit of deployment 'etl/daily' has no collision_strategy",
        "grace_period_seconds -5 of deployment 'etl/daily' is not valid",
    ]
    assert all("concurrency_limit:" in line_of(tmp_path, e) for e in errors)


@pytest.mark.parametrize(
    "extra",
    [
        "concurrency_limit: 1",
        f"concurrency_limit: {MAX_DB_INTEGER}",
        "concurrency_limit: {limit: 3, collision_strategy: ENQUEUE, grace_period_seconds: 86400}",
        "concurrency_limit: {collision_strategy: CANCEL_NEW}",
    ],
)
def test_concurrency_values_the_server_accepts(tmp_path: Path, extra: str) -> None:
    assert refused(tmp_path, extra) == []


# -- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize("char", ["/", "%", "&", ">", "<"])
def test_a_deployment_name_with_a_banned_character(tmp_path: Path, char: str) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "etl.py").write_text(FLOW)
    (tmp_path / "prefect.yaml").write_text(
        HEAD + f"  - name: 'nightly{char}eu'\n    entrypoint: flows/etl.py:etl\n"
        "    work_pool: {name: pool}\n"
    )
    project = load_project(
        tmp_path / "prefect.yaml",
        repo_root=tmp_path,
        lookups=Lookups(),
        environ={},
        display_root=tmp_path,
    )
    error = only([e for s in project.specs for e in refusals(s)])
    assert f"deployment name 'nightly{char}eu' contains {char!r}" in error.what
    assert "500" in error.why
    assert "name: 'nightly" in line_of(tmp_path, error)


def test_a_work_queue_name_with_a_banned_character(tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "etl.py").write_text(FLOW)
    (tmp_path / "prefect.yaml").write_text(HEAD + "      work_queue_name: eu/west\n")
    project = load_project(
        tmp_path / "prefect.yaml", repo_root=tmp_path, lookups=Lookups(), environ={}
    )
    error = only([e for s in project.specs for e in refusals(s)])
    assert "work queue name 'eu/west'" in error.what
    assert error.where is not None and error.where.line == 10


def test_a_flow_name_with_a_banned_character_is_refused_without_a_location() -> None:
    spec = DeploymentSpec(deployment=Deployment(name="d", flow_name="a&b"))
    error = only(refusals(spec))
    assert "flow name 'a&b'" in error.what and error.where is None


# -- schedules -----------------------------------------------------------------------------


def test_max_scheduled_runs_above_the_limit(tmp_path: Path) -> None:
    extra = "schedules:\n  - cron: '0 * * * *'\n    max_scheduled_runs: 51\n"
    error = only(refused(tmp_path, extra))
    assert "max_scheduled_runs 51 of schedule #1" in error.what
    assert "max_scheduled_runs: 51" in line_of(tmp_path, error)
    # a server configured for more: the same setting, given to flowdeploy
    env = {"PREFECT_SERVER_DEPLOYMENT_SCHEDULE_MAX_SCHEDULED_RUNS": "100"}
    assert refused(tmp_path, extra, environ=env) == []
    assert refused(tmp_path, extra, environ={"PREFECT_DEPLOYMENT_SCHEDULE_MAX_SCHEDULED_RUNS": "9"})


def test_the_legacy_schedule_key_is_located(tmp_path: Path) -> None:
    extra = "schedule:\n  cron: '0 * * * *'\n  max_scheduled_runs: 99\n"
    error = only(refused(tmp_path, extra))
    assert "max_scheduled_runs: 99" in line_of(tmp_path, error)


def test_duplicate_schedule_slugs(tmp_path: Path) -> None:
    extra = """\
    schedules:
      - cron: '0 * * * *'
        slug: main
      - cron: '0 1 * * *'
        slug: other
      - interval: 60
        slug: main
    """
    error = only(refused(tmp_path, extra))
    assert "schedule slug 'main' is used twice" in error.what
    assert "409" in error.why and "#1" in error.why
    assert line_of(tmp_path, error).strip() == "slug: main"
    assert error.where is not None and error.where.line == 16


# -- parameters ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field", "line", "reason"),
    [
        ("n: abc", "n", "n: abc", "'abc' is not of type 'integer'"),
        ("name: 5", "name", "name: 5", "5 is not of type 'string'"),
        ("xs: [1, two]", "xs[1]", "xs: [1, two]", "'two' is not of type 'integer'"),
        ("mode: sometimes", "mode", "mode: sometimes", "'sometimes' is not one of"),
        ("day: 17", "day", "day: 17", "17 is not valid under any of the given schemas"),
        ("options:\n  size: big", "options.size", "size: big", "'big' is not of type"),
        ("n: 1.5", "n", "n: 1.5", "1.5 is not of type 'integer'"),
        ("n: null", "n", "n: null", "None is not of type 'integer'"),
    ],
)
def test_parameters_that_do_not_fit_the_schema(
    tmp_path: Path, params: str, field: str, line: str, reason: str
) -> None:
    error = only(refused(tmp_path, "parameters:\n" + indent(params, "  ")))
    assert f"parameter {field!r} of deployment 'etl/daily'" in error.what
    assert reason in error.why
    assert "enforce_parameter_schema" in error.why and "enforce_parameter_schema" in error.fix
    assert line in line_of(tmp_path, error)


def test_one_refusal_per_parameter(tmp_path: Path) -> None:
    errors = refused(tmp_path, "parameters: {n: a, name: 1, mode: x, xs: [a, b]}")
    assert sorted(e.what.split("'")[1] for e in errors) == ["mode", "n", "name", "xs[1]"]


def test_parameters_are_not_checked_when_the_schema_is_not_enforced(tmp_path: Path) -> None:
    assert refused(tmp_path, "enforce_parameter_schema: false\nparameters: {n: abc}") == []


def test_required_parameters_and_unknown_ones_are_left_to_the_server(tmp_path: Path) -> None:
    # The server validates with every 'required' removed, and Prefect's schemas allow
    # extra properties: neither is refused.
    assert refused(tmp_path, "parameters: {options: {label: y}, extra: 1}") == []


def test_a_yaml_date_is_checked_as_the_iso_string_prefect_sends(tmp_path: Path) -> None:
    assert refused(tmp_path, "parameters: {day: 2024-02-29}") == []


def test_a_variable_resolved_from_the_server_is_checked_with_its_value(tmp_path: Path) -> None:
    extra = "parameters: {n: '{{ prefect.variables.size }}'}"
    error = only(refused(tmp_path, extra, lookups=Lookups({"size": "seven"})))
    assert "'seven' is not of type 'integer'" in error.why
    assert refused(tmp_path, extra, lookups=Lookups({"size": 7})) == []


def test_placeholders_a_plan_without_a_server_leaves_are_not_checked(tmp_path: Path) -> None:
    extra = """\
    parameters:
      n: '{{ prefect.variables.size }}'
      xs: ['{{ prefect.variables.first }}', 2]
      name: '{{ prefect.blocks.secret.name }}'
    triggers:
      - expect: [x]
        threshold: '{{ prefect.variables.threshold }}'
        enabled: '{{ prefect.variables.enabled }}'
    """
    assert refused(tmp_path, extra, lookups=Lookups(offline=True)) == []


def test_other_placeholder_text_is_sent_as_written_and_checked(tmp_path: Path) -> None:
    # The server resolves no {{ }} in a deployment's parameters: it validates the text.
    error = only(refused(tmp_path, "parameters: {n: '{{ ctx.flow_run.n }}'}"))
    assert "'{{ ctx.flow_run.n }}' is not of type 'integer'" in error.why


def test_parameters_larger_than_the_server_takes(tmp_path: Path) -> None:
    extra = "parameters: {name: " + "x" * 530_000 + "}"
    error = only(refused(tmp_path, extra))
    assert "too large" in error.what and "524,288 bytes" in error.why
    assert line_of(tmp_path, error).strip().startswith("parameters:")
    assert refused(tmp_path, extra, environ={"PREFECT_SERVER_API_MAX_PARAMETER_SIZE": "0"}) == []


def test_an_invalid_parameter_schema_is_refused_when_enforced() -> None:
    bad = {"type": "object", "properties": {"n": {"type": "number-ish"}}}
    spec = DeploymentSpec(deployment=Deployment(name="d", parameter_openapi_schema=bad))
    error = only(refusals(spec))
    assert "is not valid JSON Schema" in error.what
    off = Deployment(name="d", parameter_openapi_schema=bad, enforce_parameter_schema=False)
    assert refusals(DeploymentSpec(deployment=off)) == []


def test_an_unresolvable_reference_in_the_schema() -> None:
    schema = {"type": "object", "properties": {"o": {"$ref": "#/definitions/Missing"}}}
    spec = DeploymentSpec(
        deployment=Deployment(name="d", parameter_openapi_schema=schema, parameters={"o": 1})
    )
    assert "cannot be resolved" in only(refusals(spec)).what


# -- triggers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trigger", "fragment", "line"),
    [
        ("posture: Sometimes\nexpect: [x]", "posture 'Sometimes' is not valid", "posture:"),
        ("posture: reactive\nexpect: [x]", "posture 'reactive'", "posture:"),
        ("posture: Metric\nexpect: [x]", "posture 'Metric'", "posture:"),
        ("expect: [x]\nthreshold: 1.5", "threshold 1.5", "threshold:"),
        ("expect: [x]\nthreshold: many", "threshold 'many'", "threshold:"),
        ("expect: [x]\nwithin: -1", "within -1", "within:"),
        ("expect: [x]\nwithin: soon", "within 'soon'", "within:"),
        ("expect: [x]\nwithin: 1000000000000000000", "within", "within:"),
        ("expect: [x]\nwithin: null", "'within' is empty", "within:"),
        ("posture: Proactive\nexpect: [x]\nwithin: 5", "'within' is 5 seconds", "within:"),
        ("expect: prefect.flow-run.Completed", "expect 'prefect.flow-run.Completed'", "expect:"),
        ("expect: [x, 1]", "expect.1", "expect:"),
        ("after: x", "after 'x'", "after:"),
        ("for_each: prefect.resource.id", "for_each", "for_each:"),
        ("expect: [x]\nmatch: [a]", "match is not valid", "match:"),
        ("expect: [x]\nmatch:\n  a: 1", "match.a 1", "a: 1"),
        ("expect: [x]\nmatch_related: 3", "match_related 3", "match_related:"),
        ("expect: [x]\nenabled: maybe", "enabled 'maybe'", "enabled:"),
        ("expect: [x]\ndescription: null", "description", "description:"),
        ("expect: [x]\nname: 5", "name 5", "name: 5"),
        ("expect: [x]\nparameters: [1]", "parameters is not valid", "parameters:"),
        ("expect: [x]\njob_variables: big", "job_variables 'big'", "job_variables:"),
        ("expect: [x]\nschedule_after: -5", "schedule_after -5 is not a duration", "schedule_"),
        (
            "type: compound\nrequire: 0\nwithin: 60\ntriggers: [{expect: [a]}]",
            "require 0 is out of range",
            "require:",
        ),
        (
            "type: compound\nrequire: 3\nwithin: 60\ntriggers: [{expect: [a]}, {expect: [b]}]",
            "require 3 is out of range",
            "require:",
        ),
        (
            "type: compound\nrequire: some\nwithin: 60\ntriggers: [{expect: [a]}]",
            "require 'some'",
            "require:",
        ),
        (
            "type: compound\nwithin: 60\ntriggers: [{expect: [a]}]",
            "'require' is missing",
            "type: compound",
        ),
        ("type: sequence\nwithin: 60", "'triggers' is missing", "type: sequence"),
        ("type: compound\nrequire: any\nwithin: 60\ntriggers: 3", "triggers 3", "triggers: 3"),
        (
            "type: compound\nrequire: any\nwithin: forever\ntriggers: [{expect: [a]}]",
            "within 'forever'",
            "within:",
        ),
        (
            "type: compound\nrequire: any\nwithin: 60\ntriggers:\n  - expect: [a]\n"
            "    posture: Later",
            "of deployment 'etl/daily', nested trigger #1: posture 'Later'",
            "posture: Later",
        ),
        (
            "type: sequence\nwithin: 60\ntriggers:\n  - expect: [a]\n  - type: banana",
            "of deployment 'etl/daily', nested trigger #2 has unknown type 'banana'",
            "type: banana",
        ),
        (
            "type: sequence\nwithin: 60\ntriggers:\n  - posture: Proactive\n    within: 3",
            "'within' is 3 seconds",
            "within: 3",
        ),
        (
            "type: compound\nrequire: any\nwithin: 60\ntriggers:\n  - 5",
            "of deployment 'etl/daily', nested trigger #1 is not a mapping",
            "- 5",
        ),
        (
            "type: metric\nmetric: {name: lateness, threshold: 1, operator: '=='}",
            "metric.operator '=='",
            "metric:",
        ),
        (
            "type: metric\nmetric:\n  name: lateness\n  threshold: 1\n  operator: '>'\n  range: 60",
            "metric.range 60",
            "range: 60",
        ),
        ("type: metric", "'metric' is missing", "type: metric"),
    ],
)
def test_triggers_the_server_refuses(
    tmp_path: Path, trigger: str, fragment: str, line: str
) -> None:
    extra = "triggers:\n  - " + indent(trigger, "    ").lstrip()
    error = only(refused(tmp_path, extra))
    assert error.what.startswith("trigger #1 of deployment 'etl/daily'"), error.what
    assert fragment in error.what
    assert error.why and error.fix
    assert line in line_of(tmp_path, error)


def test_the_trigger_number_and_line_follow_the_file(tmp_path: Path) -> None:
    extra = """\
    triggers:
      - expect: [a]
      - expect: [b]
        posture: Sideways
    """
    error = only(refused(tmp_path, extra))
    assert error.what.startswith("trigger #2 ")
    assert error.where is not None and error.where.line == 13


@pytest.mark.parametrize(
    ("trigger", "refused_"),
    [
        ("expect: [prefect.flow-run.Running]", True),
        ("expect: [prefect.flow-run.*]", True),
        (
            "expect: [prefect.flow-run.Pending, x]\n"
            "match: {prefect.resource.id: prefect.flow-run.*}",
            True,
        ),
        ("expect: [prefect.flow-run.Running]\nmatch: {prefect.resource.name: nightly}", False),
        (
            "expect: [prefect.flow-run.Running]\n"
            "match_related: {prefect.resource.id: prefect.flow.1}",
            False,
        ),
        ("expect: [prefect.flow-run.Running]\nenabled: false", False),
        ("expect: [prefect.flow-run.Running]\nposture: Proactive", False),
        ("expect: [prefect.flow-run.Completed]", False),
    ],
)
def test_a_trigger_that_would_run_its_deployment_on_its_own_runs(
    tmp_path: Path, trigger: str, refused_: bool
) -> None:
    errors = refused(tmp_path, "triggers:\n  - " + indent(trigger, "    ").lstrip())
    if refused_:
        error = only(errors)
        assert "would run the deployment on its own flow runs' events" in error.what
        assert "expect:" in line_of(tmp_path, error)
    else:
        assert errors == []


# -- many problems at once, and specs without a file -----------------------------------------


def test_every_problem_of_a_deployment_is_reported_in_file_order(tmp_path: Path) -> None:
    extra = """\
    concurrency_limit: 0
    parameters: {n: x}
    schedules:
      - cron: '0 * * * *'
        max_scheduled_runs: 500
    triggers:
      - posture: Upside
    """
    errors = refused(tmp_path, extra)
    assert len(errors) == 4
    lines = [e.where.line for e in errors if e.where]
    assert lines == sorted(lines)
    assert [line_of(tmp_path, e).split(":")[0].strip(" -") for e in errors] == [
        "concurrency_limit",
        "parameters",
        "max_scheduled_runs",
        "posture",
    ]


def test_only_the_bad_deployment_is_refused(tmp_path: Path) -> None:
    project = load(tmp_path, "concurrency_limit: -1")
    good, bad = project.specs
    assert refusals(good) == []
    assert refusals(bad)


def test_a_spec_without_a_location_still_gets_its_refusals() -> None:
    spec = DeploymentSpec(deployment=Deployment(name="a/b", concurrency_limit=-1))
    errors = refusals(spec)
    assert len(errors) == 2
    assert all(e.where is None for e in errors)


def test_a_location_falls_back_to_the_nearest_key(tmp_path: Path) -> None:
    spec = load(tmp_path, "concurrency_limit: -1").specs[1]
    moved = spec.model_copy(update={"lines": {}})
    error = only(refusals(moved))
    assert error.where == spec.where == Location(Path("prefect.yaml"), 6)


# -- job variables against the work pool -------------------------------------------------------

POOL: dict[str, Any] = {
    "name": "pool",
    "type": "process",
    "base_job_template": {
        "job_configuration": {},
        "variables": {
            "type": "object",
            "properties": {
                "env": {
                    "type": "object",
                    "title": "Environment Variables",
                    "additionalProperties": {"type": "string"},
                },
                "command": {"type": "string", "title": "Command"},
                "stream_output": {"type": "boolean", "default": True},
                "working_dir": {"type": "string", "format": "path", "default": None},
                "labels": {"type": "object", "default": "not-an-object"},
            },
            "required": ["command"],
        },
    },
}


@pytest.mark.parametrize(
    ("variables", "field", "line"),
    [
        ("env: FOO=bar", "env", "env: FOO=bar"),
        ("env: {A: 1}", "env.A", "env: {A: 1}"),
        ("stream_output: loud", "stream_output", "stream_output: loud"),
        ("command: [python, x.py]", "command", "command:"),
    ],
)
def test_job_variables_that_do_not_fit_the_pool(
    tmp_path: Path, variables: str, field: str, line: str
) -> None:
    extra = "  job_variables:\n" + indent(variables, "    ")
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "etl.py").write_text(FLOW)
    (tmp_path / "prefect.yaml").write_text(HEAD + indent(extra, "    "))
    project = load_project(
        tmp_path / "prefect.yaml",
        repo_root=tmp_path,
        lookups=Lookups(),
        environ={},
        display_root=tmp_path,
    )
    error = only([e for s in project.specs for e in job_variable_refusals(s.deployment, POOL, s)])
    assert f"job variable {field!r} of deployment 'etl/daily' does not fit work pool 'pool'" == (
        error.what
    )
    assert line in line_of(tmp_path, error)


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"env": {"A": "1"}},
        {"working_dir": None},  # None is allowed where the template has a default
        {"unknown": 1},  # a variable the template does not declare is kept, not refused
        {"stream_output": False, "image": "registry.test/x:1"},
    ],
)
def test_job_variables_that_fit_the_pool(variables: dict[str, Any]) -> None:
    dep = Deployment(name="d", job_variables=variables)
    assert job_variable_refusals(dep, POOL) == []


def test_pools_without_a_variables_schema_take_anything() -> None:
    dep = Deployment(name="d", job_variables={"env": "x"})
    assert job_variable_refusals(dep, {"name": "p", "base_job_template": {}}) == []
    assert job_variable_refusals(dep, {"name": "p"}) == []


def test_the_real_process_and_docker_templates() -> None:
    from support.server import default_job_template

    for kind in ("process", "docker"):
        pool = {"name": kind, "base_job_template": default_job_template(kind)}
        good = Deployment(name="d", job_variables={"env": {"A": "b"}, "image": "x:1"})
        bad = Deployment(name="d", job_variables={"env": "A=b"})
        assert job_variable_refusals(good, pool) == []
        assert only(job_variable_refusals(bad, pool))


def test_an_invalid_pool_template_is_reported() -> None:
    pool = {"name": "odd", "base_job_template": {"variables": {"type": "thing"}}}
    dep = Deployment(name="d", job_variables={"a": 1})
    assert "invalid job template" in only(job_variable_refusals(dep, pool)).what


def test_check_specs_raises_every_refusal_at_once(tmp_path: Path) -> None:
    project = load(tmp_path, "concurrency_limit: -1\nparameters: {n: x}")
    check_specs(project.specs[:1])  # the good one: nothing to raise
    with pytest.raises(ConfigErrors) as caught:
        check_specs(project.specs)
    assert len(caught.value.errors) == 2
    assert caught.value.exit_code == 2


# -- the meta-schema check: the fast path agrees with the server's library ---------------------


_SCHEMAS = [
    {"type": "object", "properties": {}},
    {
        "title": "Parameters",
        "type": "object",
        "properties": {
            "default": {"title": "default", "type": "string", "default": "x", "position": 0},
            "n": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None},
        },
        "definitions": {"E": {"enum": ["a", "b"], "type": "string"}},
    },
    {"type": "object", "properties": {"a": {"type": "strin"}}},
    {"type": "object", "properties": {"a": {"minimum": "1"}}},
    {"type": "object", "required": "a"},
    {"type": "object", "properties": {"a": {"type": "string", "pattern": "("}}},
    {"type": "object", "properties": {"a": {"type": "string", "pattern": "^a(?=b)"}}},
    {"type": "object", "patternProperties": {"[": {"type": "string"}}},
    {"type": "object", "properties": {"a": {"enum": "abc"}}},
    {"type": "object", "properties": {"a": {"items": 3}}},
    {"type": "object", "properties": {"a": {"title": 3}}},
]


@pytest.mark.parametrize("schema", _SCHEMAS)
def test_the_schema_check_says_what_jsonschema_says(schema: dict[str, Any]) -> None:
    import jsonschema

    try:
        jsonschema.Draft202012Validator.check_schema(schema)
        expected = None
    except jsonschema.SchemaError as exc:
        expected = str(exc.message)
    text = json.dumps(schema, sort_keys=True)
    validation._schema_problem.cache_clear()
    assert validation._schema_problem(text) == expected
