"""The reference: what `prefect --no-prompt deploy --all` registers, read back over REST.

`read_deployments` normalizes a server's deployments so that two servers (or two runs) that
registered the same thing compare equal: ids, timestamps, server-assigned labels and the
deployment id inside automations are dropped; schedules and automations are sorted.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from support.server import api_client, isolated_env, paged, request, venv_bin

DEPLOY_TIMEOUT = 900.0

_AUTOMATION_DROP = {"id", "created", "updated", "created_by", "updated_by"}


def prefect_deploy_all(
    repo_dir: Path,
    api_url: str,
    env: Mapping[str, str] | None = None,
    *,
    extra_args: tuple[str, ...] = (),
    timeout: float = DEPLOY_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run `prefect --no-prompt deploy --all` in `repo_dir` against `api_url` (see
    `prefect_deploy`)."""
    return prefect_deploy(repo_dir, api_url, ("--all", *extra_args), env, timeout=timeout)


def prefect_deploy(
    cwd: Path,
    api_url: str,
    args: Sequence[str],
    env: Mapping[str, str] | None = None,
    *,
    timeout: float = DEPLOY_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run `prefect --no-prompt deploy <args>` in `cwd` against `api_url`.

    The process gets its own PREFECT_HOME, no inherited PREFECT_* or CI version-info
    variables, and `env` on top (e.g. genrepo.REPO_ENV). Returns the CompletedProcess (text);
    the caller checks returncode.
    """
    with tempfile.TemporaryDirectory(prefix="prefect-deploy-home-") as home:
        full_env = isolated_env(
            None,
            PREFECT_API_URL=api_url,
            PREFECT_HOME=home,
            PREFECT_CLI_PROMPT="false",
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_LOGGING_LEVEL="WARNING",
            COLUMNS="200",
            NO_COLOR="1",
        )
        full_env.update(env or {})
        return subprocess.run(
            [venv_bin("prefect"), "--no-prompt", "deploy", *args],
            cwd=cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _sort_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _normalize_schedule(schedule: dict[str, Any]) -> dict[str, Any]:
    return {
        "schedule": schedule.get("schedule"),
        "active": schedule.get("active"),
        "parameters": schedule.get("parameters"),
        "slug": schedule.get("slug"),
        "max_scheduled_runs": schedule.get("max_scheduled_runs"),
    }


def _scrub(value: Any, deployment_id: str) -> Any:
    """Drop ids/timestamps and replace the owning deployment's id, recursively."""
    if isinstance(value, dict):
        return {
            key: _scrub(item, deployment_id)
            for key, item in value.items()
            if key not in _AUTOMATION_DROP
        }
    if isinstance(value, list):
        return [_scrub(item, deployment_id) for item in value]
    if isinstance(value, str) and deployment_id in value:
        return value.replace(deployment_id, "<deployment-id>")
    return value


# Declared as sets by Prefect's trigger models: their order in the stored JSON depends on the
# writing process (set iteration), so it carries no meaning.
_TRIGGER_SETS = ("expect", "after", "for_each")


def _trigger_sets(trigger: Any) -> Any:
    if isinstance(trigger, list):
        return [_trigger_sets(t) for t in trigger]
    if not isinstance(trigger, dict):
        return trigger
    return {
        key: sorted(value)
        if key in _TRIGGER_SETS and isinstance(value, list)
        else _trigger_sets(value)
        if key == "triggers"
        else value
        for key, value in trigger.items()
    }


def _normalize_automation(automation: dict[str, Any], deployment_id: str) -> dict[str, Any]:
    automation = {**automation, "trigger": _trigger_sets(automation.get("trigger"))}
    return {
        key: _scrub(automation.get(key), deployment_id)
        for key in (
            "name",
            "description",
            "enabled",
            "trigger",
            "actions",
            "actions_on_trigger",
            "actions_on_resolve",
            "tags",
        )
    }


def _normalize_concurrency(deployment: dict[str, Any]) -> dict[str, Any] | None:
    gcl = deployment.get("global_concurrency_limit")
    limit = gcl.get("limit") if gcl else deployment.get("concurrency_limit")
    if limit is None and not deployment.get("concurrency_options"):
        return None
    return {
        "limit": limit,
        "active": gcl.get("active") if gcl else None,
        "slot_decay_per_second": gcl.get("slot_decay_per_second") if gcl else None,
        "concurrency_options": deployment.get("concurrency_options"),
    }


def _user_labels(labels: dict[str, Any] | None) -> dict[str, Any]:
    """Labels minus the server's own `prefect.*` system labels (which carry flow ids)."""
    return {k: v for k, v in (labels or {}).items() if not k.startswith("prefect.")}


def normalize_deployment(
    deployment: dict[str, Any], flow_name: str, automations: list[dict[str, Any]]
) -> dict[str, Any]:
    dep_id = str(deployment["id"])
    schedules = sorted(
        (_normalize_schedule(s) for s in deployment.get("schedules") or []), key=_sort_key
    )
    normalized: dict[str, Any] = {
        "name": deployment["name"],
        "flow_name": flow_name,
        "description": deployment.get("description"),
        "version": deployment.get("version"),
        "tags": deployment.get("tags"),
        "labels": _user_labels(deployment.get("labels")),
        "schedules": schedules,
        "paused": deployment.get("paused"),
        "parameters": deployment.get("parameters"),
        "parameter_openapi_schema": deployment.get("parameter_openapi_schema"),
        "entrypoint": deployment.get("entrypoint"),
        "path": deployment.get("path"),
        "pull_steps": deployment.get("pull_steps"),
        "work_pool_name": deployment.get("work_pool_name"),
        "work_queue_name": deployment.get("work_queue_name"),
        "job_variables": deployment.get("job_variables"),
        "enforce_parameter_schema": deployment.get("enforce_parameter_schema"),
        "concurrency": _normalize_concurrency(deployment),
        "storage_document_id": deployment.get("storage_document_id"),
        "infrastructure_document_id": deployment.get("infrastructure_document_id"),
        "automations": sorted(
            (_normalize_automation(a, dep_id) for a in automations), key=_sort_key
        ),
    }
    if "version_info" in deployment:  # not exposed by Prefect 3.9.1's server; kept if it is
        normalized["version_info"] = deployment["version_info"]
    return normalized


def read_deployments(api_url: str) -> dict[str, dict[str, Any]]:
    """Every deployment on the server, normalized, keyed by "flow_name/deployment_name"."""
    with api_client(api_url) as client:
        deployments = paged(client, "deployments/filter")
        flows = {flow["id"]: flow["name"] for flow in paged(client, "flows/filter")}
        result: dict[str, dict[str, Any]] = {}
        for deployment in deployments:
            flow_name = flows.get(deployment["flow_id"])
            if flow_name is None:  # created between the two reads
                flow_name = request(client, "GET", f"flows/{deployment['flow_id']}").json()["name"]
            key = f"{flow_name}/{deployment['name']}"
            # The REST API does not expose `owner_resource`; the automations `prefect deploy`
            # creates for a deployment's triggers are owned by and related to it, which is
            # what this endpoint returns (it would also list user automations that run it).
            automations = request(
                client, "GET", f"automations/related-to/prefect.deployment.{deployment['id']}"
            ).json()
            result[key] = normalize_deployment(deployment, flow_name, automations)
        return dict(sorted(result.items()))


def diff_deployments(
    expected: dict[str, dict[str, Any]], actual: dict[str, dict[str, Any]]
) -> list[str]:
    """Human-readable differences, one line per differing leaf; empty when equal.

    Each line names the deployment, the path inside the field (e.g.
    `parameter_openapi_schema.properties.x.default`) and both values.
    """
    lines: list[str] = []
    for key in sorted(expected.keys() - actual.keys()):
        lines.append(f"{key}: missing (registered by `prefect deploy`, not by the candidate)")
    for key in sorted(actual.keys() - expected.keys()):
        lines.append(f"{key}: unexpected (registered by the candidate, not by `prefect deploy`)")
    for key in sorted(expected.keys() & actual.keys()):
        for path, want, got in _leaf_diffs(expected[key], actual[key], ""):
            lines.append(
                f"{key}: {path or '<root>'}\n    prefect deploy: {_short(want)}\n"
                f"    candidate:      {_short(got)}"
            )
    return lines


_MISSING = object()


def _leaf_diffs(want: Any, got: Any, path: str) -> list[tuple[str, Any, Any]]:
    if want == got:
        return []
    if isinstance(want, dict) and isinstance(got, dict):
        out: list[tuple[str, Any, Any]] = []
        for k in sorted(want.keys() | got.keys(), key=str):
            sub = f"{path}.{k}" if path else str(k)
            out.extend(_leaf_diffs(want.get(k, _MISSING), got.get(k, _MISSING), sub))
        return out
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        out = []
        for i, (w, g) in enumerate(zip(want, got, strict=True)):
            out.extend(_leaf_diffs(w, g, f"{path}[{i}]"))
        return out
    return [(path, want, got)]


def _short(value: Any, limit: int = 400) -> str:
    if value is _MISSING:
        return "<absent>"
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit] + "..."
