"""Real git repositories for tests: built with the git command, never mocked.

Every command runs with a fixed identity and without the user's or the system's git config,
so a test sees the same repository on every machine.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# None deletes the file; bytes are written as they are.
Files = Mapping[str, "str | bytes | None"]


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="Test",
        GIT_COMMITTER_EMAIL="test@example.com",
        GIT_TERMINAL_PROMPT="0",
    )
    return env


def run_git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=_environment(),
        check=check,
        capture_output=True,
        text=True,
    )


@dataclass(frozen=True)
class GitRepo:
    path: Path

    def git(self, *args: str) -> str:
        return run_git(self.path, *args).stdout.strip()

    def sha(self, rev: str = "HEAD") -> str:
        return self.git("rev-parse", "--verify", f"{rev}^{{commit}}")

    def write(self, files: Files) -> None:
        for name, content in files.items():
            target = self.path / name
            if content is None:
                self.git("rm", "-q", "--", name)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
            self.git("add", "--", name)

    def commit(self, files: Files | None = None, message: str = "change") -> str:
        """Write ``files`` (None deletes), stage them, commit; the new sha."""
        self.write(files or {})
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.sha()

    def empty_commits(self, count: int, label: str = "empty") -> str:
        """``count`` commits on the current branch that change nothing, made by one
        ``git fast-import`` (a long history in milliseconds); the new tip."""
        branch = self.git("symbolic-ref", "HEAD")
        stream = [f"reset {branch}", f"from {self.sha()}", ""]
        for number in range(count):
            message = f"{label} {number}".encode()
            stream += [
                f"commit {branch}",
                f"committer Test <test@example.com> {1_700_000_000 + number} +0000",
                f"data {len(message)}",
                message.decode(),
                "",
            ]
        subprocess.run(
            ["git", "fast-import", "--quiet"],
            cwd=self.path,
            env=_environment(),
            input="\n".join(stream) + "\n",
            text=True,
            check=True,
            capture_output=True,
        )
        return self.sha()

    def checkout(self, branch: str, *, new: bool = False, start: str | None = None) -> None:
        self.git("checkout", "-q", *(["-b"] if new else []), branch, *([start] if start else []))

    def merge(self, rev: str, message: str = "merge") -> str:
        self.git("merge", "-q", "--no-ff", "-m", message, rev)
        return self.sha()

    def push(self, *refspecs: str, force: bool = False) -> None:
        self.git("push", "-q", *(["--force"] if force else []), "origin", *refspecs)


def init_repo(path: Path, files: Files | None = None, branch: str = "main") -> GitRepo:
    """A new repository with one commit of ``files`` (a README when none are given)."""
    path.mkdir(parents=True)
    run_git(path, "init", "-q", "-b", branch)
    repo = GitRepo(path)
    repo.commit(files or {"README.md": "hello\n"}, message="initial")
    return repo


def make_origin(repo: GitRepo, path: Path) -> GitRepo:
    """A bare copy of ``repo`` that serves any sha, as GitHub does; added as ``origin``."""
    run_git(repo.path.parent, "clone", "-q", "--bare", str(repo.path), str(path))
    origin = GitRepo(path)
    origin.git("config", "uploadpack.allowAnySHA1InWant", "true")
    repo.git("remote", "add", "origin", str(path))
    repo.git("fetch", "-q", "origin")
    return origin


def clone(
    origin: GitRepo, path: Path, *, depth: int | None = None, branch: str | None = None
) -> GitRepo:
    """A clone of ``origin``; a file:// URL, because a plain path ignores --depth."""
    args = ["clone", "-q", "--no-tags"]
    args += [f"--depth={depth}"] if depth else []
    args += ["--branch", branch] if branch else []
    run_git(origin.path.parent, *args, origin.path.resolve().as_uri(), str(path))
    return GitRepo(path)


def checkout_like_actions(origin: GitRepo, path: Path, sha: str, ref: str | None = None) -> GitRepo:
    """What actions/checkout does by default: init, fetch the one commit with depth 1 (into the
    branch's remote-tracking ref when ``ref`` names one), check it out detached."""
    path.mkdir(parents=True)
    run_git(path, "init", "-q")
    repo = GitRepo(path)
    repo.git("remote", "add", "origin", origin.path.resolve().as_uri())
    target = f"+{sha}:refs/remotes/origin/{ref}" if ref else sha
    repo.git("fetch", "-q", "--no-tags", "--depth=1", "origin", target)
    repo.git("checkout", "-q", "--detach", sha)
    return repo


def is_shallow(repo: GitRepo) -> bool:
    return repo.git("rev-parse", "--is-shallow-repository") == "true"
