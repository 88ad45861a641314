"""prefect.yaml -> deployments, with a fake server lookup (no network)."""

from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from flowdeploy import templating as tpl
from flowdeploy.errors import ConfigError, ConfigErrors
from flowdeploy.project import Project, load_project

FLOW = '''\
from prefect import flow


@flow(name="etl")
def etl(n: int = 1) -> None:
    """Load things."""
'''


class Lookups:
    def __init__(
        self,
        variables: dict[str, Any] | None = None,
        blocks: dict[tuple[str, str], dict[str, Any]] | None = None,
    ) -> None:
        self.variables = variables or {}
        self.blocks = blocks or {}

    def variable(self, name: str) -> Any:
        return self.variables.get(name, tpl.MISSING)

    def block(self, type_slug: str, name: str) -> dict[str, Any] | None:
        return self.blocks.get((type_slug, name))


def project(
    tmp_path: Path,
    yaml_text: str,
    env: dict[str, str] | None = None,
    lookups: Lookups | None = None,
    **kw: Any,
) -> Project:
    (tmp_path / "flows").mkdir(exist_ok=True)
    (tmp_path / "flows" / "etl.py").write_text(FLOW)
    (tmp_path / "prefect.yaml").write_text(dedent(yaml_text))
    return load_project(
        tmp_path / "prefect.yaml",
        repo_root=tmp_path,
        lookups=lookups or Lookups(),
        environ=env or {},
        display_root=tmp_path,
        **kw,
    )


def errors_of(exc: ConfigError) -> list[ConfigError]:
    return exc.errors if isinstance(exc, ConfigErrors) else [exc]


BASIC = """\
deployments:
  - name: daily
    entrypoint: flows/etl.py:etl
    work_pool: {name: pool}
"""


def test_basic_deployment_gets_flow_defaults(tmp_path: Path) -> None:
    p = project(tmp_path, BASIC)
    (spec,) = p.specs
    dep = spec.deployment
    assert dep.full_name == "etl/daily"
    assert dep.description == "Load things."
    assert dep.version and len(dep.version) == 32
    assert dep.pull_steps == [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(tmp_path.resolve())}}
    ]
    assert dep.parameter_openapi_schema["properties"]["n"]["default"] == 1
    assert str(spec.where) == "prefect.yaml:2"


def test_near_miss_key_is_an_error_with_suggestion_and_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        project(tmp_path, BASIC + "    shedules:\n      - cron: '0 1 * * *'\n")
    (err,) = errors_of(info.value)
    assert "unknown key 'shedules'" in err.what
    assert "did you mean 'schedules'?" in err.fix
    assert str(err.where) == "prefect.yaml:5"


def test_far_unknown_key_is_a_warning(tmp_path: Path) -> None:
    p = project(tmp_path, BASIC + "    owner_team: data\n")
    assert [str(w) for w in p.warnings] == [
        "prefect.yaml:5: unknown key 'owner_team' in deployment is ignored (Prefect ignores "
        "it too) and never sent to the server"
    ]
    assert "owner_team" not in p.specs[0].deployment.model_dump_json()


def test_definitions_anchors_and_merge_keys(tmp_path: Path) -> None:
    p = project(
        tmp_path,
        """\
        definitions:
          pool: &pool {name: pool, job_variables: {env: {A: "1"}}}
          sched: &sched {cron: "0 1 * * *", timezone: Europe/Berlin}
        deployments:
          - name: a
            entrypoint: flows/etl.py:etl
            schedules: [*sched]
            work_pool:
              <<: *pool
              work_queue_name: q
        """,
    )
    dep = p.specs[0].deployment
    assert dep.job_variables == {"env": {"A": "1"}}
    assert dep.work_queue_name == "q"
    assert dep.schedules and dep.schedules[0]["schedule"]["timezone"] == "Europe/Berlin"


def test_env_variable_and_block_templating(tmp_path: Path) -> None:
    lookups = Lookups(
        variables={"team": "data"},
        blocks={("secret", "token"): {"value": "s3"}, ("json", "cfg"): {"value": {"region": "eu"}}},
    )
    p = project(
        tmp_path,
        """\
        deployments:
          - name: "{{ $DEP_NAME }}"
            entrypoint: flows/etl.py:etl
            tags: ["{{ prefect.variables.team }}", "env-{{ $STAGE }}"]
            parameters:
              token: "{{ prefect.blocks.secret.token }}"
              region: "{{ prefect.blocks.json.cfg.region }}"
            work_pool: {name: pool}
            pull:
              - prefect.deployments.steps.git_clone:
                  repository: https://example.com/r.git
                  access_token: "{{ prefect.blocks.secret.token }}"
        """,
        env={"DEP_NAME": "prod", "STAGE": "p"},
        lookups=lookups,
    )
    dep = p.specs[0].deployment
    assert dep.name == "prod"
    assert dep.tags == ["data", "env-p"]
    assert dep.parameters == {"token": "s3", "region": "eu"}
    # Pull steps keep block and variable placeholders for the worker to resolve.
    assert dep.pull_steps == [
        {
            "prefect.deployments.steps.git_clone": {
                "repository": "https://example.com/r.git",
                "access_token": "{{ prefect.blocks.secret.token }}",
            }
        }
    ]


def test_every_unresolved_placeholder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        project(
            tmp_path,
            """\
            deployments:
              - name: a
                entrypoint: flows/etl.py:etl
                tags: ["{{ $MISSING_ENV }}", "{{ prefect.variables.nope }}"]
                description: "{{ build.stdout }}"
                work_pool: {name: pool}
            """,
        )
    whats = sorted(e.what for e in errors_of(info.value))
    assert whats == [
        "Prefect variable 'nope' does not exist",
        "environment variable MISSING_ENV is not set",
        "step output {{ build.stdout }} cannot be resolved",
    ]
    assert all(str(e.where) in ("prefect.yaml:4", "prefect.yaml:5") for e in errors_of(info.value))


@pytest.mark.parametrize(
    ("extra", "fragment", "line"),
    [
        ("    schedules:\n      - cron: '0 1 * * *'\n        interval: 60\n", "more than one", 7),
        ("    schedules:\n      - cron: '0 61 * * *'\n", "not valid", 6),
        ("    schedules:\n      - cron: '0 1 * * *'\n        timezone: Mars/Base\n", "IANA", 7),
        ("    schedules:\n      - rrule: 'FREQ=NEVER'\n", "rrule", 6),
        ("    schedules:\n      - interval: 0\n", "not positive", 6),
        ("    version: 1.5\n", "version", 5),
        ("    concurrency_limit: {limit: 2, collision_strategy: KILL}\n", "collision_strategy", 5),
    ],
)
def test_invalid_fields_are_errors_at_their_line(
    tmp_path: Path, extra: str, fragment: str, line: int
) -> None:
    with pytest.raises(ConfigError) as info:
        project(tmp_path, BASIC + extra)
    (err,) = errors_of(info.value)
    assert fragment in err.render()
    assert err.where is not None and err.where.line == line


def test_missing_work_pool_entrypoint_and_duplicates(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        project(
            tmp_path,
            """\
            deployments:
              - name: a
                entrypoint: flows/etl.py:etl
              - name: b
                entrypoint: flows/missing.py:etl
                work_pool: {name: pool}
              - name: c
                entrypoint: flows/etl.py:nope
                work_pool: {name: pool}
              - name: d
                work_pool: {name: pool}
              - name: e
                entrypoint: flows/etl.py:etl
                work_pool: {name: pool}
              - name: e
                entrypoint: flows/etl.py:etl
                work_pool: {name: pool}
            """,
        )
    rendered = [e.render() for e in errors_of(info.value)]
    assert any("has no work pool" in r and "prefect.yaml:2" in r for r in rendered)
    assert any("missing.py" in r for r in rendered)
    assert any("nope" in r for r in rendered)
    assert any("has no entrypoint" in r for r in rendered)
    assert any("defined twice" in r and "prefect.yaml:15" in r for r in rendered)
    assert len(rendered) == 5


def test_job_variables_without_pool_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        project(
            tmp_path,
            """\
            deployments:
              - name: a
                entrypoint: flows/etl.py:etl
                work_pool: {job_variables: {x: 1}}
            """,
        )
    assert any(
        "Job variables can only be provided" in e.what or "no work pool" in e.what
        for e in errors_of(info.value)
    )


def test_name_selection(tmp_path: Path) -> None:
    text = BASIC + (
        "  - name: other\n    entrypoint: flows/etl.py:etl\n    work_pool: {name: pool}\n"
    )
    assert [s.deployment.name for s in project(tmp_path, text, names=("other",)).specs] == ["other"]
    assert len(project(tmp_path, text, names=("etl/*",)).specs) == 2
    with pytest.raises(ConfigError, match="matches --name 'ghost'"):
        project(tmp_path, text, names=("ghost",))


def test_legacy_schedule_and_triggers(tmp_path: Path) -> None:
    p = project(
        tmp_path,
        BASIC
        + """\
    schedule: {interval: 600}
    triggers:
      - type: event
        expect: [x.done]
        parameters: {n: "{{ event.name }}"}
""",
    )
    dep = p.specs[0].deployment
    assert dep.schedules and dep.schedules[0]["schedule"]["interval"] == 600.0
    assert dep.triggers == [
        {
            "type": "event",
            "expect": ["x.done"],
            "parameters": {"n": "{{ event.name }}"},
            "name": "daily__automation_1",
        }
    ]


def test_sla_is_a_warning_not_silence(tmp_path: Path) -> None:
    p = project(tmp_path, BASIC + "    sla:\n      - duration: 60\n")
    assert [w.message for w in p.warnings] == [
        "'sla' is not applied: SLAs exist only on Prefect Cloud and flowdeploy does not "
        "manage them yet"
    ]
