"""prefect.yaml patterns from real public repositories where the loader must read the file as
Prefect 3.9.1 does: deployed by `prefect deploy` and by flowdeploy and compared field by field
(tests/support/conformance.py), or, where Prefect itself refuses the file, checked to write
nothing and to say which line to fix.

Issue 11, points 2 (`schedule: {}`), 5 (schedule keys Prefect refuses), 6 (push steps
flowdeploy does not run) and 9 (merge-conflict markers, unquoted templates).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from support.conformance import (
    compare_with_prefect,
    completed,
    deploy_with_prefect,
    fresh_server,
    make_case_repo,
    run_flowdeploy,
)
from support.oracle import read_deployments
from support.proxy import RecordingProxy
from support.server import PrefectServer

pytestmark = pytest.mark.integration

ETL = '''\
from prefect import flow


@flow
def etl(source: str = "orders", limit: int = 10) -> None:
    """Load one source."""
    print(source, limit)
'''


def _repo(tmp_path: Path, prefect_yaml: str) -> Path:
    return make_case_repo(
        tmp_path / "repo", {"flows/etl.py": ETL, "prefect.yaml": prefect_yaml}
    ).path


def _refused(repo: Path, api_url: str) -> subprocess.CompletedProcess[str]:
    """`flowdeploy apply --all` through a recording proxy: exit 2, no write, nothing stored."""
    fresh_server(api_url)
    with RecordingProxy(api_url) as proxy:
        cp = run_flowdeploy("apply", "--all", cwd=repo, api_url=proxy.api_url)
        writes = proxy.writes()
    assert cp.returncode == 2, completed(cp)
    assert not writes, "a refused file wrote:\n" + "\n".join(str(w) for w in writes)
    assert read_deployments(api_url) == {}
    assert "Traceback" not in cp.stderr, completed(cp)
    return cp


# -- 2. an empty legacy schedule ---------------------------------------------------------------

EMPTY_SCHEDULE = """\
deployments:
  - name: no-schedule
    entrypoint: flows/etl.py:etl
    work_pool: {name: process-pool}
    schedule: {}
  - name: listed
    entrypoint: flows/etl.py:etl
    work_pool: {name: process-pool}
    schedule: {}
    schedules:
      - cron: "0 2 * * *"
        timezone: Europe/Berlin
"""


def test_an_empty_legacy_schedule_is_no_schedule_as_prefect_reads_it(
    clean_api: PrefectServer, tmp_path: Path
) -> None:
    compared = compare_with_prefect(clean_api.api_url, _repo(tmp_path, EMPTY_SCHEDULE))
    assert compared.actual["etl/no-schedule"]["schedules"] == []
    assert len(compared.actual["etl/listed"]["schedules"]) == 1


# -- 5. a schedule key Prefect's model refuses -------------------------------------------------

CATCHUP = """\
deployments:
  - name: nightly
    entrypoint: flows/etl.py:etl
    work_pool: {name: process-pool}
    schedules:
      - cron: "0 2 * * *"
        catchup: false
  - name: hourly
    entrypoint: flows/etl.py:etl
    work_pool: {name: process-pool}
    schedules:
      - interval: 3600
"""


def test_a_schedule_key_prefect_refuses_is_an_error_and_nothing_is_written(
    clean_api: PrefectServer, tmp_path: Path
) -> None:
    repo = _repo(tmp_path, CATCHUP)
    fresh_server(clean_api.api_url)
    reference = deploy_with_prefect(repo, clean_api.api_url)
    assert reference.returncode != 0, completed(reference)
    assert "schedules" in reference.stdout, completed(reference)
    assert read_deployments(clean_api.api_url) == {}, "prefect deploy registered something"

    cp = _refused(repo, clean_api.api_url)
    assert "prefect.yaml:7: unknown key 'catchup' in a schedule entry" in cp.stderr, completed(cp)
    assert "prefect deploy refuses a schedule entry" in cp.stderr
    assert "fix: delete 'catchup'" in cp.stderr


def test_a_near_miss_schedule_key_keeps_its_suggestion(
    clean_api: PrefectServer, tmp_path: Path
) -> None:
    cp = _refused(
        _repo(tmp_path, CATCHUP.replace("        catchup: false\n", "        timezon: UTC\n")),
        clean_api.api_url,
    )
    assert "prefect.yaml:7: unknown key 'timezon' in a schedule entry" in cp.stderr, completed(cp)
    assert "did you mean 'timezone'?" in cp.stderr


IGNORED_KEYS = """\
owner: data-team
deployments:
  - name: nightly
    entrypoint: flows/etl.py:etl
    owner_team: data
    work_pool: {name: process-pool, region: eu}
    concurrency_limit: {limit: 2, collision_strategy: ENQUEUE, queue: main}
    triggers:
      - type: event
        expect: [acme.order.created]
        owner: data
"""


def test_keys_prefect_ignores_are_warnings_and_never_sent(
    clean_api: PrefectServer, tmp_path: Path
) -> None:
    # compare_with_prefect also applies twice: a key sent but not stored (the trigger's
    # 'owner') would make the second apply write again.
    compared = compare_with_prefect(clean_api.api_url, _repo(tmp_path, IGNORED_KEYS))
    stderr = " ".join(compared.first.stderr.split())
    for line, where in [
        (1, "'owner' in the prefect.yaml top level"),
        (5, "'owner_team' in a deployment"),
        (6, "'region' in a work_pool"),
        (7, "'queue' in a concurrency_limit"),
        (11, "'owner' in an event trigger"),
    ]:
        expected = f"prefect.yaml:{line}: unknown key {where} is ignored (Prefect ignores it too)"
        assert expected in stderr, completed(compared.first)


# -- 6. a push step flowdeploy does not run ----------------------------------------------------

S3 = """\
push:
  - prefect_aws.deployments.steps.push_to_s3:
      id: push-code
      bucket: acme-flows
      folder: etl
pull:
  - prefect_aws.deployments.steps.pull_from_s3:
      id: pull-code
      requires: prefect-aws>=0.3.0
      bucket: acme-flows
      folder: etl
deployments:
  - name: nightly
    entrypoint: flows/etl.py:etl
    work_pool: {name: process-pool}
"""
S3_WARNING = (
    "prefect.yaml:2: push step prefect_aws.deployments.steps.push_to_s3 is not run by "
    "flowdeploy: a pull step fetching from the S3 bucket gets the code already there, not this "
    "commit's; upload it in a workflow step before flowdeploy (aws s3 sync . s3://acme-flows/etl"
)


def test_a_push_step_not_run_is_a_warning_at_its_line_in_every_format(
    clean_api: PrefectServer, tmp_path: Path
) -> None:
    repo = _repo(tmp_path, S3)
    fresh_server(clean_api.api_url)
    text = run_flowdeploy("plan", "--all", cwd=repo, api_url=clean_api.api_url)
    assert text.returncode == 0, completed(text)
    assert f"warning: {S3_WARNING}" in " ".join(text.stderr.split()), completed(text)

    as_json = run_flowdeploy(
        "plan", "--all", "--format", "json", cwd=repo, api_url=clean_api.api_url
    )
    assert as_json.returncode == 0, completed(as_json)
    warnings = json.loads(as_json.stdout)["warnings"]
    assert [w for w in warnings if w.startswith(S3_WARNING)], warnings

    applied = run_flowdeploy("apply", "--all", cwd=repo, api_url=clean_api.api_url)
    assert applied.returncode == 0, completed(applied)
    (stored,) = read_deployments(clean_api.api_url).values()
    assert list(stored["pull_steps"][0]) == ["prefect_aws.deployments.steps.pull_from_s3"]


# -- 9. files a merge or a template broke ------------------------------------------------------

BASE = """\
deployments:
  - name: nightly
    entrypoint: flows/etl.py:etl
    work_pool: {name: process-pool}
"""


@pytest.mark.parametrize(
    ("extra", "where", "says"),
    [
        pytest.param(
            "<<<<<<< HEAD\n    tags: [a]\n=======\n    tags: [b]\n>>>>>>> feature/tags\n",
            "prefect.yaml:5",
            "unresolved merge conflict at line 5",
            id="merge-conflict",
        ),
        pytest.param(
            "    parameters:\n      source: {{ $SOURCE }}\n",
            "prefect.yaml:6",
            'fix: quote the value: source: "{{ $SOURCE }}"',
            id="unquoted-template",
        ),
        pytest.param(
            "    tags: [{{ $TEAM }}, etl]\n",
            "prefect.yaml:5",
            'fix: quote the value: tags: ["{{ $TEAM }}", etl]',
            id="unquoted-template-in-a-list",
        ),
        pytest.param(
            "    parameters:\n      source: { $SOURCE }\n",
            "prefect.yaml:6",
            'quoted: "{{ $SOURCE }}"',
            id="single-braces",
        ),
    ],
)
def test_a_broken_file_names_the_line_and_the_fix(
    clean_api: PrefectServer, tmp_path: Path, extra: str, where: str, says: str
) -> None:
    cp = _refused(_repo(tmp_path, BASE + extra), clean_api.api_url)
    assert f"{where}: " in cp.stderr, completed(cp)
    assert says in cp.stderr, completed(cp)
