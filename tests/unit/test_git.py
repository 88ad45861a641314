"""git.py against real repositories built in tmp dirs."""

import subprocess
from pathlib import Path

from flowdeploy.git import inferred_version, repo_root


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.email=t@x", "-c", "user.name=t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def make_repo(path: Path) -> str:
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "sub").mkdir()
    (path / "sub" / "prefect.yaml").write_text("deployments: []\n")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "first")
    return git(path, "rev-parse", "HEAD")


def test_no_remote_and_no_ci_keeps_the_flow_version(tmp_path: Path) -> None:
    make_repo(tmp_path / "r")
    assert inferred_version(repo_root(tmp_path / "r" / "sub"), {}) is None


def test_origin_remote_gives_the_short_commit(tmp_path: Path) -> None:
    sha = make_repo(tmp_path / "r")
    git(tmp_path / "r", "remote", "add", "origin", "https://example.com/team/flows.git")
    assert inferred_version(repo_root(tmp_path / "r" / "sub"), {}) == sha[:8]


def test_github_variables_win(tmp_path: Path) -> None:
    make_repo(tmp_path / "r")
    env = {
        "GITHUB_SHA": "0123456789abcdef",
        "GITHUB_REF_NAME": "main",
        "GITHUB_REPOSITORY": "team/flows",
    }
    assert inferred_version(repo_root(tmp_path / "r"), env) == "01234567"
    # All three are needed, as in Prefect; a partial set falls through to git.
    assert inferred_version(repo_root(tmp_path / "r"), {"GITHUB_SHA": "0123456789"}) is None


def test_outside_a_repository_and_before_the_first_commit(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    assert inferred_version(repo_root(tmp_path / "plain"), {"GITHUB_SHA": "x" * 40}) is None
    assert repo_root(tmp_path / "plain") is None
    (tmp_path / "empty").mkdir()
    git(tmp_path / "empty", "init", "-q")
    assert inferred_version(repo_root(tmp_path / "empty"), {}) is None
    sha_repo = tmp_path / "r"
    make_repo(sha_repo)
    assert repo_root(sha_repo / "sub") == sha_repo
