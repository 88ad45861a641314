"""Generate a realistic Prefect project (a real git repository) for differential tests.

`make_repo(dest, n)` writes n flows and a prefect.yaml that uses every prefect.yaml feature that
`prefect deploy` (Prefect 3.9.1) accepts against a self-hosted server:

* YAML: a `definitions:` section with anchors, aliases and merge keys (`<<: *x`), block scalars;
  top-level `name:` and `prefect-version:`;
* templating: `{{ $ENV_VAR }}` (see REPO_ENV), `{{ prefect.variables.NAME }}` (string, list, dict
  and bool variables), `{{ prefect.blocks.secret.NAME }}` and a key path into a multi-field
  block, `{{ prefect.blocks.local-file-system.NAME.basepath }}`; both block types are registered
  by `prefect server start` itself (checked: `secret` and `local-file-system` exist on a bare
  server; there is no `json`/`string` block type in Prefect 3);
* top-level build/push/pull and per-deployment overrides, including `build: []` and
  `pull: []`; build/push steps are `prefect.deployments.steps.run_shell_script` with an `id:`,
  their outputs used as `{{ step-id.stdout }}` (version, tags, job variables, image);
* pull steps: set_working_directory, git_clone (repository URL, branch, access token from a
  secret block, which `prefect deploy` stores unresolved);
* `schedules:` lists (cron with timezone and day_or; interval as seconds, ISO 8601 and
  HH:MM:SS with anchor_date and timezone; rrule with timezone; each with active, parameters and
  slug), `schedules: []`, and the older single `schedule:`;
* parameters, tags (list, alias, templated list variable), description (explicit, templated,
  from the docstring), version (explicit, from a build step, default), paused,
  enforce_parameter_schema true/false, concurrency_limit as an int and as a dict
  (limit + collision_strategy + grace_period_seconds), work_pool {name, work_queue_name,
  job_variables} on a process pool and on a Docker-typed pool (job_variables.image), triggers
  (event reactive/proactive, compound, sequence; templated `enabled`, `{{ event.* }}`
  parameters kept verbatim, job_variables, schedule_after);
* entrypoints `flows/x.py:fn` and dotted `flows.x:fn`; a flow defined in one module and
  imported into the entrypoint module; two deployments of one flow; sync and async flows;
  explicit flow name/description/version in `@flow(...)`; a module using
  `from __future__ import annotations`;
* parameter annotations: int/float/str/bool/None, Optional, `X | None`, Union, list/dict/tuple/
  set/frozenset with item types, Literal, str and int Enums, datetime/date/time/timedelta, UUID,
  Path, Decimal, `Annotated[..., Field(...)]`, pydantic models defined in the repo (nested, in
  lists, with model defaults), keyword-only parameters, unannotated parameters; Google, NumPy
  and Sphinx docstrings with parameter descriptions.

Not used, because `prefect deploy` 3.9.1 rejects or cannot apply them on a self-hosted server:
`max_scheduled_runs` in a schedule (RawScheduleConfig forbids it; the nested
`{schedule: {...}, max_scheduled_runs: N}` form validates but then fails with "Unknown schedule
type"), `sla:` (Prefect Cloud only), Docker build/push steps (no Docker daemon needed here).

Flow files import only prefect, pydantic, the stdlib and the repository's own modules.
`prepare_server(api_url)` creates the work pools, variables and blocks the repository needs.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

from support.server import create_block, create_variable, create_work_pool

PROCESS_POOL = "process-pool"
DOCKER_POOL = "docker-pool"

# Environment the repository's `{{ $VAR }}` placeholders read. Pass it to both `prefect deploy`
# and flowdeploy.
REPO_ENV: dict[str, str] = {
    "FLOWDEPLOY_DEMO_STAGE": "staging",
    "FLOWDEPLOY_DEMO_IMAGE_REPO": "registry.example.com/team/flows",
    "FLOWDEPLOY_DEMO_REGION": "eu-west-1",
}

VARIABLES: dict[str, Any] = {
    "team": "data-platform",
    "default_tags": ["etl", "nightly"],
    "default_config": {"retries": 2, "mode": "full"},
    "triggers_enabled": True,
    "workdir": "/opt/prefect/work",
}

BLOCKS: list[tuple[str, str, dict[str, Any]]] = [
    ("secret", "api-key", {"value": "s3cr3t-api-key"}),
    ("secret", "repo-token", {"value": "ghp_not_a_real_token"}),
    ("local-file-system", "shared-store", {"basepath": "/mnt/shared"}),
]

ORIGIN_URL = "https://github.com/example-org/example-flows.git"


def prepare_server(api_url: str) -> None:
    """Create what the generated repository references: pools, variables, blocks."""
    create_work_pool(api_url, PROCESS_POOL, "process")
    create_work_pool(api_url, DOCKER_POOL, "docker")
    for name, value in VARIABLES.items():
        create_variable(api_url, name, value)
    for block_type, name, data in BLOCKS:
        create_block(api_url, block_type, name, data)


# --------------------------------------------------------------------------------------------
# Python sources

MODELS_PY = '''\
"""Shared pydantic models and enums used as flow parameters."""

from __future__ import annotations

from enum import Enum
from typing import Optional

from pydantic import BaseModel, Field


class Color(str, Enum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


class Priority(int, Enum):
    LOW = 1
    HIGH = 2


class Address(BaseModel):
    """A postal address."""

    street: str
    city: str = "Berlin"
    zip_code: Optional[str] = Field(default=None, description="Postal code")


class Customer(BaseModel):
    """A customer with addresses."""

    id: int
    name: str = Field(..., min_length=1)
    addresses: list[Address] = Field(default_factory=list)
    tier: Priority = Priority.LOW


class Options(BaseModel):
    dry_run: bool = False
    batch_size: int = Field(default=100, ge=1, le=10_000)
    colors: list[Color] = [Color.RED]
'''

TASKS_PY = '''\
"""Shared tasks."""

from prefect import task


@task(retries=1)
def double(value: int) -> int:
    return value * 2


@task
def say(message: str) -> str:
    print(message)
    return message
'''

SHARED_FLOWS_PY = '''\
"""Flows defined here and deployed through other modules that import them."""

from __future__ import annotations

from prefect import flow

from flows.common.models import Customer, Options
from flows.common.tasks import double


@flow(name="shared-etl", log_prints=True)
def shared_etl(source: str, limit: int = 10, options: Options = Options()) -> int:
    """Extract, transform and load one source.

    Args:
        source: Where to read from.
        limit: How many rows at most.
        options: Tuning knobs.
    """
    return double(limit)


@flow
async def shared_report(customer: Customer, formats: list[str] = ["pdf"]) -> str:
    """Build a report for one customer.

    Args:
        customer: Who the report is for.
        formats: Output formats.
    """
    return customer.name
'''

_FLOW_KINDS = 8


def _flow_source(i: int) -> tuple[str, str]:
    """Source of flows/flow_NNN.py and the attribute its entrypoint names."""
    fn = f"flow_{i:03d}"
    kind = i % _FLOW_KINDS
    if kind == 0:
        src = f'''\
"""Basic scalar parameters."""

from prefect import flow

from flows.common.tasks import double, say


@flow(log_prints=True)
def {fn}(x: int, y: float = 1.5, name: str = "world", flag: bool = False, nothing: None = None):
    """Greet and double.

    A longer description that spans
    two lines.

    Args:
        x: The number to double.
        y: A float with a default.
        name: Who to greet.
        flag: Whether to shout.
        nothing: Always None.
    """
    say(f"hello {{name}}")
    return double(x)
'''
    elif kind == 1:
        src = f'''\
"""Optional, unions, literals and enums."""

from typing import Literal, Optional, Union

from prefect import flow

from flows.common.models import Color, Priority


@flow(name="unions-{i:03d}")
def {fn}(
    a: Optional[int] = None,
    b: str | None = None,
    c: Union[int, str] = 1,
    d: Literal["fast", "slow"] = "fast",
    color: Color = Color.GREEN,
    priority: Priority = Priority.HIGH,
    many: Union[int, float, None] = None,
):
    """Exercise optional and union parameters.

    Parameters
    ----------
    a : int, optional
        An optional integer.
    d : str
        The speed.
    """
'''
    elif kind == 2:
        src = f'''\
"""Collections with item types."""

from typing import Any, Dict, List, Tuple

from prefect import flow


@flow(description="Collections of every shape.")
def {fn}(
    ids: list[int] = [1, 2, 3],
    weights: dict[str, float] | None = None,
    pair: tuple[int, str] = (1, "one"),
    labels: set[str] = {{"a"}},
    frozen: frozenset[int] = frozenset(),
    nested: list[dict[str, list[int]]] = [],
    legacy: List[Dict[str, Any]] = [],
    var_tuple: Tuple[int, ...] = (),
    bare: list = [],
):
    """This docstring is not the description: the decorator's wins.

    :param ids: Row ids.
    :param weights: Optional weights.
    """
'''
    elif kind == 3:
        src = f'''\
"""Dates, times, identifiers, paths and decimals."""

import datetime as dt
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID

from prefect import flow


@flow(version="3.{i}.0")
def {fn}(
    when: datetime = datetime(2024, 1, 1, 12, 0),
    day: date = date(2024, 1, 1),
    at: time = time(9, 30),
    every: timedelta = timedelta(hours=1),
    ident: UUID = UUID("12345678-1234-5678-1234-567812345678"),
    where: Path = Path("/tmp/data"),
    amount: Decimal = Decimal("1.50"),
    aware: dt.datetime | None = None,
):
    """Temporal and other special types. The decorator sets a version."""
'''
    elif kind == 4:
        src = f'''\
"""Pydantic models and Annotated fields."""

from typing import Annotated, Optional

from pydantic import Field
from prefect import flow

from flows.common.models import Address, Customer, Options


@flow
def {fn}(
    customer: Customer,
    addresses: list[Address] = [],
    count: Annotated[int, Field(ge=0, le=10, description="How many to process")] = 3,
    label: Annotated[str, Field(min_length=1, title="Label")] = "default",
    options: Options = Options(),
    maybe_address: Optional[Address] = None,
):
    """Process a customer.

    Args:
        customer: The customer to process.
        addresses: Extra addresses.
        options: Processing options.
    """
'''
    elif kind == 5:
        src = f'''\
"""An async flow with keyword-only and unannotated parameters."""

import asyncio

from prefect import flow


@flow(name="async-{i:03d}", retries=2, retry_delay_seconds=5)
async def {fn}(n: int = 1, raw=None, *, keyword_only: str = "k", untyped_default=5) -> int:
    """Sleep a little.

    Args:
        n: How many times.
        raw: Anything at all.
        keyword_only: Passed by keyword.
    """
    await asyncio.sleep(0)
    return n
'''
    elif kind == 6:
        attr = "shared_etl" if (i // _FLOW_KINDS) % 2 == 0 else "shared_report"
        src = f'''\
"""Deploys a flow that is defined in another module."""

from flows.common.shared_flows import {attr}

__all__ = ["{attr}"]
'''
        return src, attr
    else:
        src = f'''\
"""String annotations (postponed evaluation) and explicit flow metadata."""

from __future__ import annotations

from typing import Optional

from prefect import flow

from flows.common.models import Address, Color


@flow(
    name="postponed-{i:03d}",
    description="Explicit description from the decorator.",
    version="explicit-{i}",
)
def {fn}(
    address: Address,
    color: Color = Color.BLUE,
    note: Optional[str] = None,
    scores: dict[str, list[float]] | None = None,
) -> None:
    pass
'''
    return src, fn


# --------------------------------------------------------------------------------------------
# prefect.yaml

DEFINITIONS = """\
flowdeploy:
  ignore: ["notes/**"]
  always_affect: ["constraints.txt"]
# Reusable pieces; `prefect deploy` ignores this section after YAML resolves the aliases.
definitions:
  tags: &common_tags
    - generated
    - "{{ $FLOWDEPLOY_DEMO_STAGE }}"
  schedules:
    nightly: &nightly
      cron: "30 2 * * *"
      timezone: Europe/Berlin
      active: true
      slug: nightly
    every_hour: &every_hour
      interval: 3600
      anchor_date: "2024-01-01T00:00:00"
      timezone: UTC
      active: false
      slug: hourly
  work_pools:
    process: &process_pool
      name: process-pool
      work_queue_name: default
      job_variables:
        env:
          STAGE: "{{ $FLOWDEPLOY_DEMO_STAGE }}"
          TEAM: "{{ prefect.variables.team }}"
    docker: &docker_pool
      name: docker-pool
      job_variables:
        image: "{{ $FLOWDEPLOY_DEMO_IMAGE_REPO }}:{{ get-version.stdout }}"
        image_pull_policy: IfNotPresent
  actions:
    clone: &clone
      - prefect.deployments.steps.git_clone:
          id: clone-step
          repository: https://github.com/example-org/example-flows.git
          branch: main
          access_token: "{{ prefect.blocks.secret.repo-token }}"
      - prefect.deployments.steps.set_working_directory:
          directory: "{{ clone-step.directory }}"
  concurrency:
    strict: &strict_concurrency
      limit: 2
      collision_strategy: CANCEL_NEW
      grace_period_seconds: 120
"""

TOP_LEVEL = """\
name: generated-flows
prefect-version: 3.9.1

build:
  - prefect.deployments.steps.run_shell_script:
      id: get-version
      script: echo 2.{{ $FLOWDEPLOY_DEMO_REGION }}.1
      stream_output: false
  - prefect.deployments.steps.run_shell_script:
      id: get-commit
      script: git rev-parse --short HEAD
      stream_output: false

push:
  - prefect.deployments.steps.run_shell_script:
      id: push-marker
      script: echo pushed-{{ get-commit.stdout }}
      stream_output: false

pull:
  - prefect.deployments.steps.set_working_directory:
      directory: /opt/prefect/example-flows
"""


def _indent(text: str, spaces: int) -> str:
    return textwrap.indent(text, " " * spaces)


def _params_for(i: int, variant: int) -> str:
    """YAML for `parameters:` valid for flow_NNN's signature (under enforce_parameter_schema)."""
    kind = i % _FLOW_KINDS
    if kind == 0:
        flag = "true" if variant % 2 == 0 else "false"
        return f'x: {i}\nname: "{{{{ prefect.variables.team }}}}"\nflag: {flag}\n'
    if kind == 1:
        return "d: slow\ncolor: red\nc: text\n"
    if kind == 2:
        return "ids: [4, 5]\nweights: {a: 0.5, b: 1.5}\npair: [2, two]\n"
    if kind == 3:
        return 'when: "2024-06-01T08:00:00+00:00"\nevery: PT2H\nwhere: /data/in\n'
    if kind == 4:
        return (
            "customer:\n  id: 7\n  name: Ada\n  addresses:\n    - street: Main St 1\n"
            "      zip_code: '10115'\noptions:\n  dry_run: true\n  batch_size: 50\n"
        )
    if kind == 5:
        return "n: 3\nkeyword_only: kw\n"
    if kind == 6:
        if (i // _FLOW_KINDS) % 2 == 0:
            return f"source: s3://bucket/{i}\nlimit: 5\n"
        return "customer: {id: 1, name: Bob}\n"
    return "address: {street: Elm 2}\ncolor: green\n"


def _schedule_param(i: int) -> str:
    """A parameter override valid for schedules of flow_NNN."""
    kind = i % _FLOW_KINDS
    return {
        0: "{x: 99}",
        1: "{d: fast}",
        2: "{ids: [9]}",
        3: "{day: '2025-02-03'}",
        4: "{count: 5}",
        5: "{n: 9}",
        6: "{limit: 1}" if (i // _FLOW_KINDS) % 2 == 0 else "{formats: [csv]}",
        7: "{color: red}",
    }[kind]


def _schedules_yaml(i: int) -> str:
    v = i % 9
    if v == 0:
        return f"""\
schedules:
  - cron: "0 9 * * 1-5"
    timezone: America/New_York
    day_or: false
    active: true
    slug: weekday-morning
    parameters: {_schedule_param(i)}
  - *every_hour
"""
    if v == 1:
        return """\
schedules:
  - *nightly
  - rrule: "FREQ=WEEKLY;BYDAY=MO,WE,FR;BYHOUR=7;BYMINUTE=15"
    timezone: America/Chicago
    slug: mwf
"""
    if v == 2:
        return """\
schedule:
  interval: PT30M
  anchor_date: "2024-03-10T01:30:00"
  timezone: America/Los_Angeles
"""
    if v == 3:
        return "schedules: []\n"
    if v == 4:
        return f"""\
schedules:
  - interval: "01:30:00"
    anchor_date: "2024-05-05T05:05:05+09:00"
    timezone: Asia/Tokyo
    active: "{{{{ prefect.variables.triggers_enabled }}}}"
    parameters: {_schedule_param(i)}
  - cron: "*/15 * * * *"
    day_or: true
  - rrule: "DTSTART:20240101T060000\\nRRULE:FREQ=DAILY;INTERVAL=2"
"""
    if v == 5:
        return """\
schedule:
  cron: "0 0 1 * *"
  timezone: UTC
"""
    if v == 6:
        return "schedules:\n  - <<: *nightly\n    slug: nightly-override\n    active: false\n"
    return ""  # 7, 8: no schedule at all


def _triggers_yaml(i: int) -> str:
    v = i % 11
    kind = i % _FLOW_KINDS
    param_name = {0: "name", 1: "b", 4: "label", 5: "keyword_only", 7: "note"}.get(kind)
    params = ""
    if param_name:
        params = f'\n    parameters:\n      {param_name}: "{{{{ event.resource.id }}}}"'
    if v == 0:
        return f"""\
triggers:
  - type: event
    enabled: true
    match:
      prefect.resource.id: "prefect.flow-run.*"
    match_related:
      prefect.resource.role: flow
      prefect.resource.name: upstream-flow
    expect:
      - prefect.flow-run.Completed{params}
"""
    if v == 3:
        return """\
triggers:
  - type: event
    name: stale-data-alarm
    description: Runs when no heartbeat arrives within ten minutes.
    enabled: "{{ prefect.variables.triggers_enabled }}"
    posture: Proactive
    after:
      - example.heartbeat
    expect:
      - example.heartbeat
    for_each:
      - prefect.resource.id
    threshold: 1
    within: 600
    job_variables:
      env:
        REASON: stale
    schedule_after: 60
"""
    if v == 6:
        return """\
triggers:
  - type: compound
    require: all
    within: 3600
    triggers:
      - type: event
        match:
          prefect.resource.id: "example.table.orders"
        expect:
          - example.table.refreshed
      - type: event
        match:
          prefect.resource.id: "example.table.customers"
        expect:
          - example.table.refreshed
  - type: sequence
    within: 7200
    triggers:
      - type: event
        expect:
          - example.extract.done
      - type: event
        expect:
          - example.load.done
"""
    return ""


def _work_pool_yaml(i: int) -> str:
    v = i % 6
    if v in (0, 3):
        return "work_pool: *process_pool\n"
    if v == 1:
        return """\
work_pool:
  <<: *process_pool
  work_queue_name: high-priority
  job_variables:
    env:
      API_KEY: "{{ prefect.blocks.secret.api-key }}"
      COMMIT: "{{ get-commit.stdout }}"
    working_dir: "{{ prefect.blocks.local-file-system.shared-store.basepath }}/runs"
"""
    if v == 2:
        return "work_pool: *docker_pool\n"
    if v == 4:
        return """\
work_pool:
  <<: *docker_pool
  work_queue_name: "{{ $FLOWDEPLOY_DEMO_REGION }}"
  job_variables:
    image: "{{ $FLOWDEPLOY_DEMO_IMAGE_REPO }}/custom:{{ get-commit.stdout }}"
    env: {REGION: "{{ $FLOWDEPLOY_DEMO_REGION }}", PUSHED: "{{ push-marker.stdout }}"}
    auto_remove: true
"""
    return "work_pool:\n  name: process-pool\n"


def _deployment_yaml(i: int, entrypoint: str, *, suffix: str = "", second: bool = False) -> str:
    lines = [f"name: dep-{i:03d}{suffix}", f"entrypoint: {entrypoint}"]
    if i % 7 == 3:
        # flowdeploy's own key: prefect deploy must ignore it, and so must the registration.
        lines.append('flowdeploy:\n  watch: ["sql/**", "templates/*.j2"]')
    # description
    if i % 5 == 0:
        lines.append(
            "description: |\n  Deployed to {{ $FLOWDEPLOY_DEMO_STAGE }} by the generator.\n"
            "  Second line."
        )
    elif i % 5 == 2:
        lines.append('description: "Owned by {{ prefect.variables.team }}"')
    # version
    if i % 4 == 0:
        lines.append(f'version: "1.{i}.0"')
    elif i % 4 == 1:
        lines.append('version: "{{ get-version.stdout }}+{{ get-commit.stdout }}"')
    # tags
    t = i % 4
    if t == 0:
        lines.append("tags: *common_tags")
    elif t == 1:
        lines.append(
            f'tags: ["{{{{ prefect.variables.team }}}}", "flow-{i:03d}", '
            '"{{ get-commit.stdout }}"]'
        )
    elif t == 2:
        lines.append('tags: "{{ prefect.variables.default_tags }}"')
    # parameters
    lines.append("parameters:\n" + _indent(_params_for(i, 1 if second else 0), 2).rstrip())
    # enforce_parameter_schema
    if i % 3 == 1:
        lines.append("enforce_parameter_schema: false")
    elif i % 3 == 2:
        lines.append("enforce_parameter_schema: true")
    # concurrency
    c = i % 7
    if c == 1:
        lines.append(f"concurrency_limit: {1 + i % 4}")
    elif c == 4:
        lines.append("concurrency_limit: *strict_concurrency")
    elif c == 5:
        lines.append("concurrency_limit:\n  limit: 5\n  collision_strategy: ENQUEUE")
    if i % 13 == 5:
        lines.append("paused: true")
    # schedules, triggers, work pool
    if not second:
        sched = _schedules_yaml(i)
        if sched:
            lines.append(sched.rstrip())
        trig = _triggers_yaml(i)
        if trig:
            lines.append(trig.rstrip())
    else:
        lines.append(
            "schedules:\n  - interval: 86400\n    anchor_date: '2024-01-01T00:00:00+01:00'\n"
            "    slug: daily-b"
        )
    lines.append(_work_pool_yaml(i).rstrip())
    # per-deployment action overrides
    a = i % 10
    if a == 2:
        lines.append("pull: *clone")
    elif a == 4:
        lines.append("pull: []")
    elif a == 6:
        lines.append(
            "build:\n"
            "  - prefect.deployments.steps.run_shell_script:\n"
            "      id: get-version\n"
            f"      script: echo 9.{i}.0\n"
            "      stream_output: false\n"
            "  - prefect.deployments.steps.run_shell_script:\n"
            "      id: get-commit\n"
            "      script: echo override\n"
            "      stream_output: false"
        )
    elif a == 7:
        lines.append(
            "push: []\npull:\n  - prefect.deployments.steps.set_working_directory:\n"
            '      directory: "{{ prefect.variables.workdir }}/{{ $FLOWDEPLOY_DEMO_STAGE }}"'
        )
    body = "\n".join(lines)
    # A deployment that uses the pushed marker needs the push step: keep top-level push.
    return "  - " + _indent(body, 4).lstrip() + "\n"


def _simple_deployment_yaml(i: int, entrypoint: str) -> str:
    lines = [f"name: dep-{i:03d}", f"entrypoint: {entrypoint}"]
    kind = i % _FLOW_KINDS
    if kind in (0, 4) or kind == 6 or kind == 7:
        lines.append("parameters:\n" + _indent(_params_for(i, 0), 2).rstrip())
    if i % 3 == 2:
        lines.append(
            "work_pool:\n  name: docker-pool\n  job_variables:\n    image: example/flows:latest"
        )
    else:
        lines.append("work_pool:\n  name: process-pool")
    return "  - " + _indent("\n".join(lines), 4).lstrip() + "\n"


# Build/push step outputs referenced from deployment fields, and literal stand-ins for them.
STEP_OUTPUT_STANDINS: dict[str, str] = {
    "{{ get-version.stdout }}": "2.0.1",
    "{{ get-commit.stdout }}": "0123abc",
    "{{ push-marker.stdout }}": "pushed-0123abc",
}


def make_repo(
    dest: Path,
    n: int,
    *,
    features: bool = True,
    step_outputs: bool = True,
    origin: str | None = None,
) -> Path:
    """Write a git repository with `n` flows and a prefect.yaml at `dest`; return `dest`.

    features=False writes a minimal prefect.yaml (name, entrypoint, parameters, work pool; no
    pull section, so `prefect deploy` generates the default cwd-dependent pull step).
    step_outputs=False keeps the build/push sections but replaces every `{{ step-id.stdout }}`
    reference to a build/push step's output with a literal (STEP_OUTPUT_STANDINS), for a
    candidate that does not run build steps; pull-step references (`{{ clone-step.directory }}`,
    stored verbatim by `prefect deploy`) stay.
    `origin`, when given, becomes `remote.origin.url`: `prefect deploy` then infers
    version info from git and uses the commit SHA[:8] as every unversioned deployment's version.
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    dest.mkdir(parents=True, exist_ok=True)
    pkg = dest / "flows"
    common = pkg / "common"
    common.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text('"""Generated flows."""\n')
    (common / "__init__.py").write_text("")
    (common / "models.py").write_text(MODELS_PY)
    (common / "tasks.py").write_text(TASKS_PY)
    (common / "shared_flows.py").write_text(SHARED_FLOWS_PY)
    (dest / "requirements.txt").write_text("prefect==3.9.1\npydantic>=2\n")
    (dest / "README.md").write_text(f"# Generated Prefect project\n\n{n} flows.\n")
    (dest / ".gitignore").write_text("__pycache__/\n*.pyc\n")

    deployments: list[str] = []
    for i in range(n):
        src, attr = _flow_source(i)
        (pkg / f"flow_{i:03d}.py").write_text(src)
        dotted = i % 5 == 4
        entrypoint = f"flows.flow_{i:03d}:{attr}" if dotted else f"flows/flow_{i:03d}.py:{attr}"
        if features:
            deployments.append(_deployment_yaml(i, entrypoint))
            if i % 7 == 3:  # a second deployment of the same flow
                deployments.append(_deployment_yaml(i, entrypoint, suffix="-b", second=True))
        else:
            deployments.append(_simple_deployment_yaml(i, entrypoint))

    if features:
        text = (
            "# Generated by tests/support/genrepo.py\n"
            + TOP_LEVEL
            + "\n"
            + DEFINITIONS
            + "\ndeployments:\n"
            + "".join(deployments)
        )
        if not step_outputs:
            for placeholder, literal in STEP_OUTPUT_STANDINS.items():
                text = text.replace(placeholder, literal)
    else:
        text = "# Generated by tests/support/genrepo.py (minimal)\ndeployments:\n" + "".join(
            deployments
        )
    (dest / "prefect.yaml").write_text(text)
    _git_commit(dest, origin)
    return dest


def _git(dest: Path, *args: str) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
        "GIT_AUTHOR_NAME": "Gen Erator",
        "GIT_AUTHOR_EMAIL": "gen@example.com",
        "GIT_COMMITTER_NAME": "Gen Erator",
        "GIT_COMMITTER_EMAIL": "gen@example.com",
        "GIT_AUTHOR_DATE": "2024-01-01T00:00:00+00:00",
        "GIT_COMMITTER_DATE": "2024-01-01T00:00:00+00:00",
    }
    subprocess.run(["git", *args], cwd=dest, env=env, check=True, capture_output=True)


def _git_commit(dest: Path, origin: str | None) -> None:
    if not (dest / ".git").exists():
        _git(dest, "init", "-q", "-b", "main")
        _git(dest, "config", "commit.gpgsign", "false")
    if origin:
        _git(dest, "remote", "add", "origin", origin)
    _git(dest, "add", "-A")
    _git(dest, "commit", "-q", "-m", "Generated flows")
