"""Only what a commit touched: `plan/apply --base` on real git repositories and a real server.

Each scenario starts from the same small repository (shared modules, a definitions anchor, a
watched SQL file, a Docker build deployment, docs), makes one commit, and checks that the plan
lists exactly the deployments the commit affects, each with its reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flowdeploy.cli import main
from support.gitrepo import GitRepo, checkout_like_actions, make_origin
from support.proxy import RecordingProxy
from support.server import create_work_pool

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
}

FLOW = """\
from prefect import flow
{imports}

@flow
def {name}(region: str = "eu") -> str:
{body}
    return region
"""

PREFECT_YAML = """\
definitions:
  params: &shared_params
    region: eu
  pool: &pool
    name: demo-pool

deployments:
- name: etl
  entrypoint: flows/etl.py:etl
  parameters: *shared_params
  work_pool: *pool
  flowdeploy:
    watch: ["sql/**"]
- name: report
  entrypoint: flows/report.py:report
  parameters: *shared_params
  work_pool: *pool
- name: ingest
  entrypoint: flows/ingest.py:ingest
  work_pool: *pool
- name: plugin
  entrypoint: flows/plugin.py:plugin
  work_pool: *pool
- name: solo
  entrypoint: flows/solo.py:solo
  work_pool: *pool
- name: boxed
  entrypoint: flows/solo.py:solo
  build:
  - prefect_docker.deployments.steps.build_docker_image:
      id: build-image
      image_name: registry.example.com/flows
      tag: latest
  work_pool:
    name: docker-pool
    job_variables:
      image: "{{ build-image.image }}"
"""

IMAGE = "registry.example.com/flows:abc"


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def write(repo: Path, rel: str, text: str) -> None:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def flow(name: str, imports: str = "", body: str = "") -> str:
    return FLOW.format(name=name, imports=imports, body=body or "    pass")


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def make_repo(root: Path) -> Path:
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write(repo, "prefect.yaml", PREFECT_YAML)
    write(repo, "lib/__init__.py", "")
    write(repo, "lib/db.py", "def connect() -> str:\n    return 'db'\n")
    write(repo, "lib/fmt.py", "def pretty(x: str) -> str:\n    return x\n")
    write(repo, "lib/plugins/__init__.py", "")
    write(repo, "lib/plugins/csv.py", "READER = 'csv'\n")
    write(repo, "flows/etl.py", flow("etl", "from lib.db import connect"))
    write(
        repo,
        "flows/report.py",
        flow("report", "import lib.db", "    from lib import fmt\n    fmt.pretty(region)"),
    )
    write(
        repo,
        "flows/ingest.py",
        flow("ingest", "import importlib", '    importlib.import_module("lib.plugins.csv")'),
    )
    write(
        repo,
        "flows/plugin.py",
        flow("plugin", "from importlib import import_module", "    import_module(region)"),
    )
    write(repo, "flows/solo.py", flow("solo"))
    write(repo, "sql/etl.sql", "select 1;\n")
    write(repo, "docs/guide.md", "# Guide\n")
    write(repo, "README.md", "# Repo\n")
    write(repo, "Dockerfile", "FROM scratch\n")
    write(repo, "requirements.txt", "httpx\n")
    commit(repo, "base")
    return repo


@pytest.fixture
def api(recording_proxy: RecordingProxy, monkeypatch: pytest.MonkeyPatch) -> RecordingProxy:
    for var in list(os.environ):
        if var.startswith(("GITHUB_", "PREFECT_API_KEY", "PREFECT_API_AUTH")):
            monkeypatch.delenv(var)
    monkeypatch.setenv("PREFECT_API_URL", recording_proxy.api_url)
    create_work_pool(recording_proxy.api_url, "demo-pool", "process")
    create_work_pool(recording_proxy.api_url, "docker-pool", "docker")
    recording_proxy.clear()
    return recording_proxy


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def plan(capsys: pytest.CaptureFixture[str], repo: Path, *extra: str) -> dict[str, Any]:
    code, out, err = run(
        capsys, "plan", "--project-dir", str(repo), "--image", IMAGE, "--format", "json", *extra
    )
    assert code == 0, out + err
    doc: dict[str, Any] = json.loads(out)
    return doc


def affected(doc: dict[str, Any]) -> dict[str, list[str]]:
    """Deployment name (without the flow) -> reasons, for every planned non-orphan."""
    return {
        d["name"].split("/")[1]: d["reasons"]
        for d in doc["deployments"]
        if d["action"] != "orphaned"
    }


def edit(rel: str, old: str, new: str) -> Callable[[Path], None]:
    def change(repo: Path) -> None:
        path = repo / rel
        text = path.read_text()
        assert old in text, f"{old!r} not in {rel}"
        path.write_text(text.replace(old, new))

    return change


def append(rel: str, text: str) -> Callable[[Path], None]:
    def change(repo: Path) -> None:
        with (repo / rel).open("a") as fh:
            fh.write(text)

    return change


REFORMATTED = """\
# the same deployments, reindented, commented and with keys in another order
definitions:
    pool: &pool {name: demo-pool}
    params: &shared_params {region: eu}
deployments:
    -   entrypoint: flows/etl.py:etl
        name: etl        # the nightly ETL
        work_pool: *pool
        parameters: *shared_params
        flowdeploy: {watch: ["sql/**"]}
    -   {name: report, entrypoint: "flows/report.py:report", parameters: *shared_params,
         work_pool: *pool}
    -   {name: ingest, entrypoint: flows/ingest.py:ingest, work_pool: *pool}
    -   {name: plugin, entrypoint: flows/plugin.py:plugin, work_pool: *pool}
    -   {name: solo, entrypoint: flows/solo.py:solo, work_pool: *pool}
    -   name: boxed
        entrypoint: flows/solo.py:solo
        work_pool:
            job_variables: {image: "{{ build-image.image }}"}
            name: docker-pool
        build:
            -   prefect_docker.deployments.steps.build_docker_image:
                    image_name: registry.example.com/flows
                    tag: latest
                    id: build-image
"""


def reformat(repo: Path) -> None:
    (repo / "prefect.yaml").write_text(REFORMATTED)


# Scenario -> the deployments it must affect. `plugin` imports a module named at run time,
# so any Python change affects it.
SCENARIOS: dict[str, tuple[Callable[[Path], None], set[str]]] = {
    "shared module": (append("lib/db.py", "\nPORT = 5432\n"), {"etl", "report", "plugin"}),
    "module imported inside a function": (append("lib/fmt.py", "\n"), {"report", "plugin"}),
    "literal import_module target": (append("lib/plugins/csv.py", "X = 1\n"), {"ingest", "plugin"}),
    "package __init__": (
        append("lib/__init__.py", "# init\n"),
        {"etl", "report", "ingest", "plugin"},
    ),
    "flow file": (append("flows/solo.py", "\n# note\n"), {"solo", "boxed", "plugin"}),
    "definitions anchor": (edit("prefect.yaml", "region: eu", "region: us"), {"etl", "report"}),
    "one entry": (edit("prefect.yaml", "tag: latest", "tag: v2"), {"boxed"}),
    "reformatted prefect.yaml": (reformat, set()),
    "Dockerfile": (append("Dockerfile", "LABEL a=b\n"), {"boxed"}),
    "requirements.txt": (append("requirements.txt", "rich\n"), {"boxed"}),
    "docs only": (
        lambda r: (append("docs/guide.md", "more\n")(r), append("README.md", "x\n")(r)),
        set(),
    ),
    "watched SQL": (append("sql/etl.sql", "select 2;\n"), {"etl"}),
    "deleted module still imported": (lambda r: (r / "lib/fmt.py").unlink(), {"report", "plugin"}),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_plan_lists_exactly_the_affected_deployments(
    scenario: str, api: RecordingProxy, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    change, expected = SCENARIOS[scenario]
    change(repo)
    commit(repo, scenario)
    doc = plan(capsys, repo, "--base", "HEAD~1")
    got = affected(doc)
    assert set(got) == expected, json.dumps(got, indent=1)
    assert all(got.values()), "every affected deployment says why"
    assert api.writes() == []


def test_reasons_name_the_changed_file_and_the_importer(
    api: RecordingProxy, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    append("lib/db.py", "\n")(repo)
    edit("prefect.yaml", "region: eu", "region: us")(repo)
    append("Dockerfile", "\n")(repo)
    commit(repo, "several")
    got = affected(plan(capsys, repo, "--base", "HEAD~1"))
    assert "flows/etl.py imports lib/db.py (changed)" in got["etl"]
    assert "prefect.yaml: parameters changed" in got["etl"]
    assert "Dockerfile changed (goes into the image)" in got["boxed"]
    assert any("flows/plugin.py:6 imports a module named at run time" in r for r in got["plugin"])
    doc = plan(capsys, repo, "--base", "HEAD~1")
    assert doc["scope"]["rebuild_image"] is True
    assert doc["scope"]["base"] == git(repo, "rev-parse", "HEAD~1")


def test_text_plan_shows_the_scope_and_reasons(
    api: RecordingProxy, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    append("sql/etl.sql", "\n")(repo)
    commit(repo, "sql")
    code, out, err = run(capsys, "plan", "--project-dir", str(repo), "--base", "HEAD~1")
    assert code == 0, err
    assert "sql/etl.sql changed (watched: sql/**)" in out
    assert "1 affected deployment" in out


def test_deleted_module_names_the_importer(
    api: RecordingProxy, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(repo, "rm", "-q", "lib/fmt.py")
    commit(repo, "drop fmt")
    got = affected(plan(capsys, repo, "--base", "HEAD~1"))
    assert got["report"] == ["flows/report.py imports lib.fmt, but lib/fmt.py was deleted"]


def test_rename_of_a_flow_file(
    api: RecordingProxy, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(repo, "mv", "flows/solo.py", "flows/single.py")
    edit("prefect.yaml", "flows/solo.py:solo", "flows/single.py:solo")(repo)
    commit(repo, "rename")
    got = affected(plan(capsys, repo, "--base", "HEAD~1"))
    assert set(got) == {"solo", "boxed", "plugin"}
    assert "flows/single.py renamed from flows/solo.py" in got["solo"]


def test_removed_deployment_is_orphaned_and_pruned_only_on_apply(
    api: RecordingProxy, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "apply", "--project-dir", str(repo), "--all", "--image", IMAGE)
    assert code == 0, out + err
    text = (repo / "prefect.yaml").read_text()
    start = text.index("- name: report")
    end = text.index("- name: ingest")
    (repo / "prefect.yaml").write_text(text[:start] + text[end:])
    commit(repo, "drop report")

    doc = plan(capsys, repo, "--base", "HEAD~1", "--prune")
    orphans = [d for d in doc["deployments"] if d["action"] == "orphaned"]
    assert [d["name"] for d in orphans] == ["report/report"]
    assert "removed from prefect.yaml" in orphans[0]["reasons"][0]
    assert affected(doc) == {}

    api.clear()
    base = ("apply", "--project-dir", str(repo), "--base", "HEAD~1", "--image", IMAGE)
    code, out, err = run(capsys, *base, "--format", "json")
    assert code == 0, out + err
    assert api.writes() == [], "without --prune an orphan is left in place"
    code, out, err = run(capsys, *base, "--prune", "--format", "json")
    assert code == 0, out + err
    status = {d["name"]: d["status"] for d in json.loads(out)["deployments"]}
    assert status == {"report/report": "deleted"}
    names = {d["name"] for d in _server_deployments(api.api_url)}
    assert "report" not in names and "etl" in names
    code, out, err = run(capsys, *base, "--prune", "--format", "json")
    assert code == 0 and json.loads(out)["deployments"] == [], "a re-run has nothing left to do"


def _server_deployments(api_url: str) -> list[dict[str, Any]]:
    import httpx

    rows: list[dict[str, Any]] = httpx.post(f"{api_url}/deployments/filter", json={}).json()
    return rows


def test_apply_with_base_writes_only_affected(
    api: RecordingProxy, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "apply", "--project-dir", str(repo), "--all", "--image", IMAGE)
    assert code == 0, out + err
    edit("prefect.yaml", "tag: latest", "tag: v2")(repo)
    edit("flows/etl.py", 'region: str = "eu"', 'region: str = "de"')(repo)
    commit(repo, "two changes")
    api.clear()
    code, out, err = run(
        capsys,
        "apply",
        "--project-dir",
        str(repo),
        "--base",
        "HEAD~1",
        "--image",
        IMAGE,
        "--format",
        "json",
    )
    assert code == 0, out + err
    status = {d["name"]: d["status"] for d in json.loads(out)["deployments"]}
    # etl's default changed (schema); boxed's entry changed but registers the same (the tag is
    # replaced by --image); plugin is re-checked because of its run-time import.
    assert status == {"etl/etl": "updated", "solo/boxed": "unchanged", "plugin/plugin": "unchanged"}
    patched = [w.path for w in api.writes() if w.method == "PATCH"]
    assert len(patched) == 1


def test_github_push_event_selects_the_pushed_commits(
    api: RecordingProxy,
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = git(repo, "rev-parse", "HEAD")
    append("lib/fmt.py", "\n")(repo)
    commit(repo, "one")
    append("sql/etl.sql", "\n")(repo)
    after = commit(repo, "two")
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {
                "before": before,
                "after": after,
                "ref": "refs/heads/main",
                "repository": {"default_branch": "main"},
            }
        )
    )
    monkeypatch.setenv("GITHUB_EVENT_NAME", "push")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    monkeypatch.setenv("GITHUB_SHA", after)
    doc = plan(capsys, repo)
    assert set(affected(doc)) == {"report", "plugin", "etl"}
    assert doc["scope"]["base"] == before and doc["scope"]["head"] == after

    monkeypatch.setenv("GITHUB_EVENT_NAME", "workflow_dispatch")
    event.write_text(json.dumps({"ref": "refs/heads/main"}))
    assert len(affected(plan(capsys, repo))) == 6


def test_several_projects_from_a_glob(
    api: RecordingProxy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "mono"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write(repo, "shared/util.py", "X = 1\n")
    for name in ("alpha", "beta"):
        write(
            repo,
            f"projects/{name}/prefect.yaml",
            f"deployments:\n- name: {name}\n  entrypoint: flows/{name}.py:{name}\n"
            "  work_pool: {name: demo-pool}\n",
        )
        imports = "from shared.util import X" if name == "alpha" else ""
        write(repo, f"projects/{name}/flows/{name}.py", flow(name, imports))
        write(repo, f"projects/{name}/requirements.txt", "httpx\n")
    commit(repo, "base")
    glob = ("--prefect-file", "projects/*/prefect.yaml")

    code, out, err = run(capsys, "plan", "--project-dir", str(repo), *glob, "--format", "json")
    assert code == 0, err
    assert {d["name"] for d in json.loads(out)["deployments"]} == {"alpha/alpha", "beta/beta"}

    append("shared/util.py", "Y = 2\n")(repo)
    append("projects/beta/flows/beta.py", "\n")(repo)
    commit(repo, "both")
    code, out, err = run(
        capsys, "plan", "--project-dir", str(repo), *glob, "--base", "HEAD~1", "--format", "json"
    )
    assert code == 0, err
    got = affected(json.loads(out))
    assert got == {
        "alpha": ["projects/alpha/flows/alpha.py imports shared/util.py (changed)"],
        "beta": ["projects/beta/flows/beta.py changed"],
    }


def _pull_request_event(path: Path, number: int, base: str, head: str) -> Path:
    path.write_text(
        json.dumps(
            {
                "number": number,
                "pull_request": {"number": number, "base": {"sha": base}, "head": {"sha": head}},
                "repository": {"default_branch": "main"},
            }
        )
    )
    return path


def test_pull_request_on_a_shallow_checkout_plans_only_the_branch_changes(
    api: RecordingProxy,
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = GitRepo(repo)
    origin = make_origin(source, tmp_path / "origin.git")
    source.git("checkout", "-q", "-b", "feature")
    source.empty_commits(5, "feature work")
    head = source.commit({"lib/db.py": "def connect() -> str:\n    return 'pg'\n"})
    source.push("feature")
    source.git("checkout", "-q", "main")
    source.empty_commits(80, "main moves on")  # more than the first deepening step
    base = source.commit({"sql/etl.sql": "select 3;\n"})  # on main only: not the PR's change
    source.push("main")
    work = checkout_like_actions(origin, tmp_path / "work", head)
    assert work.git("rev-parse", "--is-shallow-repository") == "true"

    event = _pull_request_event(tmp_path / "event.json", 42, base, head)
    monkeypatch.setenv("GITHUB_EVENT_NAME", "pull_request")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    doc = plan(capsys, work.path)
    assert set(affected(doc)) == {"etl", "report", "plugin"}
    fork = source.git("merge-base", "main", "feature")
    assert doc["scope"]["base"] == fork and doc["scope"]["head"] == head
    assert "pull request #42" in doc["scope"]["note"]
    assert api.writes() == []


def test_missing_history_plans_everything_with_a_warning(
    api: RecordingProxy,
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = GitRepo(repo)
    origin = make_origin(source, tmp_path / "origin.git")
    source.empty_commits(3)
    base = source.sha()
    source.git("checkout", "-q", "-b", "feature")
    head = source.commit({"sql/etl.sql": "select 4;\n"})
    source.push("main", "feature")
    work = checkout_like_actions(origin, tmp_path / "work", head)
    work.git("remote", "remove", "origin")  # nothing more can be fetched
    event = _pull_request_event(tmp_path / "event.json", 7, base, head)
    monkeypatch.setenv("GITHUB_EVENT_NAME", "pull_request")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    code, out, err = run(
        capsys, "plan", "--project-dir", str(work.path), "--image", IMAGE, "--format", "json"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert len(affected(doc)) == 6, "never 'nothing changed' from missing history"
    assert doc["scope"]["base"] is None
    assert any("fetch-depth: 0" in w for w in doc["warnings"])
    assert "fetch-depth: 0" in err
