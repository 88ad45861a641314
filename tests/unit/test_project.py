"""prefect.yaml -> deployments, with a fake server lookup (no network)."""

import json
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from flowdeploy import templating as tpl
from flowdeploy.errors import ConfigError, ConfigErrors
from flowdeploy.prefectyaml import keys, triggers
from flowdeploy.project import Project, load_project
from flowdeploy.report import run_json
from flowdeploy.run import RunResult
from flowdeploy.summary import context_from_env, job_summary

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
        "prefect.yaml:5: unknown key 'owner_team' in a deployment is ignored (Prefect ignores "
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
        "placeholder {{ build.stdout }} is filled by nothing at deploy time",
    ]
    assert all(str(e.where) in ("prefect.yaml:4", "prefect.yaml:5") for e in errors_of(info.value))


def test_a_run_time_placeholder_is_not_called_a_step_output(tmp_path: Path) -> None:
    """Seen in a real repository: ``{{ flow_run.name }}`` in job variables, which prefect
    deploy drops with a warning; the message says so instead of naming a step."""
    with pytest.raises(ConfigError) as info:
        project(
            tmp_path,
            """\
            build:
              - prefect.deployments.steps.run_shell_script: {id: get-sha, script: git log}
            deployments:
              - name: a
                entrypoint: flows/etl.py:etl
                version: "{{ get-sha.stdout }}"
                work_pool:
                  name: pool
                  job_variables: {env: {TS_HOSTNAME: "{{ flow_run.name }}"}}
            """,
        )
    by_what = {e.what: e for e in errors_of(info.value)}
    assert set(by_what) == {
        "step output {{ get-sha.stdout }} cannot be resolved",
        "placeholder {{ flow_run.name }} is filled by nothing at deploy time",
    }
    run_time = by_what["placeholder {{ flow_run.name }} is filled by nothing at deploy time"]
    assert "no build or push step has the id 'flow_run'" in run_time.why
    assert "drop work_pool.job_variables.env.TS_HOSTNAME" in run_time.why
    assert str(run_time.where) == "prefect.yaml:9"


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


# --- schedules: Prefect's model per key ------------------------------------------------------


def test_the_key_policy_follows_prefects_models() -> None:
    # Prefect 3.9.1 validates prefect.yaml with these models before deploying anything.
    from prefect.cli.deploy import _models as prefect_models
    from prefect.events.schemas import deployment_triggers as prefect_triggers

    ignoring = [
        (prefect_models.PrefectYamlModel, keys.TOP),
        (prefect_models.DeploymentConfig, keys.DEPLOYMENT),
        (prefect_models.WorkPoolConfig, keys.WORK_POOL),
        (prefect_models.ConcurrencyLimitSpec, keys.CONCURRENCY),
    ]
    for model, section in ignoring:
        assert model.model_config.get("extra") == "ignore", model
        assert not section.refused_by_prefect
        assert {f.alias or n for n, f in model.model_fields.items()} <= set(section.known)
    schedule = prefect_models.RawScheduleConfig
    assert schedule.model_config.get("extra") == "forbid" and keys.SCHEDULE.refused_by_prefect
    assert set(schedule.model_fields) | {"max_scheduled_runs"} == set(keys.SCHEDULE.known)
    for kind in triggers.TYPES:
        model = getattr(prefect_triggers, f"Deployment{kind.title()}Trigger")
        assert model.model_config.get("extra") == "ignore"
        assert set(model.model_fields) == set(triggers.known_fields(kind, deployment=True))


def test_empty_legacy_schedule_is_no_schedule(tmp_path: Path) -> None:
    p = project(tmp_path, BASIC + "    schedule: {}\n")
    assert p.specs[0].deployment.schedules is None
    assert not p.warnings


def test_empty_legacy_schedule_beside_schedules_keeps_the_list(tmp_path: Path) -> None:
    p = project(tmp_path, BASIC + "    schedule: {}\n    schedules:\n      - cron: '0 2 * * *'\n")
    schedules = p.specs[0].deployment.schedules
    assert schedules and [s["schedule"]["cron"] for s in schedules] == ["0 2 * * *"]


@pytest.mark.parametrize(
    ("extra", "line", "fragment"),
    [
        ("    schedule: {interval: 0}\n", 5, "not positive"),
        ("    schedule:\n      cron: '0 1 * * *'\n      timezone: Mars/Base\n", 7, "IANA"),
        ("    schedule: '0 1 * * *'\n", 5, "'schedule' must be a mapping, not a string"),
        ("    schedule: {cron: '0 1 * * *'}\n    schedules: []\n", 5, "both"),
        ("    schedules: {cron: '0 1 * * *'}\n", 5, "'schedules' must be a list"),
    ],
)
def test_schedule_errors_point_at_the_key(
    tmp_path: Path, extra: str, line: int, fragment: str
) -> None:
    with pytest.raises(ConfigError) as info:
        project(tmp_path, BASIC + extra)
    (err,) = errors_of(info.value)
    assert fragment in err.what
    assert err.where is not None and err.where.line == line
    assert err.fix


def test_unknown_schedule_key_is_an_error_as_prefect_refuses_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        project(
            tmp_path,
            BASIC + "    schedules:\n      - cron: '0 1 * * *'\n        catchup: false\n",
        )
    (err,) = errors_of(info.value)
    assert err.what == "unknown key 'catchup' in a schedule entry"
    assert "prefect deploy refuses" in err.why and "deploys nothing" in err.why
    assert err.fix.startswith("delete 'catchup'; a schedule entry takes cron, interval, rrule")
    assert str(err.where) == "prefect.yaml:7"


@pytest.mark.parametrize(
    ("extra", "line", "fix"),
    [
        ("    schedules:\n      - crons: '0 1 * * *'\n", 6, "did you mean 'cron'?"),
        ("    schedule:\n      interval: 60\n      timzone: UTC\n", 7, "did you mean 'timezone'?"),
        ("    schedules:\n      - schedule_interval: 60\n", 6, "did you mean 'interval'?"),
    ],
)
def test_near_miss_schedule_key_keeps_its_suggestion(
    tmp_path: Path, extra: str, line: int, fix: str
) -> None:
    with pytest.raises(ConfigError) as info:
        project(tmp_path, BASIC + extra)
    (err,) = errors_of(info.value)  # not also "has none of 'cron', …": that is the cause
    assert err.what.startswith("unknown key") and err.fix == fix
    assert err.where is not None and err.where.line == line


def test_unknown_keys_where_prefect_ignores_them_are_warnings(tmp_path: Path) -> None:
    p = project(
        tmp_path,
        """\
        owner: data-team
        deployments:
          - name: daily
            entrypoint: flows/etl.py:etl
            work_pool: {name: pool, region: eu}
            concurrency_limit: {limit: 2, collision_strategy: ENQUEUE, queue: x}
        """,
    )
    assert [(str(w.where), w.message.split(" is ignored")[0]) for w in p.warnings] == [
        ("prefect.yaml:1", "unknown key 'owner' in the prefect.yaml top level"),
        ("prefect.yaml:5", "unknown key 'region' in a work_pool"),
        ("prefect.yaml:6", "unknown key 'queue' in a concurrency_limit"),
    ]
    assert all("(Prefect ignores it too)" in w.message for w in p.warnings)


def test_unknown_trigger_keys_are_warned_about_and_never_sent(tmp_path: Path) -> None:
    p = project(
        tmp_path,
        BASIC
        + """\
    triggers:
      - type: event
        expect: [x.done]
        owner: data
      - type: compound
        require: all
        triggers:
          - type: event
            expect: [a]
            team: b
""",
    )
    assert [(str(w.where), w.message.split(" is ignored")[0]) for w in p.warnings] == [
        ("prefect.yaml:8", "unknown key 'owner' in an event trigger"),
        ("prefect.yaml:14", "unknown key 'team' in an event trigger"),
    ]
    first, second = p.specs[0].deployment.triggers
    assert "owner" not in first
    assert second["triggers"] == [{"type": "event", "expect": ["a"]}]


def test_a_near_miss_trigger_key_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        project(tmp_path, BASIC + "    triggers:\n      - expects: [x.done]\n")
    (err,) = errors_of(info.value)
    assert err.what == "unknown key 'expects' in an event trigger"
    assert err.fix == "did you mean 'expect'?"
    assert str(err.where) == "prefect.yaml:6"


# --- steps flowdeploy does not run -----------------------------------------------------------

S3_PUSH = """\
push:
  - prefect_aws.deployments.steps.push_to_s3:
      id: push-code
      bucket: my-bucket
      folder: flows
pull:
  - prefect_aws.deployments.steps.pull_from_s3:
      bucket: my-bucket
      folder: flows
deployments:
  - name: daily
    entrypoint: flows/etl.py:etl
    work_pool: {name: pool}
  - name: hourly
    entrypoint: flows/etl.py:etl
    work_pool: {name: pool}
"""


def test_push_step_not_run_is_a_warning_at_its_line(tmp_path: Path) -> None:
    p = project(tmp_path, S3_PUSH)
    (warning,) = p.warnings  # one for the step both deployments share
    assert str(warning.where) == "prefect.yaml:2"
    assert warning.message.startswith(
        "push step prefect_aws.deployments.steps.push_to_s3 is not run by flowdeploy: a pull "
        "step fetching from the S3 bucket gets the code already there, not this commit's"
    )
    assert "aws s3 sync . s3://my-bucket/flows" in warning.message


def test_a_step_warning_reaches_the_job_summary_and_the_json(tmp_path: Path) -> None:
    warnings = project(tmp_path, S3_PUSH).warnings
    result = RunResult(command="plan", warnings=warnings)
    (text,) = (str(w) for w in warnings)
    assert f"- {text}" in job_summary(result, context_from_env({}))
    assert json.loads(run_json(result))["warnings"] == [text]


@pytest.mark.parametrize(
    ("step", "says"),
    [
        (
            "prefect_gcp.deployments.steps.push_to_gcs: {bucket: b, folder: f}",
            "gcloud storage rsync --recursive . gs://b/f",
        ),
        (
            "prefect_azure.deployments.steps.push_to_azure_blob_storage: {container: c}",
            "az storage blob upload-batch --source . --destination c --destination-path <folder>",
        ),
        ("my_company.steps.upload_code: {}", "nothing is uploaded"),
    ],
)
def test_every_push_step_but_docker_is_a_warning(tmp_path: Path, step: str, says: str) -> None:
    p = project(tmp_path, BASIC + f"    push:\n      - {step}\n")
    (warning,) = p.warnings
    assert str(warning.where) == "prefect.yaml:6"
    assert says in warning.message


def test_build_step_not_run_is_a_warning_and_its_output_an_error(tmp_path: Path) -> None:
    build = (
        "    build:\n"
        "      - prefect.deployments.steps.run_shell_script:\n"
        "          id: sha\n"
        "          script: git rev-parse --short HEAD\n"
    )
    p = project(tmp_path, BASIC + build)
    (warning,) = p.warnings
    assert str(warning.where) == "prefect.yaml:6"
    assert warning.message.startswith(
        "build step prefect.deployments.steps.run_shell_script is not run by flowdeploy"
    )
    with pytest.raises(ConfigError, match=r"step output \{\{ sha.stdout \}\} cannot be resolved"):
        project(tmp_path, BASIC + build + '    version: "{{ sha.stdout }}"\n')


def test_docker_steps_are_not_warned_about(tmp_path: Path) -> None:
    p = project(
        tmp_path,
        """\
        build:
          - prefect_docker.deployments.steps.build_docker_image:
              id: build-image
              image_name: registry.example.com/etl
              tag: latest
        push:
          - prefect_docker.deployments.steps.push_docker_image:
              image_name: "{{ build-image.image_name }}"
        deployments:
          - name: daily
            entrypoint: flows/etl.py:etl
            work_pool:
              name: pool
              job_variables: {image: "{{ build-image.image }}"}
        """,
        image="registry.example.com/etl:abc123",
    )
    assert not p.warnings
    assert p.specs[0].deployment.job_variables == {"image": "registry.example.com/etl:abc123"}


def test_an_empty_deployment_push_falls_back_to_the_top_level_one(tmp_path: Path) -> None:
    # prefect deploy runs `push_steps or actions["push"]`: an empty list does not disable it.
    text = S3_PUSH.replace("    entrypoint: flows/etl.py:etl\n", "", 1).replace(
        "  - name: daily\n", "  - name: daily\n    entrypoint: flows/etl.py:etl\n    push: []\n"
    )
    assert [str(w.where) for w in project(tmp_path, text).warnings] == ["prefect.yaml:2"]


# --- names, braces, types, root --------------------------------------------------------------


def test_the_only_deployment_without_a_name_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        project(tmp_path, "deployments:\n  - entrypoint: flows/etl.py:etl\n")
    (err,) = errors_of(info.value)
    assert err.what == "the deployment has no name"
    assert "A deployment name must be provided." in err.why
    assert str(err.where) == "prefect.yaml:2"


def test_a_nameless_deployment_among_others_is_skipped_with_a_warning(tmp_path: Path) -> None:
    p = project(tmp_path, BASIC + "  - entrypoint: flows/etl.py:etl\n")
    assert [s.deployment.name for s in p.specs] == ["daily"]
    (warning,) = p.warnings
    assert str(warning.where) == "prefect.yaml:5"
    assert "skipped, as prefect deploy --all skips it" in warning.message


def test_single_braced_template_is_an_error_at_its_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        project(tmp_path, BASIC + "    parameters:\n      n: { $COUNT }\n")
    (err,) = errors_of(info.value)
    assert err.what == "{ $COUNT } is a YAML mapping, not a template"
    assert err.fix == 'write the template with two pairs of braces, quoted: "{{ $COUNT }}"'
    assert str(err.where) == "prefect.yaml:6"


ENTRY = "deployments:\n  - entrypoint: flows/etl.py:etl\n"


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (BASIC + "    tags: [etl, '']\n", 5, "tags"),
        (ENTRY + "    name: daily\n    work_pool: my-pool\n", 4, "must be a mapping"),
        (ENTRY + "    name: ''\n    work_pool: {name: pool}\n", 3, "non-empty string"),
        (BASIC + "    triggers: {type: event}\n", 5, "'triggers' must be a list"),
    ],
)
def test_type_errors_point_at_the_value(
    tmp_path: Path, text: str, line: int, fragment: str
) -> None:
    with pytest.raises(ConfigError) as info:
        project(tmp_path, text)
    (err,) = errors_of(info.value)
    assert fragment in err.what
    assert err.where is not None and err.where.line == line
    assert err.fix and "see the Prefect docs" not in err.fix


def test_entrypoints_resolve_against_root(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "etl.py").write_text(FLOW)
    (sub / "prefect.yaml").write_text(BASIC)
    p = load_project(
        sub / "prefect.yaml",
        repo_root=tmp_path,
        lookups=Lookups(),
        environ={},
        display_root=tmp_path,
        root=tmp_path,
    )
    assert p.root == tmp_path.resolve()
    assert p.specs[0].deployment.pull_steps == [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(tmp_path.resolve())}}
    ]


def test_a_flow_error_shared_by_deployments_is_said_once(tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "plain.py").write_text("def plain(n: int = 1):\n    return n\n")
    with pytest.raises(ConfigError) as info:
        project(
            tmp_path,
            """\
            deployments:
              - name: a
                entrypoint: flows/plain.py:plain
                work_pool: {name: pool}
              - name: b
                entrypoint: flows/plain.py:plain
                work_pool: {name: pool}
            """,
        )
    (error,) = errors_of(info.value)
    assert "is not a flow" in error.what
