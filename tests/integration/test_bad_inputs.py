"""The bad-input corpus: each case is its own small repository, applied with the CLI against a
real Prefect server behind a recording proxy.

Every case must exit 2 with ``file:line`` of what to fix and a ``fix:`` line on stderr, no
traceback, within seconds and bounded memory, and must write nothing: no write request
reaches the server, and reading the server back finds no flow and no deployment.

Cases whose file could hang or exhaust memory (an alias bomb, /dev/zero, a FIFO, deep nesting)
run the CLI in a child process limited to 1 GiB of address space and a timeout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from flowdeploy.cli import main
from support.proxy import RecordingProxy
from support.server import PrefectServer, create_work_pool, isolated_env, reset_server_state

pytestmark = pytest.mark.integration

POOL = "demo-pool"

FLOWS = {
    # line numbers matter: 5 is `def etl`, 10 `def step` (a task), 14 `def helper`
    "flows/etl.py": '''\
        from prefect import flow, task


        @flow
        def etl(n: int = 1) -> None:
            """Load things."""


        @task
        def step() -> None:
            pass


        def helper() -> None:
            pass
        ''',
    "flows/broken.py": """\
        from prefect import flow


        @flow
        def f(:
            pass
        """,
    "flows/named.py": """\
        from prefect import flow


        @flow(name="etl/nightly")
        def g() -> None:
            pass
        """,
    "flows/reserved.py": """\
        from prefect import flow


        @flow
        def r(n: int,
              wait_for: int = 1) -> None:
            pass
        """,
}

# The one deployment every case starts from; its extra lines start at line 6.
BASE = """\
deployments:
  - name: nightly
    entrypoint: flows/etl.py:etl
    work_pool:
      name: demo-pool
"""


def base(extra: str = "", *, entrypoint: str = "flows/etl.py:etl") -> str:
    return BASE.replace("flows/etl.py:etl", entrypoint) + extra


Setup = Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    id: str
    prefect_yaml: str | bytes | None
    where: str
    """``file:line`` (or just ``file`` where there is no line) that stderr must name."""
    says: str
    setup: Setup | None = None
    bounded: bool = False
    """Run in a child process with 1 GiB of address space and a timeout."""
    args: tuple[str, ...] = ()


# --- setups for what text alone cannot express ---------------------------------------------------


def directory(repo: Path) -> None:
    (repo / "prefect.yaml").mkdir()


def dev_zero(repo: Path) -> None:
    (repo / "prefect.yaml").symlink_to("/dev/zero")


def fifo(repo: Path) -> None:
    os.mkfifo(repo / "prefect.yaml")


def too_large(repo: Path) -> None:
    with (repo / "prefect.yaml").open("wb") as handle:
        handle.truncate(11 * 1024 * 1024)


def outside(repo: Path) -> Path:
    there = repo.parent / "elsewhere"
    there.mkdir(exist_ok=True)
    (there / "flow.py").write_text(textwrap.dedent(FLOWS["flows/etl.py"]))
    (there / "prefect.yaml").write_text(BASE)
    return there


def with_outside(repo: Path) -> None:
    outside(repo)


def symlinked_prefect_yaml(repo: Path) -> None:
    (repo / "prefect.yaml").symlink_to(outside(repo) / "prefect.yaml")


def symlinked_flow(repo: Path) -> None:
    (repo / "flows" / "linked.py").symlink_to(outside(repo) / "flow.py")


def symlinked_package(repo: Path) -> None:
    package = outside(repo) / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "jobs.py").write_text(textwrap.dedent(FLOWS["flows/etl.py"]))
    (repo / "pkg").symlink_to(package)


def system_module(repo: Path) -> None:
    os_py = Path(os.__file__).resolve()
    up = "../" * len(repo.resolve().parts)
    entrypoint = f"{up}{str(os_py).lstrip('/')}:getenv"
    (repo / "prefect.yaml").write_text(base(entrypoint=entrypoint))


def git_repository(repo: Path) -> None:
    subprocess.run(["git", "init", "-q", str(repo)], check=True, capture_output=True)
    outside(repo)


def fifo_flow(repo: Path) -> None:
    os.mkfifo(repo / "flows" / "pipe.py")


def deep_python(repo: Path) -> None:
    (repo / "flows" / "deep.py").write_text("x = " + "+".join(["1"] * 200_000) + "\n")


def billion_laughs() -> str:
    lines = ["  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 12):
        lines.append(f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return BASE + "    parameters:\n      n: 1\ndefinitions:\n" + "\n".join(lines) + "\n"


# --- the corpus ----------------------------------------------------------------------------------

CASES = [
    # hostile or broken files
    Case("binary", b"deployments:\n  - name: a\n\x00\x01\x02PNG", "prefect.yaml:3", "binary file"),
    Case(
        "latin-1",
        base("    description: caf\xe9\n").encode("latin-1"),
        "prefect.yaml:6",
        "is not UTF-8",
    ),
    Case("control-character", base("    description: a\x1bb\n"), "prefect.yaml:6", "U+001B"),
    Case("directory", None, "prefect.yaml: ", "it is a directory", directory),
    Case("dev-zero", None, "prefect.yaml: ", "it leads to /dev/zero", dev_zero, bounded=True),
    Case("fifo", None, "prefect.yaml: ", "named pipe", fifo, bounded=True),
    Case("too-large", None, "prefect.yaml: ", "too large", too_large),
    Case("billion-laughs", billion_laughs(), "prefect.yaml:14", "expands to more than", None, True),
    Case(
        "recursive-anchor",
        base("    parameters: &p\n      n: 1\n      again: *p\n"),
        "prefect.yaml:8",
        "refers to the node that contains it",
    ),
    Case(
        "deep-flow-nesting",
        base("    parameters: {n: " + "[" * 5000 + "]" * 5000 + "}\n"),
        "prefect.yaml:6",
        "nests deeper than 100 levels",
        bounded=True,
    ),
    Case(
        "deep-block-nesting",
        base("    parameters:\n" + "".join(" " * (6 + i) + "k:\n" for i in range(3000))),
        "prefect.yaml:104",
        "nests deeper than 100 levels",
        bounded=True,
    ),
    Case(
        "duplicate-name",
        base("    name: hourly\n"),
        "prefect.yaml:6",
        "key 'name' is given twice in the same mapping (lines 2 and 6)",
    ),
    Case(
        "duplicate-deployments",
        BASE + "deployments:\n  - name: other\n    entrypoint: flows/etl.py:etl\n",
        "prefect.yaml:6",
        "'deployments' is given twice",
    ),
    Case(
        "duplicate-pool-key",
        base("      name: other-pool\n"),
        "prefect.yaml:6",
        "key 'name' is given twice in the same mapping (lines 5 and 6)",
    ),
    Case(
        "duplicate-parameter",
        base("    parameters: {n: 1, n: 2}\n"),
        "prefect.yaml:6",
        "key 'n' is given twice",
    ),
    Case(
        "merge-conflict",
        base("<<<<<<< HEAD\n    tags: [a]\n=======\n    tags: [b]\n>>>>>>> feature\n"),
        "prefect.yaml:6",
        "unresolved merge conflict at line 6",
    ),
    Case(
        "unquoted-env-template",
        base("    parameters:\n      n: {{ $COUNT }}\n"),
        "prefect.yaml:7",
        'n: "{{ $COUNT }}"',
    ),
    Case(
        "unquoted-step-template",
        base("      job_variables:\n        image: {{ build-image.image }}\n"),
        "prefect.yaml:7",
        'image: "{{ build-image.image }}"',
    ),
    Case(
        "bad-indentation",
        base("   tags: [a]\n"),
        "prefect.yaml:6",
        "indent this line",
    ),
    Case("tab", base("\ttags: [a]\n"), "prefect.yaml:6", "indent with spaces"),
    Case(
        "unclosed-quote",
        base('    description: "half\n    tags: [a]\n'),
        "prefect.yaml:6",
        "close the quote opened at line 6",
    ),
    Case("missing-colon", base("    tags [a]\n    paused: true\n"), "prefect.yaml:6", "':'"),
    Case(
        "unclosed-bracket",
        base("    tags: [a, b\n    paused: true\n"),
        "prefect.yaml:6",
        "close the bracket opened at line 6",
    ),
    Case(
        "undefined-alias",
        base("    parameters: *params\n"),
        "prefect.yaml:6",
        "define the anchor",
    ),
    Case("two-documents", BASE + "---\nname: other\n", "prefect.yaml:6", "keep one document"),
    Case(
        "python-tag",
        base("    description: !!python/object/apply:os.system [id]\n"),
        "prefect.yaml:6",
        "remove the tag",
    ),
    Case("colon-in-value", base("    description: a: b\n"), "prefect.yaml:6", "quote the value"),
    Case(
        "deployments-not-a-list",
        "deployments:\n  name: nightly\n",
        "prefect.yaml:1",
        "'deployments' must be a list",
    ),
    Case(
        "deployment-not-a-mapping",
        BASE + "  - just-a-name\n",
        "prefect.yaml:6",
        "deployment #2 is not a mapping",
    ),
    # reads that would leave the repository
    Case(
        "absolute-entrypoint",
        base(entrypoint="/etc/passwd.py:etl"),
        "prefect.yaml:3",
        "is an absolute path",
    ),
    Case(
        "dotdot-entrypoint",
        base(entrypoint="../elsewhere/flow.py:etl"),
        "prefect.yaml:3",
        "resolves outside the repository",
        with_outside,
    ),
    Case("system-module", None, "prefect.yaml:3", "resolves outside the repository", system_module),
    Case(
        "symlinked-flow",
        base(entrypoint="flows/linked.py:etl"),
        "prefect.yaml:3",
        "resolves outside the repository",
        symlinked_flow,
    ),
    Case(
        "symlinked-package",
        base(entrypoint="pkg.jobs:etl"),
        "prefect.yaml:3",
        "resolves outside the repository",
        symlinked_package,
    ),
    Case(
        "symlinked-prefect-yaml",
        None,
        "prefect.yaml: ",
        "resolves outside the repository",
        symlinked_prefect_yaml,
    ),
    Case(
        "prefect-file-outside-the-repository",
        BASE,
        "elsewhere/prefect.yaml: ",
        "resolves outside the repository",
        git_repository,
        args=("--prefect-file", "../elsewhere/prefect.yaml"),
    ),
    # keys and values
    Case(
        "near-miss-deployment-key",
        base("    shedules: []\n"),
        "prefect.yaml:6",
        "did you mean 'schedules'?",
    ),
    Case(
        "near-miss-top-key",
        BASE + "pulll: []\n",
        "prefect.yaml:6",
        "did you mean 'pull'?",
    ),
    Case(
        "near-miss-pool-key",
        base("      work_queue: q\n"),
        "prefect.yaml:6",
        "did you mean 'work_queue_name'?",
    ),
    Case(
        "near-miss-schedule-key",
        base("    schedules:\n      - cron: '0 1 * * *'\n        timezon: UTC\n"),
        "prefect.yaml:8",
        "timezon",
    ),
    Case(
        "bad-cron",
        base("    schedules:\n      - cron: '0 25 * * *'\n"),
        "prefect.yaml:7",
        "cron expression '0 25 * * *' is not valid",
    ),
    Case(
        "bad-timezone",
        base("    schedules:\n      - cron: '0 1 * * *'\n        timezone: Europe/Atlantis\n"),
        "prefect.yaml:8",
        "not an IANA time zone",
    ),
    Case(
        "bad-rrule",
        base("    schedules:\n      - rrule: 'FREQ=WEEKLY;BYDAY=XX'\n"),
        "prefect.yaml:7",
        "rrule",
    ),
    Case(
        "negative-interval",
        base("    schedules:\n      - interval: -60\n"),
        "prefect.yaml:7",
        "is not positive",
    ),
    Case(
        "interval-not-a-duration",
        base("    schedules:\n      - interval: soon\n"),
        "prefect.yaml:7",
        "is not a duration",
    ),
    Case(
        "two-schedule-kinds",
        base("    schedules:\n      - interval: 60\n        cron: '0 1 * * *'\n"),
        "prefect.yaml:7",
        "more than one of 'cron', 'interval', 'rrule'",
    ),
    Case(
        "bad-anchor-date",
        base("    schedules:\n      - interval: 60\n        anchor_date: someday\n"),
        "prefect.yaml:8",
        "anchor_date",
    ),
    Case(
        "schedule-and-schedules",
        base("    schedule: {cron: '0 1 * * *'}\n    schedules: []\n"),
        "prefect.yaml:6",
        "both 'schedule' and 'schedules'",
    ),
    Case(
        "schedules-not-a-list",
        base("    schedules: {cron: '0 1 * * *'}\n"),
        "prefect.yaml:6",
        "'schedules' must be a list",
    ),
    Case(
        "schedule-entry-not-a-mapping",
        base("    schedules:\n      - '0 1 * * *'\n"),
        "prefect.yaml:7",
        "must be a mapping",
    ),
    Case("tags-wrong-type", base("    tags: 5\n"), "prefect.yaml:6", "tags"),
    Case("paused-wrong-type", base("    paused: maybe\n"), "prefect.yaml:6", "paused"),
    Case(
        "description-wrong-type",
        base("    description: [a, b]\n"),
        "prefect.yaml:6",
        "description",
    ),
    Case(
        "enforce-schema-wrong-type",
        base("    enforce_parameter_schema: sometimes\n"),
        "prefect.yaml:6",
        "enforce_parameter_schema",
    ),
    Case(
        "concurrency-wrong-type",
        base("    concurrency_limit: lots\n"),
        "prefect.yaml:6",
        "concurrency_limit must be an integer or a mapping",
    ),
    Case(
        "collision-strategy",
        base("    concurrency_limit:\n      limit: 1\n      collision_strategy: DROP\n"),
        "prefect.yaml:8",
        "collision_strategy 'DROP' is not valid",
    ),
    Case(
        "trigger-type",
        base("    triggers:\n      - type: webhook\n"),
        "prefect.yaml:7",
        "unknown type 'webhook'",
    ),
    Case(
        "steps-not-a-list",
        base("    pull: do-it\n"),
        "prefect.yaml:6",
        "'pull' must be a list of steps",
    ),
    Case(
        "own-settings-not-a-mapping",
        base("    flowdeploy: [a]\n"),
        "prefect.yaml:6",
        "'flowdeploy' must be a mapping",
    ),
    Case(
        "own-settings-unknown-key",
        base("    flowdeploy:\n      wach: ['sql/**']\n"),
        "prefect.yaml:7",
        "did you mean 'watch'?",
    ),
    # entrypoints and flows
    Case(
        "missing-entrypoint",
        "deployments:\n  - name: nightly\n    work_pool: {name: demo-pool}\n",
        "prefect.yaml:2",
        "has no entrypoint",
    ),
    Case(
        "missing-flow-file",
        base(entrypoint="flows/nothing.py:etl"),
        "prefect.yaml:3",
        "flows/nothing.py",
    ),
    Case(
        "flow-file-is-a-directory",
        base(entrypoint="flows.py:etl"),
        "prefect.yaml:3",
        "is not a regular file",
        lambda repo: (repo / "flows.py").mkdir(),
    ),
    Case(
        "flow-file-is-a-fifo",
        base(entrypoint="flows/pipe.py:etl"),
        "prefect.yaml:3",
        "is not a regular file",
        fifo_flow,
        bounded=True,
    ),
    Case(
        "invalid-entrypoint",
        base(entrypoint="flows/etl.py"),
        "prefect.yaml:3",
        "is not valid",
    ),
    Case(
        "missing-module",
        base(entrypoint="nowhere.jobs:etl"),
        "prefect.yaml:3",
        "module 'nowhere.jobs'",
    ),
    Case(
        "missing-function",
        base(entrypoint="flows/etl.py:etll"),
        "prefect.yaml:3",
        "'etll'",
    ),
    Case(
        "not-a-flow",
        base(entrypoint="flows/etl.py:helper"),
        "flows/etl.py:14",
        "is not decorated with @flow",
    ),
    Case(
        "a-task-not-a-flow",
        base(entrypoint="flows/etl.py:step"),
        "flows/etl.py:10",
        "it is a task",
    ),
    Case(
        "syntax-error-in-flow",
        base(entrypoint="flows/broken.py:f"),
        "flows/broken.py:5",
        "syntax error",
    ),
    Case(
        "deeply-nested-flow",
        base(entrypoint="flows/deep.py:f"),
        "flows/deep.py: ",
        "nests too deeply",
        deep_python,
        bounded=True,
    ),
    Case(
        "flow-name-with-slash",
        base(entrypoint="flows/named.py:g"),
        "flows/named.py:5",
        "invalid character",
    ),
    Case(
        "reserved-parameter",
        base(entrypoint="flows/reserved.py:r"),
        "flows/reserved.py:6",
        "'wait_for' is a reserved argument name",
    ),
    Case(
        "duplicate-deployment-name",
        BASE
        + "  - name: nightly\n    entrypoint: flows/etl.py:etl\n    work_pool: {name: demo-pool}\n",
        "prefect.yaml:6",
        "defined twice",
    ),
    # the server's side of the file
    Case(
        "unknown-work-pool",
        BASE.replace("name: demo-pool", "name: ghost-pool"),
        "prefect.yaml:5",
        "work pool 'ghost-pool'",
    ),
    Case(
        "queue-without-pool",
        "deployments:\n  - name: nightly\n    entrypoint: flows/etl.py:etl\n"
        "    work_pool:\n      work_queue_name: q\n",
        "prefect.yaml:4",
        "no work pool",
    ),
    Case(
        "unset-environment-variable",
        base("    parameters:\n      n: '{{ $FLOWDEPLOY_CORPUS_UNSET }}'\n"),
        "prefect.yaml:7",
        "environment variable FLOWDEPLOY_CORPUS_UNSET is not set",
    ),
    Case(
        "missing-prefect-variable",
        base("    parameters:\n      n: '{{ prefect.variables.nope }}'\n"),
        "prefect.yaml:7",
        "Prefect variable 'nope' does not exist",
    ),
    Case(
        "missing-block",
        base("    parameters:\n      n: '{{ prefect.blocks.secret.nope }}'\n"),
        "prefect.yaml:7",
        "does not exist",
    ),
    Case(
        "unresolvable-step-output",
        base("      job_variables:\n        image: '{{ build-image.image }}'\n"),
        "prefect.yaml:7",
        "step output",
    ),
]


# --- running ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(prefect_server: PrefectServer) -> Iterator[RecordingProxy]:
    """One recording proxy for the whole corpus: cases write nothing, so the server is reset
    once here, and again only after a case that wrote something."""
    reset_server_state(prefect_server.api_url)
    create_work_pool(prefect_server.api_url, POOL, "process")
    with RecordingProxy(prefect_server.api_url) as proxy:
        yield proxy


@pytest.fixture
def api(
    server: RecordingProxy, prefect_server: PrefectServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RecordingProxy]:
    for var in list(os.environ):
        if var.startswith(("GITHUB_", "PREFECT_API_KEY", "PREFECT_API_AUTH", "FLOWDEPLOY_")):
            monkeypatch.delenv(var)
    monkeypatch.setenv("PREFECT_API_URL", server.api_url)
    server.clear()
    yield server
    if server.writes():
        reset_server_state(prefect_server.api_url)
        create_work_pool(prefect_server.api_url, POOL, "process")


def make_repo(root: Path, case: Case) -> Path:
    repo = root / "repo"
    for name, text in FLOWS.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    if isinstance(case.prefect_yaml, bytes):
        (repo / "prefect.yaml").write_bytes(case.prefect_yaml)
    elif case.prefect_yaml is not None:
        (repo / "prefect.yaml").write_text(case.prefect_yaml)
    if case.setup is not None:
        case.setup(repo)
    return repo


CHILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1024**3, 1024**3))
from flowdeploy.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_cli(case: Case, repo: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    argv = ["apply", "--all", "--project-dir", str(repo), *case.args]
    if not case.bounded:
        code = main(argv)
        out, err = capsys.readouterr()
        return code, out + err
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *argv],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
        env=isolated_env(PREFECT_API_URL=os.environ["PREFECT_API_URL"]),
    )
    return done.returncode, done.stdout + done.stderr


def read_back(api_url: str) -> dict[str, list[object]]:
    with httpx.Client(base_url=api_url, timeout=30) as client:
        return {
            kind: client.post(f"/{kind}/filter", json={}).json()
            for kind in ("deployments", "flows")
        }


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_exits_2_and_writes_nothing(
    case: Case, api: RecordingProxy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path, case)
    code, output = run_cli(case, repo, capsys)
    assert code == 2, output
    assert "Traceback" not in output, output
    assert case.says in output, output
    assert case.where in output, output
    assert "\n  fix: " in output, output
    assert api.writes() == [], output
    assert read_back(api.api_url) == {"deployments": [], "flows": []}


def test_corpus_is_large_and_distinct() -> None:
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)


def test_the_base_repository_is_valid(
    api: RecordingProxy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each case fails for its own reason: without it, the repository plans cleanly."""
    repo = make_repo(tmp_path, Case("base", BASE, "", ""))
    code = main(["plan", "--all", "--project-dir", str(repo)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "nightly" in out
    assert api.writes() == []
