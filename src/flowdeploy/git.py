"""The only module that talks to git (through GitPython)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import git

# (sha, branch, repository) variables of the CI systems Prefect recognises, in its order.
CI_VERSION_VARIABLES = (
    ("GITHUB_SHA", "GITHUB_REF_NAME", "GITHUB_REPOSITORY"),
    ("CI_COMMIT_SHA", "CI_COMMIT_REF_NAME", "CI_PROJECT_NAME"),
    ("BITBUCKET_COMMIT", "BITBUCKET_BRANCH", "BITBUCKET_REPO_SLUG"),
    ("BUILD_SOURCEVERSION", "BUILD_SOURCEBRANCHNAME", "BUILD_REPOSITORY_NAME"),
)


def _repo(path: Path) -> git.Repo | None:
    try:
        return git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None


def repo_root(path: Path) -> Path | None:
    """The working tree that holds ``path``, or None outside a git repository."""
    repo = _repo(path)
    return Path(repo.working_tree_dir) if repo is not None and repo.working_tree_dir else None


def inferred_version(path: Path, environ: Mapping[str, str]) -> str | None:
    """The version ``prefect deploy`` infers when prefect.yaml gives none.

    Prefect 3 takes the commit from the CI's variables (GitHub, GitLab, Bitbucket, Azure
    DevOps), else from git when the repository has an ``origin`` remote, and uses its
    first 8 characters; without either it keeps the flow's own version.
    """
    repo = _repo(path)
    if repo is None:
        return None
    try:
        head = repo.head.commit
    except ValueError:  # no commit yet
        return None
    for sha_var, branch_var, repo_var in CI_VERSION_VARIABLES:
        sha = environ.get(sha_var)
        if sha and environ.get(branch_var) and environ.get(repo_var):
            return sha[:8]
    try:
        origin = repo.remote("origin").url
    except ValueError:
        return None
    return head.hexsha[:8] if origin else None
