"""GitHub workflow runs, staged for real: an origin repository, the checkout
actions/checkout makes (depth 1, detached at the SHA), the event JSON the runner writes, and
the GITHUB_* / INPUT_* environment it sets. Used by the in-process action tests and by the
container end-to-end tests alike.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.gitrepo import run_git

REPOSITORY = "org/flows"
FLOW = (
    "from prefect import flow\n\n\n@flow\n"
    'def {name}(n: int = 1) -> int:\n    """{doc}"""\n    return n\n'
)

PREFECT_YAML = """\
build:
- prefect_docker.deployments.steps.build_docker_image:
    id: build-image
    image_name: {registry}/team/flows
    tag: latest
    dockerfile: Dockerfile
    pull: false
    network_mode: none
push:
- prefect_docker.deployments.steps.push_docker_image:
    image_name: "{{{{ build-image.image_name }}}}"
    tag: "{{{{ build-image.tag }}}}"
deployments:
- name: boxed
  entrypoint: flows/a.py:a
  schedules:
  - cron: "0 2 * * *"
    timezone: Europe/Berlin
  work_pool:
    name: docker-pool
    job_variables:
      image: "{{{{ build-image.image }}}}"
- name: boxed-too
  entrypoint: flows/b.py:b
  work_pool:
    name: docker-pool
    job_variables:
      image: "{{{{ build-image.image }}}}"
- name: local
  entrypoint: flows/c.py:c
  build: []
  parameters: {{n: 1}}
  work_pool:
    name: process-pool
"""


@dataclass
class Origin:
    """A bare "GitHub" repository and a clone to make commits in."""

    bare: Path
    work: Path

    def commit(self, files: dict[str, str], message: str, branch: str = "main") -> str:
        """Commit on the checked-out branch of the work clone and push it as ``branch``."""
        for name, text in files.items():
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        run_git(self.work, "add", "-A")
        run_git(self.work, "commit", "-q", "-m", message)
        sha = run_git(self.work, "rev-parse", "HEAD").stdout.strip()
        run_git(self.work, "push", "-q", "-f", "origin", f"HEAD:refs/heads/{branch}")
        return sha

    def branch_from(self, name: str, sha: str) -> None:
        run_git(self.work, "checkout", "-q", "-B", name, sha)

    def checkout(self, sha: str, dest: Path) -> Path:
        """What actions/checkout@v4 does by default: a depth-1 fetch of the SHA into a new
        repository, detached, with `origin` pointing at the repository."""
        dest.mkdir(parents=True)
        run_git(dest, "init", "-q")
        run_git(dest, "remote", "add", "origin", self.bare.as_uri())
        run_git(dest, "fetch", "-q", "--no-tags", "--depth=1", "origin", sha)
        run_git(dest, "checkout", "-q", "--detach", "FETCH_HEAD")
        return dest


def make_origin(root: Path) -> Origin:
    bare = root / "origin.git"
    run_git(root, "init", "-q", "--bare", "-b", "main", str(bare))
    run_git(bare, "config", "uploadpack.allowAnySHA1InWant", "true")
    work = root / "work"
    work.mkdir()
    run_git(work, "init", "-q", "-b", "main")
    run_git(work, "remote", "add", "origin", bare.as_uri())
    return Origin(bare, work)


def initial_files(registry_address: str) -> dict[str, str]:
    files = {f"flows/{n}.py": FLOW.format(name=n, doc=f"Flow {n}.") for n in "abc"}
    files["prefect.yaml"] = PREFECT_YAML.format(registry=registry_address)
    files["Dockerfile"] = "FROM scratch\nCOPY flows /flows\n"
    files["README.md"] = "# flows\n"
    return files


def push_event(before: str, after: str, branch: str = "main") -> dict[str, Any]:
    return {
        "ref": f"refs/heads/{branch}",
        "before": before,
        "after": after,
        "created": False,
        "deleted": False,
        "forced": False,
        "repository": {"full_name": REPOSITORY, "default_branch": "main"},
    }


def pull_request_event(
    number: int, base: str, head: str, head_ref: str = "feature", *, fork: bool = False
) -> dict[str, Any]:
    head_repo = "someone/flows" if fork else REPOSITORY
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "base": {"sha": base, "ref": "main", "repo": {"full_name": REPOSITORY}},
            "head": {
                "sha": head,
                "ref": head_ref,
                "repo": {"full_name": head_repo, "fork": fork},
            },
        },
        "repository": {"full_name": REPOSITORY, "default_branch": "main"},
    }


@dataclass
class Run:
    """One step run: the files the runner provides and the environment it sets."""

    temp: Path
    event_name: str
    event: dict[str, Any]
    sha: str
    ref: str
    inputs: dict[str, str]
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.id = uuid.uuid4().hex
        self.temp.mkdir(parents=True, exist_ok=True)
        self.event_path.write_text(json.dumps(self.event))
        self.output_path.touch()
        self.summary_path.touch()

    @property
    def event_path(self) -> Path:
        return self.temp / "event.json"

    @property
    def output_path(self) -> Path:
        return self.temp / f"set_output_{self.id}"

    @property
    def summary_path(self) -> Path:
        return self.temp / f"step_summary_{self.id}"

    def environ(self, workspace: Path, *, paths: dict[str, str] | None = None) -> dict[str, str]:
        """GITHUB_* and INPUT_* as the runner sets them (``paths`` overrides where the
        files are, for a container that sees them elsewhere)."""
        env = {
            "GITHUB_ACTIONS": "true",
            "CI": "true",
            "GITHUB_EVENT_NAME": self.event_name,
            "GITHUB_EVENT_PATH": str(self.event_path),
            "GITHUB_OUTPUT": str(self.output_path),
            "GITHUB_STEP_SUMMARY": str(self.summary_path),
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_SHA": self.sha,
            "GITHUB_REF": self.ref,
            "GITHUB_REPOSITORY": REPOSITORY,
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_RUN_ID": "1234",
            "GITHUB_WORKFLOW_REF": f"{REPOSITORY}/.github/workflows/deploy.yml@{self.ref}",
            **{f"INPUT_{k.upper()}": v for k, v in self.inputs.items()},
            **self.extra,
        }
        env.update(paths or {})
        return env

    def outputs(self) -> dict[str, str]:
        return parse_outputs(self.output_path.read_text())

    def summary(self) -> str:
        return self.summary_path.read_text()


def parse_outputs(text: str) -> dict[str, str]:
    """A GITHUB_OUTPUT file read as the runner reads it (``name=value`` lines and
    ``name<<DELIM`` heredocs)."""
    found: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line:
            name, delim = line.split("<<", 1)
            value = []
            i += 1
            while lines[i] != delim:
                value.append(lines[i])
                i += 1
            found[name] = "\n".join(value)
        elif "=" in line:
            name, value_text = line.split("=", 1)
            found[name] = value_text
        i += 1
    return found
