"""The runner contract: inputs, booleans, lists, the outputs file, masks, annotations."""

from __future__ import annotations

import base64
import io
import json
import os
import re
from pathlib import Path

import pytest
import yaml

from flowdeploy.action import (
    action_outputs,
    annotation,
    mask_commands,
    output_lines,
    parse_bool,
    parse_lines,
    read_inputs,
    resolve_mode,
    run_action,
)
from flowdeploy.environ import input_value
from flowdeploy.errors import ConfigError
from flowdeploy.plan import Action, Plan, PlannedDeployment
from flowdeploy.run import RunResult

ROOT = Path(__file__).resolve().parents[2]


def test_inputs_with_dashes_as_github_passes_them_and_with_underscores() -> None:
    assert input_value({"INPUT_PREFECT-API-URL": " http://x/api \n"}, "prefect-api-url") == (
        "http://x/api"
    )
    assert input_value({"INPUT_PREFECT_API_URL": "http://y/api"}, "prefect-api-url") == (
        "http://y/api"
    )
    # The dashed form (the runner's) wins when both are set.
    both = {"INPUT_PROJECT-DIR": "a", "INPUT_PROJECT_DIR": "b"}
    assert input_value(both, "project-dir") == "a"
    assert input_value({}, "project-dir") == ""


@pytest.mark.parametrize(
    ("text", "want"),
    [("true", True), ("True", True), ("TRUE", True), ("false", False), ("FALSE", False)],
)
def test_booleans_as_github_writes_them(text: str, want: bool) -> None:
    assert parse_bool("prune", text, not want) is want


def test_a_bool_that_is_not_one_names_the_input() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_bool("prune", "yes", False)
    assert "prune" in caught.value.what and "'yes'" in caught.value.what
    assert "true" in caught.value.fix
    assert parse_bool("prune", "", True) is True


def test_multi_line_lists_skip_blanks_and_comments() -> None:
    text = "etl/nightly\n\n  reports-*  \n# not this one\nweekly\r\n"
    assert parse_lines(text) == ("etl/nightly", "reports-*", "weekly")


def test_read_inputs_defaults_and_errors() -> None:
    inputs = read_inputs({"INPUT_DEPLOYMENTS": "a\nb", "INPUT_FAIL-ON-CHANGES": "true"})
    assert inputs.deployments == ("a", "b")
    assert inputs.fail_on_changes is True
    assert inputs.comment_on_pr is True and inputs.mode == "auto" and inputs.project_dir == "."
    with pytest.raises(ConfigError, match="mode"):
        read_inputs({"INPUT_MODE": "deploy"})


def test_mode_auto_plans_on_pull_requests_and_applies_otherwise() -> None:
    assert resolve_mode("auto", "pull_request") == "plan"
    assert resolve_mode("auto", "pull_request_target") == "plan"
    assert resolve_mode("auto", "push") == "apply"
    assert resolve_mode("auto", "workflow_dispatch") == "apply"
    assert resolve_mode("plan", "push") == "plan"
    assert resolve_mode("apply", "pull_request") == "apply"


def test_outputs_file_uses_a_random_delimiter_absent_from_the_value() -> None:
    text = output_lines({"a": "1", "b": "line one\nline two"})
    blocks = re.findall(r"^(\w[\w-]*)<<(\S+)\n(.*?)\n\2\n", text, flags=re.S | re.M)
    assert [(n, v) for n, _, v in blocks] == [("a", "1"), ("b", "line one\nline two")]
    delimiters = [d for _, d, _ in blocks]
    assert len(set(delimiters)) == 2 and all(d.startswith("ghadelimiter_") for d in delimiters)
    # A value that contains the chosen delimiter gets another one.
    hostile = output_lines({"x": "ghadelimiter_fixed\ny<<z"}, delimiter="ghadelimiter_fixed")
    _name, delim, value = re.findall(r"^(x)<<(\S+)\n(.*?)\n\2\n", hostile, flags=re.S | re.M)[0]
    assert delim != "ghadelimiter_fixed" and value == "ghadelimiter_fixed\ny<<z"


def test_masks_cover_lines_json_and_basic_forms() -> None:
    lines = mask_commands(["user:pa$$word", '-----BEGIN KEY-----\nabc"def\n-----END KEY-----'])
    masked = {line.removeprefix("::add-mask::") for line in lines}
    assert all(line.startswith("::add-mask::") and "\n" not in line for line in lines)
    assert "user:pa$$word" in masked
    assert base64.b64encode(b"user:pa$$word").decode() in masked
    assert 'abc"def' in masked and 'abc\\"def' in masked
    assert "-----BEGIN KEY-----" in masked


def test_annotations_escape_data_and_properties() -> None:
    line = annotation("error", "50% done\nnext", file="a,b:c.yaml", line=3, title="flowdeploy")
    assert line == "::error file=a%2Cb%3Ac.yaml,line=3,title=flowdeploy::50%25 done%0Anext"
    assert annotation("notice", "plain") == "::notice::plain"


def _result() -> RunResult:
    plan = Plan(
        items=(
            PlannedDeployment(name="etl/a", action=Action.CREATE),
            PlannedDeployment(name="etl/b", action=Action.UNCHANGED, deployment_id="id-b"),
            PlannedDeployment(name="etl/c", action=Action.ORPHANED, deployment_id="id-c"),
        )
    )
    return RunResult(command="plan", plan=plan)


def test_outputs_count_the_plan_in_plan_mode() -> None:
    outputs = action_outputs(_result(), "## md")
    assert (outputs["created"], outputs["unchanged"], outputs["orphaned"]) == ("1", "1", "1")
    assert outputs["failed"] == "0" and outputs["updated"] == "0"
    assert json.loads(outputs["deployment-ids"]) == {"etl/b": "id-b", "etl/c": "id-c"}
    assert json.loads(outputs["plan-json"])["summary"]["create"] == 1
    assert outputs["summary-markdown"] == "## md"
    assert json.loads(outputs["projects"]) == []


def test_masks_come_before_any_other_line(tmp_path: Path) -> None:
    """A bad input still masks every secret first, and the error names the input."""
    out = io.StringIO()
    summary_file = tmp_path / "summary.md"
    outputs_file = tmp_path / "outputs"
    env = {
        "INPUT_PREFECT-API-KEY": "pnu_secretkey123",
        "INPUT_PREFECT-API-URL": "https://bob:hunter22@prefect.example/api",
        "INPUT_REGISTRY-PASSWORD": "regpass-xyz",
        "INPUT_PRUNE": "maybe",
        "GITHUB_STEP_SUMMARY": str(summary_file),
        "GITHUB_OUTPUT": str(outputs_file),
    }
    code = run_action(env, out)
    lines = out.getvalue().splitlines()
    assert code == 2
    first_other = next(i for i, line in enumerate(lines) if not line.startswith("::add-mask::"))
    masks = {line.removeprefix("::add-mask::") for line in lines[:first_other]}
    assert {"pnu_secretkey123", "regpass-xyz", "hunter22", "bob:hunter22"} <= masks
    assert any(line.startswith("::error") and "prune" in line for line in lines)
    shown = "\n".join(lines[first_other:])
    written = shown + summary_file.read_text() + outputs_file.read_text()
    for secret in ("pnu_secretkey123", "regpass-xyz", "hunter22"):
        assert secret not in written
    assert "prune" in summary_file.read_text()


def test_action_yml_declares_every_input_the_code_reads() -> None:
    spec = yaml.safe_load((ROOT / "action.yml").read_text())
    declared = set(spec["inputs"])
    from flowdeploy.action import ActionInputs

    assert declared == {name.replace("_", "-") for name in ActionInputs.model_fields}
    assert spec["runs"] == {"using": "docker", "image": "Dockerfile"}
    assert set(spec["outputs"]) == set(action_outputs(_result(), ""))
    for name, item in spec["inputs"].items():
        assert item.get("description"), name
        assert "default" in item, name


def test_apply_is_refused_for_a_pull_request(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {"number": 3, "pull_request": {"base": {"sha": "a" * 40}, "head": {"sha": "b" * 40}}}
        )
    )
    out = io.StringIO()
    env = {
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_WORKSPACE": str(tmp_path),
        "INPUT_MODE": "apply",
        "INPUT_PREFECT-API-URL": "http://127.0.0.1:9/api",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }
    cwd = Path.cwd()
    try:
        code = run_action(env, out)
    finally:
        os.chdir(cwd)
    assert code == 2
    assert "apply refuses to run for a pull request" in out.getvalue()
    assert "mode: auto" in (tmp_path / "summary.md").read_text()
