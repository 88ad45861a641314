"""The action's own image: built from the real Dockerfile (on a Debian base made here, from wheels
built on the host) and run the way GitHub's runner runs a Docker action.

The first build in a session is cold (each session has a fresh engine); building again must hit
the cache. Sizes and times are printed (`-s` shows them).
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import tarfile
import time
import uuid
from pathlib import Path

import pytest
import yaml

from support.actionimage import (
    REPO_ROOT,
    ActionImageError,
    BuiltImage,
    build_action_image,
    chown_tree,
    docker_cli,
    docker_cli_env,
    engine_socket,
    prepare_action_image,
    run_action,
    timings,
)
from support.docker import DockerEngine

pytestmark = pytest.mark.integration

VENV = "/opt/flowdeploy"
ENTRYPOINT = f"{VENV}/bin/flowdeploy-action"
WORKSPACE = "/github/workspace"


@pytest.fixture(scope="module")
def action_image(docker_engine: DockerEngine) -> BuiltImage:
    """The action image in the session's engine (base, wheels and a cold `docker build`)."""
    started = time.monotonic()
    failure: str | None = None
    try:
        built = prepare_action_image(docker_engine)
    except ActionImageError as exc:
        failure = str(exc)
    if failure is not None:
        pytest.fail(f"the action image could not be built:\n{failure}", pytrace=False)
    print(
        f"\naction image {built.tag}: {built.size / 1e6:.1f} MB, cold docker build "
        f"{built.build_seconds:.1f}s; base, wheels and build {time.monotonic() - started:.1f}s; "
        f"steps { ({name: round(value, 1) for name, value in timings.items()}) }"
    )
    return built


def _inspect(engine: DockerEngine, reference: str) -> dict[str, object]:
    done = docker_cli(engine, "image", "inspect", reference)
    assert done.returncode == 0, done.stderr
    found: list[dict[str, object]] = json.loads(done.stdout)
    return found[0]


def _config(engine: DockerEngine, reference: str) -> dict[str, object]:
    config = _inspect(engine, reference)["Config"]
    assert isinstance(config, dict)
    return config


def _run(
    engine: DockerEngine,
    image: str,
    entrypoint: str,
    *args: str,
    volumes: dict[Path, str] | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`docker run --rm --network none --workdir /github/workspace --entrypoint E IMAGE ARGS`."""
    options = ["run", "--rm", "--network", "none", "--workdir", WORKSPACE]
    for source, target in (volumes or {}).items():
        options += ["-v", f"{source}:{target}"]
    for key, value in (env or {}).items():
        options += ["-e", f"{key}={value}"]
    return docker_cli(engine, *options, "--entrypoint", entrypoint, image, *args)


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def _checkout(path: Path) -> str:
    """A repository with one commit at `path`; its HEAD sha."""
    path.mkdir(parents=True)
    _git(path, "init", "--quiet", "--initial-branch=main")
    (path / "prefect.yaml").write_text("deployments: []\n")
    _git(path, "add", "prefect.yaml")
    _git(
        path,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.invalid",
        "commit",
        "--quiet",
        "-m",
        "one",
    )
    return _git(path, "rev-parse", "HEAD")


@pytest.fixture
def runner_workspace(tmp_path: Path) -> tuple[Path, str, str]:
    """A checkout owned by the runner's uid 1001 (as on GitHub), with a second checkout inside
    it (`actions/checkout` with `path: nested`): (workspace, its HEAD, the nested HEAD)."""
    workspace = tmp_path / "workspace"
    head = _checkout(workspace)
    nested = _checkout(workspace / "nested")
    chown_tree(workspace)
    assert workspace.stat().st_uid == 1001
    assert (workspace / ".git" / "HEAD").stat().st_uid == 1001
    return workspace, head, nested


def test_entrypoint_is_the_absolute_console_script_in_exec_form(
    docker_engine: DockerEngine, action_image: BuiltImage
) -> None:
    config = _config(docker_engine, action_image.tag)
    # exec form: the runner appends the action's args to it; no shell in between
    assert config["Entrypoint"] == [ENTRYPOINT]
    # the base's CMD (bash here, python3 in python:3.12-slim) must not become an argument
    assert not config["Cmd"]
    done = _run(
        docker_engine,
        action_image.tag,
        "sh",
        "-c",
        f"test -x {ENTRYPOINT} && head -n 1 {ENTRYPOINT}",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in (f"#!{VENV}/bin/python", f"#!{VENV}/bin/python3")


def test_environment_and_labels(docker_engine: DockerEngine, action_image: BuiltImage) -> None:
    config = _config(docker_engine, action_image.tag)
    env = config["Env"]
    assert isinstance(env, list)
    for setting in ("PYTHONSAFEPATH=1", "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1"):
        assert setting in env
    labels = config["Labels"]
    assert isinstance(labels, dict)
    assert str(labels.get("org.opencontainers.image.source", "")).startswith("https://github.com/")
    assert "Prefect" in str(labels.get("org.opencontainers.image.description", ""))


def test_only_runtime_dependencies_are_installed(
    docker_engine: DockerEngine, action_image: BuiltImage
) -> None:
    probe = (
        "import importlib.util, json; "
        "names = ['flowdeploy', 'pydantic', 'pydantic_core', 'httpx', 'docker', 'git', 'yaml', "
        "'rich', 'croniter', 'dateutil', 'pathspec', 'prefect', 'pip', 'setuptools']; "
        "print(json.dumps({n: importlib.util.find_spec(n) is not None for n in names}))"
    )
    done = _run(docker_engine, action_image.tag, f"{VENV}/bin/python", "-c", probe)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    missing = [name for name, present in found.items() if not present]
    # GitPython ('git') is not a dependency: flowdeploy runs the git binary itself
    assert sorted(missing) == ["git", "pip", "prefect", "setuptools"], found
    # the compiled dependencies load (the host-built wheels fit the image's Python)
    done = _run(
        docker_engine,
        action_image.tag,
        f"{VENV}/bin/python",
        "-c",
        "import pydantic_core, yaml, flowdeploy.action; print(yaml.__with_libyaml__)",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"


def test_no_compiler_in_the_image(docker_engine: DockerEngine, action_image: BuiltImage) -> None:
    done = _run(
        docker_engine,
        action_image.tag,
        "sh",
        "-c",
        'for tool in gcc cc c++ g++ clang tcc cpp ld make git; do command -v "$tool"; done',
    )
    found = done.stdout.split()
    # git is the control: `command -v` does find what is there
    assert found == ["/usr/bin/git"], found


def test_git_works_on_a_workspace_the_runner_owns(
    docker_engine: DockerEngine,
    action_image: BuiltImage,
    runner_workspace: tuple[Path, str, str],
) -> None:
    workspace, head, nested = runner_workspace
    volumes = {workspace: WORKSPACE}
    for where, sha in ((WORKSPACE, head), (f"{WORKSPACE}/nested", nested)):
        done = _run(
            docker_engine,
            action_image.tag,
            "git",
            "-C",
            where,
            "rev-parse",
            "HEAD",
            volumes=volumes,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == sha
    # The control: without the image's system safe.directory, git refuses the same checkout.
    done = _run(
        docker_engine,
        action_image.base,
        "git",
        "-C",
        WORKSPACE,
        "rev-parse",
        "HEAD",
        volumes=volumes,
    )
    assert done.returncode != 0
    assert "dubious ownership" in done.stderr


def test_the_checkout_cannot_shadow_a_dependency(
    docker_engine: DockerEngine, action_image: BuiltImage, tmp_path: Path
) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    for module in ("docker", "yaml", "httpx"):
        (workspace / f"{module}.py").write_text("raise SystemExit('shadowed by the checkout')\n")
    probe = "import sys, docker, yaml, httpx; print(sys.flags.safe_path, docker.__file__)"
    python = f"{VENV}/bin/python"
    done = _run(
        docker_engine, action_image.tag, python, "-c", probe, volumes={workspace: WORKSPACE}
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "True",
        f"{VENV}/lib/python3.11/site-packages/docker/__init__.py",
    ]
    # The control: with PYTHONSAFEPATH unset the working directory comes first.
    done = _run(
        docker_engine,
        action_image.tag,
        python,
        "-c",
        probe,
        volumes={workspace: WORKSPACE},
        env={"PYTHONSAFEPATH": ""},
    )
    assert done.returncode != 0
    assert "shadowed by the checkout" in done.stderr


def test_run_action_gives_the_container_what_the_runner_gives(
    docker_engine: DockerEngine,
    action_image: BuiltImage,
    runner_workspace: tuple[Path, str, str],
    tmp_path: Path,
) -> None:
    workspace, head, _ = runner_workspace
    script = (
        "set -e\n"
        'echo "pwd=$PWD home=$HOME actions=$GITHUB_ACTIONS ci=$CI input=$INPUT_MODE"\n'
        'echo "runner_temp=$RUNNER_TEMP"\n'
        'cat "$GITHUB_EVENT_PATH"; echo\n'
        'echo "created=1" >> "$GITHUB_OUTPUT"\n'
        'echo "### Plan" >> "$GITHUB_STEP_SUMMARY"\n'
        "test -S /var/run/docker.sock\n"
        "git rev-parse HEAD\n"
        # docker-py finds the engine through the mounted socket, as flowdeploy's image build does
        f"{VENV}/bin/python -c 'import docker; c = docker.from_env(); "
        f'print(c.ping(), bool(c.images.list(name="{action_image.tag.split(":")[0]}")))\'\n'
        "echo 'to stderr' >&2\n"
    )
    runner_temp = tmp_path / "_temp"
    result = run_action(
        docker_engine,
        action_image.tag,
        workspace=workspace,
        env={
            "GITHUB_EVENT_NAME": "push",
            "GITHUB_SHA": head,
            "GITHUB_REF": "refs/heads/main",
            "GITHUB_REPOSITORY": "org/flows",
            "INPUT_MODE": "plan",
        },
        event={"after": head, "ref": "refs/heads/main"},
        runner_temp=runner_temp,
        entrypoint="sh",
        args=["-c", script],
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "pwd=/github/workspace home=/github/home actions=true ci=true input=plan"
    # the runner passes RUNNER_TEMP untranslated: a host path that the container does not have
    assert lines[1] == f"runner_temp={runner_temp}"
    assert json.loads(lines[2]) == {"after": head, "ref": "refs/heads/main"}
    assert lines[3] == head
    assert lines[4] == "True True"
    assert result.stderr.strip().endswith("to stderr")
    assert result.output_file_text == "created=1\n"
    assert result.summary_text == "### Plan\n"
    assert "--rm" in result.command
    assert f"{engine_socket(docker_engine)}:/var/run/docker.sock" in result.command
    # --rm: nothing is left behind
    left = docker_cli(
        docker_engine, "ps", "--all", "--quiet", "--filter", "label=flowdeploy-test-action"
    )
    assert left.returncode == 0 and left.stdout.strip() == ""


def test_dashed_input_names_reach_an_exec_form_entrypoint(
    docker_engine: DockerEngine,
    action_image: BuiltImage,
    tmp_path: Path,
) -> None:
    """GitHub keeps the dashes of input names (INPUT_COMMENT-ON-PR): no shell variable name.
    The docker CLI passes them and Python sees them; Debian's sh (dash) drops them from the
    environment of what it runs, so a shell between the runner and flowdeploy would lose them."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    show = "import os; print(os.environ.get('INPUT_COMMENT-ON-PR'))"
    seen = {}
    for entrypoint, args in (
        (f"{VENV}/bin/python", ["-c", show]),
        ("sh", ["-c", f'exec {VENV}/bin/python -c "{show}"']),
    ):
        result = run_action(
            docker_engine,
            action_image.tag,
            workspace=workspace,
            env={"INPUT_COMMENT-ON-PR": "false", "GITHUB_EVENT_NAME": "push"},
            event=None,
            runner_temp=tmp_path / entrypoint.rsplit("/", 1)[-1],
            network="none",
            entrypoint=entrypoint,
            args=args,
        )
        assert result.exit_code == 0, result.stderr
        seen[entrypoint] = result.stdout.strip()
    assert seen == {f"{VENV}/bin/python": "false", "sh": "None"}


def test_the_entrypoint_runs_the_action(
    docker_engine: DockerEngine,
    action_image: BuiltImage,
    runner_workspace: tuple[Path, str, str],
    tmp_path: Path,
) -> None:
    """The real entrypoint with the runner's contract, in the one mode that needs no service:
    plan without a Prefect server (a fork's pull request). It writes every output action.yml
    declares, and the job summary."""
    workspace, head, _ = runner_workspace
    result = run_action(
        docker_engine,
        action_image.tag,
        workspace=workspace,
        env={
            "GITHUB_EVENT_NAME": "push",
            "GITHUB_SHA": head,
            "GITHUB_REF": "refs/heads/main",
            "GITHUB_REPOSITORY": "org/flows",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_API_URL": "http://127.0.0.1:9",
            "GITHUB_RUN_ID": "1",
            "INPUT_MODE": "plan",
        },
        event={"after": head, "ref": "refs/heads/main"},
        runner_temp=tmp_path / "_temp",
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.exit_code == 0, output
    for failure in ("Traceback", "ModuleNotFoundError", "exec format error"):
        assert failure not in output, output
    declared = yaml.safe_load((REPO_ROOT / "action.yml").read_text())["outputs"]
    assert declared
    for name in declared:
        assert f"\n{name}<<" in f"\n{result.output_file_text}" or (
            f"\n{name}=" in f"\n{result.output_file_text}"
        ), f"output {name} not written:\n{result.output_file_text}"
    assert result.summary_text.strip(), "no job summary"


def test_dockerignore_keeps_the_context_to_the_package_sources(
    docker_engine: DockerEngine,
) -> None:
    """GitHub builds the Dockerfile with the whole action checkout as the context: what does
    `COPY . /src/` get of this very repository (its .venv, .git, tests, caches, egg-info)?"""
    tag = "local/flowdeploy-context:test"
    with docker_cli_env(docker_engine) as env:
        built = subprocess.run(
            ["docker", "build", "--tag", tag, "--file", "-", str(REPO_ROOT)],
            input="FROM scratch\nCOPY . /src/\n",
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert built.returncode == 0, built.stdout + built.stderr
        name = f"context-{uuid.uuid4().hex[:12]}"
        created = subprocess.run(
            ["docker", "create", "--name", name, tag, "/none"], env=env, capture_output=True
        )
        assert created.returncode == 0, created.stderr
        try:
            exported = subprocess.run(
                ["docker", "export", name], env=env, capture_output=True, check=True
            ).stdout
        finally:
            subprocess.run(["docker", "rm", "--force", name], env=env, capture_output=True)
    with tarfile.open(fileobj=io.BytesIO(exported)) as tar:
        files = {
            member.name.removeprefix("src/")
            for member in tar.getmembers()
            if member.isfile() and member.name.startswith("src/")
        }
    assert {"pyproject.toml", "README.md", "src/flowdeploy/action.py"} <= files, files
    strays = sorted(
        name
        for name in files
        if not (name in ("pyproject.toml", "README.md") or name.startswith("src/"))
        or "__pycache__" in name
        or ".egg-info" in name
    )
    assert strays == []
    sent = re.search(r"Sending build context to Docker daemon\s+([0-9.]+)([kMG]?B)", built.stdout)
    assert sent is not None, built.stdout
    print(f"\nbuild context of the repository: {sent.group(1)} {sent.group(2)}, {len(files)} files")


def test_a_rebuild_hits_the_build_cache(
    docker_engine: DockerEngine, action_image: BuiltImage
) -> None:
    tag, warm, size = build_action_image(
        docker_engine, REPO_ROOT, action_image.base, action_image.wheels
    )
    assert _inspect(docker_engine, tag)["Id"] == action_image.image_id
    assert size == action_image.size
    base_size = _inspect(docker_engine, action_image.base)["Size"]
    assert isinstance(base_size, int)
    added = size - base_size
    print(
        f"\naction image {tag}: {size / 1e6:.1f} MB ({added / 1e6:.1f} MB over the base); "
        f"docker build cold {action_image.build_seconds:.1f}s, warm {warm:.1f}s"
    )
    assert warm < action_image.build_seconds
    # flowdeploy and its dependencies: tens of MB. A compiler or Prefect would be far more.
    assert added < 80e6
