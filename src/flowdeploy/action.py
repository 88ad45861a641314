"""The GitHub Action (``flowdeploy-action``): the runner contract in one place.

GitHub hands a Docker action its inputs as ``INPUT_<NAME>`` variables (upper-cased, dashes
kept), describes the run in ``GITHUB_*`` variables and the event file, and reads back
workflow commands on stdout (``::add-mask::``, ``::error file=…,line=…::``, ``::group::``),
step outputs from the ``GITHUB_OUTPUT`` file and the job summary from
``GITHUB_STEP_SUMMARY``. This module turns inputs into Settings, runs, and writes those.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets as random
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, NoReturn, TextIO

from pydantic import BaseModel, ConfigDict

from flowdeploy import collector, report, summary
from flowdeploy.cancel import CancelSwitch
from flowdeploy.environ import input_value, raw_secrets
from flowdeploy.errors import (
    EXIT_FAILED,
    ConfigError,
    ConfigWarning,
    FlowdeployError,
    InternalError,
)
from flowdeploy.masking import redact, secret_forms
from flowdeploy.plan import Action, PlannedDeployment
from flowdeploy.run import Hooks, RunResult, run
from flowdeploy.settings import load_settings

PULL_REQUEST_EVENTS = frozenset({"pull_request", "pull_request_target"})
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
"""The YAML 1.2 core booleans: what ``${{ }}`` expressions and literal inputs produce."""


class ActionInputs(BaseModel):
    """The inputs of action.yml, read once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prefect_api_url: str | None = None
    prefect_api_key: str | None = None
    prefect_api_auth_string: str | None = None
    project_dir: str = "."
    prefect_file: str | None = None
    mode: Literal["auto", "plan", "apply"] = "auto"
    deployments: tuple[str, ...] = ()
    all: bool = False
    base: str | None = None
    image_name: str | None = None
    image: str | None = None
    tags: tuple[str, ...] = ()
    registry_username: str | None = None
    registry_password: str | None = None
    prune: bool = False
    comment_on_pr: bool = True
    github_token: str | None = None
    fail_on_changes: bool = False


def parse_bool(name: str, value: str, default: bool) -> bool:
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(
        f"input {name!r} is {value!r}, not a boolean",
        why="GitHub passes booleans as the text true or false",
        fix=f"write '{name}: true' or '{name}: false'",
    )


def parse_lines(value: str) -> tuple[str, ...]:
    """A multi-line input (``|`` block): one item a line; blank lines and ``#`` comments
    are skipped."""
    lines = (line.strip() for line in value.splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


def read_inputs(environ: Mapping[str, str]) -> ActionInputs:
    def text(name: str) -> str | None:
        return input_value(environ, name) or None

    mode = input_value(environ, "mode") or "auto"
    if mode not in ("auto", "plan", "apply"):
        raise ConfigError(
            f"input 'mode' is {mode!r}",
            why="it must be auto, plan or apply",
            fix="use 'mode: auto' (apply on push, plan on pull requests), 'plan' or 'apply'",
        )
    return ActionInputs(
        prefect_api_url=text("prefect-api-url"),
        prefect_api_key=text("prefect-api-key"),
        prefect_api_auth_string=text("prefect-api-auth-string"),
        project_dir=input_value(environ, "project-dir") or ".",
        prefect_file=text("prefect-file"),
        mode=mode,  # type: ignore[arg-type]  # checked above
        deployments=parse_lines(input_value(environ, "deployments")),
        all=parse_bool("all", input_value(environ, "all"), False),
        base=text("base"),
        image_name=text("image-name"),
        image=text("image"),
        tags=parse_lines(input_value(environ, "tags")),
        registry_username=text("registry-username"),
        registry_password=text("registry-password"),
        prune=parse_bool("prune", input_value(environ, "prune"), False),
        comment_on_pr=parse_bool("comment-on-pr", input_value(environ, "comment-on-pr"), True),
        github_token=text("github-token"),
        fail_on_changes=parse_bool(
            "fail-on-changes", input_value(environ, "fail-on-changes"), False
        ),
    )


# -- workflow commands (pure) ---------------------------------------------------------------


def mask_commands(values: Sequence[str]) -> list[str]:
    """``::add-mask::`` for each secret and each form it takes in output; one line each,
    since a mask covers one line."""
    return [f"::add-mask::{form}" for form in secret_forms(values) if "\n" not in form]


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(
    kind: Literal["error", "warning", "notice"],
    message: str,
    *,
    file: str | None = None,
    line: int | None = None,
    title: str | None = None,
) -> str:
    props = []
    if file:
        props.append(f"file={escape_property(file)}")
        if line:
            props.append(f"line={line}")
    if title:
        props.append(f"title={escape_property(title)}")
    head = f"::{kind} {','.join(props)}" if props else f"::{kind}"
    return f"{head}::{escape_data(message)}"


def error_annotations(errors: Sequence[FlowdeployError]) -> list[str]:
    lines = []
    for error in report.flat_errors(errors):
        where = error.where
        lines.append(
            annotation(
                "error",
                error.render() if where is None else error.render().split(": ", 1)[-1],
                file=str(where.path) if where else None,
                line=where.line if where else None,
                title="flowdeploy",
            )
        )
    return lines


def warning_annotations(warnings: Sequence[ConfigWarning]) -> list[str]:
    return [
        annotation(
            "warning",
            w.message,
            file=str(w.where.path) if w.where else None,
            line=w.where.line if w.where else None,
            title="flowdeploy",
        )
        for w in warnings
    ]


def output_lines(outputs: Mapping[str, str], delimiter: str | None = None) -> str:
    """The ``GITHUB_OUTPUT`` file format: ``name<<DELIM`` / value / ``DELIM``, with a
    random delimiter that the value does not contain (a value could otherwise end the
    heredoc early and set other outputs)."""
    chunks = []
    for name, value in outputs.items():
        delim = delimiter or f"ghadelimiter_{random.token_hex(16)}"
        while delim in value:
            delim = f"ghadelimiter_{random.token_hex(16)}"
        chunks.append(f"{name}<<{delim}\n{value}\n{delim}\n")
    return "".join(chunks)


def action_outputs(result: RunResult, summary_markdown: str) -> dict[str, str]:
    plan_items = result.plan.items if result.plan else ()
    counts = _counts(result)
    images = [j.reference for j in result.images if j.used]
    ids: dict[str, str] = {}
    if result.results is not None:
        ids = {o.name: o.deployment_id for o in result.results.outcomes if o.deployment_id}
    else:
        ids = {i.name: i.deployment_id for i in plan_items if i.deployment_id}
    return {
        "image": images[0] if images else "",
        "plan-json": json.dumps(report.run_document(result), default=str),
        "created": str(counts["created"]),
        "updated": str(counts["updated"]),
        "unchanged": str(counts["unchanged"]),
        "failed": str(counts["failed"]),
        "orphaned": str(counts["orphaned"]),
        "deployment-ids": json.dumps(ids, sort_keys=True),
        "projects": json.dumps(summary.affected_projects(result)),
        "summary-markdown": summary_markdown,
    }


def _counts(result: RunResult) -> dict[str, int]:
    """Past tense after apply; in plan mode, what apply would do."""
    counts = dict.fromkeys(("created", "updated", "unchanged", "failed", "orphaned"), 0)
    if result.results is not None:
        for outcome in result.results.outcomes:
            key = {"deleted": "orphaned", "applied": "updated"}.get(
                outcome.status.value, outcome.status.value
            )
            counts[key] += 1
        return counts
    names = {
        Action.CREATE: "created",
        Action.UPDATE: "updated",
        Action.UNCHANGED: "unchanged",
        Action.ORPHANED: "orphaned",
    }
    for item in result.plan.items if result.plan else ():
        counts[names[item.action]] += 1
    return counts


# -- the run --------------------------------------------------------------------------------


class _ActionHooks(Hooks):
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.secrets_seen: list[str] = []

    def secrets(self, values: Sequence[str]) -> None:
        fresh = [v for v in values if v not in self.secrets_seen]
        self.secrets_seen += fresh
        for line in mask_commands(fresh):
            print(line, file=self.out, flush=True)

    @contextlib.contextmanager
    def stage(self, name: Literal["image", "apply"], total: int) -> Iterator[None]:
        if name != "image":
            yield
            return
        print("::group::Docker image", file=self.out, flush=True)
        try:
            yield
        finally:
            print("::endgroup::", file=self.out, flush=True)

    def log(self, line: str) -> None:
        print(redact(line, self.secrets_seen), file=self.out, flush=True)

    def advance(self, item: PlannedDeployment) -> None:
        pass

    def retry(self, line: str) -> None:
        print(f"retry: {redact(line, self.secrets_seen)}", file=self.out, flush=True)


def entry() -> NoReturn:
    """The action's entry point: ``main()``, then out without the interpreter's teardown."""
    from flowdeploy.cli import leave

    collector.hold()
    leave(main())


def main() -> int:
    try:
        return run_action(dict(os.environ), sys.stdout)
    except KeyboardInterrupt:
        # GitHub cancels a job with SIGINT: say so instead of a traceback.
        print(annotation("error", "cancelled", title="flowdeploy"), flush=True)
        return 130


def run_action(environ: Mapping[str, str], out: TextIO) -> int:
    """The whole action: masks first, then inputs, the run, and every sink."""
    hooks = _ActionHooks(out)
    hooks.secrets(raw_secrets(environ))
    workspace = environ.get("GITHUB_WORKSPACE")
    if workspace and Path(workspace).is_dir():
        # Inputs name paths in the repository, wherever the runner started the process.
        os.chdir(workspace)
    context = summary.context_from_env(environ)
    try:
        inputs = read_inputs(environ)
        mode = resolve_mode(inputs.mode, context.event_name)
        settings = load_settings(
            settings_environ(environ, inputs),
            project_dir=inputs.project_dir,
            prefect_file=inputs.prefect_file,
            names=inputs.deployments,
            all_=inputs.all,
            image=inputs.image,
            prune=inputs.prune and mode == "apply",
            base=inputs.base,
            image_name=inputs.image_name,
            tags=inputs.tags,
            registry_username=inputs.registry_username,
            registry_password=inputs.registry_password,
        )
    except FlowdeployError as exc:
        result = RunResult(command="plan", errors=(exc,), secrets=tuple(hooks.secrets_seen))
        _finish(result, context, None, environ, out, hooks)
        return exc.exit_code
    # No URL from the input, the environment or a Prefect profile.
    offline = mode == "plan" and settings.api_url is None
    if mode == "apply" and settings.api_url is None:
        error = ConfigError(
            "no Prefect API URL to apply to",
            why="input 'prefect-api-url' is empty (a secret that is not set, or not passed "
            "to this workflow) and PREFECT_API_URL is not set",
            fix="set 'prefect-api-url: ${{ secrets.PREFECT_API_URL }}' and the secret, or "
            "use 'mode: plan'",
        )
        result = RunResult(command="apply", settings=settings, errors=(error,))
        _finish(result, context, inputs, environ, out, hooks)
        return error.exit_code
    if offline:
        print(
            annotation(
                "notice",
                "no Prefect API URL (a fork's pull request gets no secrets): planning by "
                "comparing the deployments at the base commit with the head",
                title="flowdeploy",
            ),
            file=out,
            flush=True,
        )
    switch = CancelSwitch()
    try:
        with switch.installed():
            result = run(settings, mode, hooks, offline=offline, switch=switch)
    except Exception:  # a bug of ours: reported like any error, never with a secret
        crash = InternalError.from_current(hooks.secrets_seen)
        print(crash.trace, file=out, flush=True)
        result = RunResult(command=mode, settings=settings, errors=(crash,))
    result = result.model_copy(update={"secrets": (*result.secrets, *hooks.secrets_seen)})
    code = _finish(result, context, inputs, environ, out, hooks)
    return code


def resolve_mode(mode: str, event_name: str | None) -> Literal["plan", "apply"]:
    """auto: plan on pull requests (nothing may change before a merge), apply otherwise."""
    if mode == "plan":
        return "plan"
    if mode == "apply":
        return "apply"
    return "plan" if event_name in PULL_REQUEST_EVENTS else "apply"


def settings_environ(environ: Mapping[str, str], inputs: ActionInputs) -> dict[str, str]:
    """The environment Settings reads, with the inputs in Prefect's variables."""
    env = dict(environ)
    for key, value in (
        ("PREFECT_API_URL", inputs.prefect_api_url),
        ("PREFECT_API_KEY", inputs.prefect_api_key),
        ("PREFECT_API_AUTH_STRING", inputs.prefect_api_auth_string),
    ):
        if value:
            env[key] = value
    return env


def _finish(
    result: RunResult,
    context: summary.SummaryContext,
    inputs: ActionInputs | None,
    environ: Mapping[str, str],
    out: TextIO,
    hooks: _ActionHooks,
) -> int:
    secrets = (*result.secrets, *hooks.secrets_seen)
    hooks.secrets(result.secrets)

    def say(line: str) -> None:
        print(redact(line, secrets), file=out, flush=True)

    text = report.run_text(result)
    if text:
        say(text.rstrip("\n"))
    for line in warning_annotations(result.warnings):
        say(line)
    for line in error_annotations(result.errors):
        say(line)
    markdown = summary.job_summary(result, context)
    code = result.exit_code
    drift = inputs is not None and inputs.fail_on_changes and result.command == "plan"
    if drift and code == 0 and result.changes:
        say(
            annotation(
                "error",
                f"the plan is not empty: {result.changes} deployment(s) differ (fail-on-changes)",
                title="flowdeploy",
            )
        )
        code = EXIT_FAILED
    _append(environ.get("GITHUB_STEP_SUMMARY"), redact(markdown, secrets))
    _append(
        environ.get("GITHUB_OUTPUT"),
        redact(output_lines(action_outputs(result, markdown)), secrets),
    )
    if inputs is not None and context.pr_number is not None and result.plan is not None:
        _comment(result, context, inputs, say, secrets)
    return code


def _comment(
    result: RunResult,
    context: summary.SummaryContext,
    inputs: ActionInputs,
    say: Any,
    secrets: Sequence[str],
) -> None:
    from flowdeploy import github

    if not inputs.comment_on_pr:
        return
    # A fork's pull_request run gets a read-only token; pull_request_target runs get a
    # writable one (and flowdeploy runs none of the PR's code, so commenting is safe).
    read_only = context.fork and context.event_name == "pull_request"
    if read_only or not inputs.github_token or not context.repository:
        why = "a pull request from a fork" if read_only else "no github-token"
        say(
            annotation(
                "notice",
                f"the plan is in the job summary; no PR comment ({why}: the token cannot "
                "write to the pull request)",
                title="flowdeploy",
            )
        )
        return
    body = redact(summary.pr_comment(result, context), secrets)
    try:
        with github.GitHubApi(context.api_url, inputs.github_token) as api:
            state, url = api.upsert_sticky_comment(
                context.repository, context.pr_number or 0, body, summary.COMMENT_MARKER
            )
        say(f"PR comment {state}: {url}")
    except FlowdeployError as exc:
        say(annotation("warning", exc.render(), title="flowdeploy: PR comment"))


def _append(path: str | None, text: str) -> None:
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text if text.endswith("\n") else text + "\n")


if __name__ == "__main__":
    sys.exit(main())
