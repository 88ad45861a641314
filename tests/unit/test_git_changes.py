"""git.py's change detection and commit resolution, against real repositories in tmp dirs."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from flowdeploy.errors import ConfigError
from flowdeploy.git import (
    ChangeSet,
    Comparison,
    FileChange,
    _git_environment,
    changed_files,
    export_tree,
    read_file_at,
    resolve_comparison,
)
from flowdeploy.github import RangeRequest, load_event, range_request
from support.gitrepo import (
    GitRepo,
    checkout_like_actions,
    clone,
    init_repo,
    is_shallow,
    make_origin,
    run_git,
)

ZEROS = "0" * 40
# Twenty distinct lines: enough content for git's similarity index to see renames and copies.
BODY = "".join(f"line {n} of a flow that is long enough to compare\n" for n in range(20))


def by_path(changes: ChangeSet) -> dict[str, FileChange]:
    return {change.path: change for change in changes.changes}


def changes(repo: GitRepo, base: str, head: str = "HEAD") -> dict[str, FileChange]:
    return by_path(changed_files(repo.path, base, head))


# --- changed_files ---------------------------------------------------------------------------


def test_added_modified_and_deleted(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "r", {"flows/a.py": "a = 1\n", "flows/b.py": "b = 1\n"})
    base = repo.sha()
    repo.commit({"flows/a.py": "a = 2\n", "flows/b.py": None, "flows/c.py": "c = 1\n"})
    found = changed_files(repo.path, base, "HEAD")
    assert (found.base, found.head) == (base, repo.sha())
    assert by_path(found) == {
        "flows/a.py": FileChange(status="modified", path="flows/a.py"),
        "flows/b.py": FileChange(status="deleted", path="flows/b.py"),
        "flows/c.py": FileChange(status="added", path="flows/c.py"),
    }


def test_rename_with_an_edit_keeps_the_old_path(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "r", {"flows/old.py": BODY})
    base = repo.sha()
    repo.commit({"flows/old.py": None, "flows/new.py": BODY + "one more line\n"})
    found = changed_files(repo.path, base, "HEAD")
    assert found.changes == (
        FileChange(status="renamed", path="flows/new.py", old_path="flows/old.py"),
    )
    assert found.paths == {"flows/new.py", "flows/old.py"}


def test_copy_of_a_file_that_also_changed(tmp_path: Path) -> None:
    # Plain -C finds copies among the files the range modified (not --find-copies-harder).
    repo = init_repo(tmp_path / "r", {"flows/etl.py": BODY})
    base = repo.sha()
    repo.commit({"flows/etl.py": BODY + "# edited\n", "flows/etl_copy.py": BODY})
    assert changes(repo, base)["flows/etl_copy.py"] == FileChange(
        status="copied", path="flows/etl_copy.py", old_path="flows/etl.py"
    )
    found = changed_files(repo.path, base, "HEAD")
    assert by_path(found)["flows/etl.py"].status == "modified"
    assert found.paths == {"flows/etl.py", "flows/etl_copy.py"}


def test_chmod_only_is_modified(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "r", {"run.sh": "echo hi\n"})
    base = repo.sha()
    repo.git("update-index", "--chmod=+x", "run.sh")
    repo.commit()
    assert changes(repo, base) == {"run.sh": FileChange(status="modified", path="run.sh")}


@pytest.mark.parametrize(
    "name",
    [
        "flows/with space.py",
        "flows/dé jà.py",
        "flows/tab\there.py",
        "flows/new\nline.py",
        'q"uote.py',
    ],
)
def test_unusual_paths_round_trip(tmp_path: Path, name: str) -> None:
    repo = init_repo(tmp_path / "r")
    base = repo.sha()
    repo.commit({name: BODY})
    assert changes(repo, base) == {name: FileChange(status="added", path=name)}
    renamed = name.replace(".py", " (2).py")
    repo.commit({name: None, renamed: BODY})
    moved = changed_files(repo.path, "HEAD~1", "HEAD")
    assert moved.changes == (FileChange(status="renamed", path=renamed, old_path=name),)
    assert read_file_at(repo.path, "HEAD~1", name) == BODY.encode()


def test_submodule_pointer_changes_are_marked(tmp_path: Path) -> None:
    library = init_repo(tmp_path / "lib", {"lib.py": "x = 1\n"})
    repo = init_repo(tmp_path / "r")
    base = repo.sha()
    repo.git(
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        str(library.path),
        "vendor/lib",
    )
    repo.commit()
    added = changes(repo, base)
    assert added["vendor/lib"] == FileChange(status="added", path="vendor/lib", submodule=True)
    assert added[".gitmodules"].submodule is False
    moved_from = repo.sha()
    library.commit({"lib.py": "x = 2\n"})
    inner = GitRepo(repo.path / "vendor/lib")
    inner.git("pull", "-q", "origin", "main")
    repo.git("add", "vendor/lib")
    repo.commit()
    assert changes(repo, moved_from) == {
        "vendor/lib": FileChange(status="modified", path="vendor/lib", submodule=True)
    }


def test_symlink_replaced_by_a_file_is_a_type_change(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "r", {"config/real.yaml": "a: 1\n"})
    (repo.path / "config/link.yaml").symlink_to("real.yaml")
    repo.git("add", "config/link.yaml")
    base = repo.commit()
    (repo.path / "config/link.yaml").unlink()
    repo.commit({"config/link.yaml": "a: 2\n"})
    assert changes(repo, base) == {
        "config/link.yaml": FileChange(status="type-changed", path="config/link.yaml")
    }


def test_same_commit_is_an_empty_change_set(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "r")
    assert changed_files(repo.path, "HEAD", repo.sha()).changes == ()


def test_unknown_revision_and_no_repository_are_config_errors(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "r")
    with pytest.raises(ConfigError, match="'nope' is not a commit"):
        changed_files(repo.path, "nope", "HEAD")
    (tmp_path / "plain").mkdir()
    with pytest.raises(ConfigError, match="not in a git repository"):
        changed_files(tmp_path / "plain", "HEAD", "HEAD")
    with pytest.raises(ConfigError, match="not in a git repository"):
        resolve_comparison(tmp_path / "missing", RangeRequest(kind="everything", reason="x"))


# --- the environment git runs in ---------------------------------------------------------------


def test_inherited_git_variables_do_not_redirect_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = init_repo(tmp_path / "other", {"other.py": "x\n"})
    repo = init_repo(tmp_path / "r")
    base = repo.sha()
    repo.commit({"mine.py": "y\n"})
    # What a git hook or a wrapper leaves behind: all of it points at the other repository.
    monkeypatch.setenv("GIT_DIR", str(other.path / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other.path))
    monkeypatch.setenv("GIT_INDEX_FILE", str(other.path / ".git/index"))
    monkeypatch.setenv("GIT_OBJECT_DIRECTORY", str(other.path / ".git/objects"))
    assert set(changes(repo, base)) == {"mine.py"}
    assert read_file_at(repo.path, "HEAD", "mine.py") == b"y\n"


def test_environment_keeps_the_callers_command_config_and_adds_safe_directory() -> None:
    env = _git_environment(
        {
            "PATH": "/bin",
            "GIT_DIR": "/elsewhere",
            "GIT_CONFIG_PARAMETERS": "'core.worktree=/elsewhere'",
            "GIT_SSH_COMMAND": "ssh -i key",
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraheader",
            "GIT_CONFIG_VALUE_0": "AUTHORIZATION: basic xyz",
        }
    )
    assert env == {
        "PATH": "/bin",
        "GIT_SSH_COMMAND": "ssh -i key",
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_0": "http.extraheader",
        "GIT_CONFIG_VALUE_0": "AUTHORIZATION: basic xyz",
        "GIT_CONFIG_KEY_1": "safe.directory",
        "GIT_CONFIG_VALUE_1": "*",
        "GIT_TERMINAL_PROMPT": "0",
    }
    # A malformed set would make git refuse every command; it is dropped instead.
    broken = _git_environment({"GIT_CONFIG_COUNT": "2", "GIT_CONFIG_KEY_0": "a.b"})
    assert broken["GIT_CONFIG_COUNT"] == "1" and broken["GIT_CONFIG_KEY_0"] == "safe.directory"


def test_a_workspace_owned_by_another_user_is_read(tmp_path: Path) -> None:
    # The action's container runs as root on a workspace the runner's uid owns.
    if os.geteuid() != 0:
        # A failure, not a skip: the suite runs as root anyway (dockerd needs it).
        pytest.fail("this test chowns files: run the test suite as root", pytrace=False)
    repo = init_repo(tmp_path / "r", {"a.py": "1\n"})
    base = repo.sha()
    repo.commit({"a.py": "2\n"})
    for path in [repo.path, *repo.path.rglob("*")]:
        os.lchown(path, 4321, 4321)
    refused = run_git(repo.path, "rev-parse", "HEAD", check=False)
    assert refused.returncode != 0 and "dubious ownership" in refused.stderr
    assert set(changes(repo, base)) == {"a.py"}


# --- reading trees -----------------------------------------------------------------------------


def test_read_file_at(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "r", {"prefect.yaml": "deployments: []\n\n", "a*.py": "star\n"})
    first = repo.sha()
    repo.commit({"prefect.yaml": None, "sub/x.py": b"\x00\xffbinary"})
    assert read_file_at(repo.path, first, "prefect.yaml") == b"deployments: []\n\n"
    assert read_file_at(repo.path, "HEAD", "prefect.yaml") is None
    assert read_file_at(repo.path, "HEAD", "./sub/x.py") == b"\x00\xffbinary"
    assert read_file_at(repo.path, "HEAD", "sub") is None  # a directory is not a file
    # Names are literal, not patterns.
    assert read_file_at(repo.path, "HEAD", "a*.py") == b"star\n"
    assert read_file_at(repo.path, "HEAD", "a?.py") is None
    with pytest.raises(ValueError):
        read_file_at(repo.path, "HEAD", "../outside")


def test_export_tree_writes_the_commit_exactly(tmp_path: Path) -> None:
    repo = init_repo(
        tmp_path / "r",
        {
            "flows/dé jà.py": "flow = 1\n",
            "flows/run.sh": "#!/bin/sh\n",
            "docs/index.md": "docs\n",
            # git archive would drop this file and rewrite the next one; an export must not.
            ".gitattributes": "docs/* export-ignore\nflows/subst.txt export-subst\n",
            "flows/subst.txt": "$Format:%H$\n",
        },
    )
    repo.git("update-index", "--chmod=+x", "flows/run.sh")
    (repo.path / "flows/link.py").symlink_to("dé jà.py")
    repo.git("add", "flows/link.py")
    sha = repo.commit()
    repo.commit({"flows/dé jà.py": "flow = 2\n", "later.py": "x\n"})

    export_tree(repo.path, sha, tmp_path / "out")
    out = tmp_path / "out"
    assert (out / "flows/dé jà.py").read_text() == "flow = 1\n"
    assert (out / "docs/index.md").read_text() == "docs\n"
    assert (out / "flows/subst.txt").read_text() == "$Format:%H$\n"
    assert os.access(out / "flows/run.sh", os.X_OK)
    assert os.readlink(out / "flows/link.py") == "dé jà.py"
    assert not (out / "later.py").exists()

    export_tree(repo.path, "HEAD", tmp_path / "part", "flows")
    files = {p.relative_to(tmp_path / "part").as_posix() for p in (tmp_path / "part").rglob("*")}
    assert files == {"flows", "flows/dé jà.py", "flows/run.sh", "flows/link.py", "flows/subst.txt"}
    assert (tmp_path / "part/flows/dé jà.py").read_text() == "flow = 2\n"


# --- resolve_comparison: explicit ranges -------------------------------------------------------


def explicit(base: str, head: str | None = None) -> RangeRequest:
    request = range_request(base=base, head=head, event_name=None, event=None, sha=None)
    assert request is not None
    return request


def test_explicit_parent(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "r")
    parent = repo.sha()
    head = repo.commit({"flows/a.py": "1\n"})
    found = resolve_comparison(repo.path, explicit("HEAD~1"))
    assert (found.base, found.head, found.warnings) == (parent, head, ())
    assert set(changes(repo, parent, head)) == {"flows/a.py"}


def test_explicit_branch_compares_from_the_merge_base(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "r")
    fork = repo.sha()
    repo.checkout("feature", new=True)
    feature = repo.commit({"flows/feature.py": "f\n"})
    repo.checkout("main")
    main = repo.commit({"flows/main_only.py": "m\n"})
    repo.checkout("feature")
    found = resolve_comparison(repo.path, explicit("main", "feature"))
    assert found == Comparison(
        base=fork,
        head=feature,
        note=f"--base main --head feature: {fork[:7]}..{feature[:7]} (merge-base with {main[:7]})",
    )
    assert set(changes(repo, fork, feature)) == {"flows/feature.py"}
    # with main checked out, the files on disk are not feature's: say so
    repo.checkout("main")
    found = resolve_comparison(repo.path, explicit("main", "feature"))
    assert found.base == fork and len(found.warnings) == 1
    assert "--head feature is not the checked-out commit" in found.warnings[0]


def test_explicit_revisions_that_do_not_exist_are_config_errors(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "r")
    make_origin(repo, tmp_path / "origin.git")
    with pytest.raises(ConfigError) as info:
        resolve_comparison(repo.path, explicit("no-such-branch"))
    assert "--base 'no-such-branch'" in info.value.what and "origin failed" in info.value.why
    with pytest.raises(ConfigError, match="--head 'nope'"):
        resolve_comparison(repo.path, explicit("HEAD", "nope"))


def test_explicit_unrelated_histories_deploy_everything(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "r")
    repo.git("checkout", "-q", "--orphan", "other")
    other = repo.commit({"x.py": "x\n"})
    found = resolve_comparison(repo.path, explicit("main", "other"))
    assert (found.base, found.head) == (None, other)
    assert "unrelated" in found.warnings[0]


def test_explicit_branch_only_on_origin_is_fetched(tmp_path: Path) -> None:
    source = init_repo(tmp_path / "src")
    fork = source.sha()
    origin = make_origin(source, tmp_path / "origin.git")
    source.checkout("feature", new=True)
    head = source.commit({"flows/f.py": "f\n"})
    source.push("feature")
    work = checkout_like_actions(origin, tmp_path / "work", head)
    assert work.git("branch", "-a") == f"* (HEAD detached at {head[:7]})"
    found = resolve_comparison(work.path, explicit("main"))
    assert (found.base, found.head) == (fork, head)


def test_explicit_parent_in_a_shallow_clone_deepens(tmp_path: Path) -> None:
    source = init_repo(tmp_path / "src")
    parent = source.commit({"a.py": "1\n"})
    head = source.commit({"a.py": "2\n"})
    origin = make_origin(source, tmp_path / "origin.git")
    work = checkout_like_actions(origin, tmp_path / "work", head, ref="main")
    found = resolve_comparison(work.path, explicit("HEAD~1"))
    assert (found.base, found.head) == (parent, head)
    with pytest.raises(ConfigError, match="shallow"):
        resolve_comparison(
            checkout_like_actions(origin, tmp_path / "w2", head).path,
            explicit("HEAD~1"),
            fetch=False,
        )


# --- resolve_comparison: GitHub events ----------------------------------------------------------


def event_request(
    tmp_path: Path, name: str, event: dict[str, object], sha: str | None = None
) -> RangeRequest:
    """The request as the action builds it: from an event file the runner wrote."""
    path = tmp_path / f"event-{name}.json"
    path.write_text(json.dumps(event))
    request = range_request(base=None, head=None, event_name=name, event=load_event(path), sha=sha)
    assert request is not None
    return request


def push_event(before: str, after: str, ref: str = "refs/heads/main") -> dict[str, object]:
    return {
        "ref": ref,
        "before": before,
        "after": after,
        "created": before == ZEROS,
        "deleted": after == ZEROS,
        "forced": False,
        "repository": {"default_branch": "main"},
    }


@pytest.fixture
def pushed(tmp_path: Path) -> tuple[GitRepo, GitRepo]:
    """A source repository with two commits on main and its bare origin."""
    source = init_repo(tmp_path / "src", {"flows/a.py": "1\n", "flows/b.py": "1\n"})
    source.commit({"flows/a.py": "2\n"})
    return source, make_origin(source, tmp_path / "origin.git")


def test_push(tmp_path: Path, pushed: tuple[GitRepo, GitRepo]) -> None:
    source, origin = pushed
    before = source.sha()
    after = source.commit({"flows/b.py": "2\n"})
    source.push("main")
    work = clone(origin, tmp_path / "work")
    found = resolve_comparison(
        work.path, event_request(tmp_path, "push", push_event(before, after))
    )
    assert found == Comparison(
        base=before, head=after, note=f"push to main: {before[:7]}..{after[:7]}"
    )
    assert set(changes(work, before, after)) == {"flows/b.py"}


def test_push_of_a_merge_commit(tmp_path: Path, pushed: tuple[GitRepo, GitRepo]) -> None:
    source, origin = pushed
    before = source.sha()
    source.checkout("feature", new=True)
    source.commit({"flows/feature.py": "f\n"})
    source.checkout("main")
    after = source.merge("feature")
    source.push("main")
    work = checkout_like_actions(origin, tmp_path / "work", after, ref="main")
    found = resolve_comparison(
        work.path, event_request(tmp_path, "push", push_event(before, after))
    )
    assert (found.base, found.head) == (before, after)
    assert set(changes(work, before, after)) == {"flows/feature.py"}


def test_shallow_push_fetches_the_parent(tmp_path: Path, pushed: tuple[GitRepo, GitRepo]) -> None:
    source, origin = pushed
    before = source.sha()
    after = source.commit({"flows/b.py": "2\n", "flows/c.py": "new\n"})
    source.push("main")
    work = checkout_like_actions(origin, tmp_path / "work", after, ref="main")
    assert is_shallow(work)
    assert run_git(work.path, "cat-file", "-e", before, check=False).returncode != 0
    found = resolve_comparison(
        work.path, event_request(tmp_path, "push", push_event(before, after))
    )
    assert (found.base, found.head, found.warnings) == (before, after, ())
    assert set(changes(work, before, after)) == {"flows/b.py", "flows/c.py"}
    assert work.git("rev-list", "--count", before) == "1"  # the commit, not its history


def test_force_push_compares_the_old_tip_directly(
    tmp_path: Path, pushed: tuple[GitRepo, GitRepo]
) -> None:
    source, origin = pushed
    start = source.sha()
    before = source.commit({"flows/b.py": "abandoned\n"})
    source.push("main")
    source.git("reset", "-q", "--hard", start)
    after = source.commit({"flows/a.py": "rewritten\n"})
    source.push("main", force=True)
    work = clone(origin, tmp_path / "work")  # origin still has the old tip's objects
    found = resolve_comparison(
        work.path, event_request(tmp_path, "push", push_event(before, after))
    )
    assert (found.base, found.head) == (before, after)
    assert "force push" in found.note and "force push" in found.warnings[0]
    # Exact: b.py must go back to what the new history says, a.py changed.
    assert set(changes(work, before, after)) == {"flows/a.py", "flows/b.py"}


def test_force_push_whose_old_tip_is_gone_deploys_everything(
    tmp_path: Path, pushed: tuple[GitRepo, GitRepo]
) -> None:
    source, origin = pushed
    start = source.sha()
    before = source.commit({"flows/b.py": "abandoned\n"})
    source.push("main")
    source.git("reset", "-q", "--hard", start)
    source.git("reflog", "expire", "--expire=now", "--all")
    source.git("gc", "-q", "--prune=now")
    after = source.commit({"flows/a.py": "rewritten\n"})
    source.push("main", force=True)
    origin.git("gc", "-q", "--prune=now")
    assert run_git(origin.path, "cat-file", "-e", before, check=False).returncode != 0
    work = clone(origin, tmp_path / "work")
    found = resolve_comparison(
        work.path, event_request(tmp_path, "push", push_event(before, after))
    )
    assert (found.base, found.head) == (None, after)
    assert before[:7] in found.warnings[0] and "origin does not have it" in found.warnings[0]


def test_new_branch_compares_from_the_default_branch(
    tmp_path: Path, pushed: tuple[GitRepo, GitRepo]
) -> None:
    source, origin = pushed
    fork = source.sha()
    source.checkout("feature/x", new=True)
    source.empty_commits(3, "wip")
    head = source.commit({"flows/x.py": "x\n"})
    source.checkout("main")
    source.commit({"flows/a.py": "main moved on\n"})
    source.push("main", "feature/x")
    event = push_event(ZEROS, head, ref="refs/heads/feature/x")
    work = checkout_like_actions(origin, tmp_path / "work", head, ref="feature/x")
    found = resolve_comparison(work.path, event_request(tmp_path, "push", event))
    assert found == Comparison(
        base=fork, head=head, note=f"new branch feature/x: merge-base with main {fork[:7]}"
    )
    assert set(changes(work, fork, head)) == {"flows/x.py"}


def test_new_default_branch_deploys_everything(
    tmp_path: Path, pushed: tuple[GitRepo, GitRepo]
) -> None:
    source, origin = pushed
    head = source.sha()
    work = clone(origin, tmp_path / "work")
    found = resolve_comparison(work.path, event_request(tmp_path, "push", push_event(ZEROS, head)))
    assert (found.base, found.head) == (None, head)
    assert "default branch" in found.note


def pull_request_event(number: int, base: str, head: str) -> dict[str, object]:
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "base": {"ref": "main", "sha": base},
            "head": {"ref": "feature", "sha": head},
        },
        "repository": {"default_branch": "main"},
    }


def pull_request_checkout(
    tmp_path: Path, main_ahead: int, history: int = 0
) -> tuple[GitRepo, str, str, str]:
    """A PR whose base moved on by ``main_ahead`` commits, checked out as actions/checkout does
    (refs/pull/N/merge at depth 1). Returns the clone, the fork point, PR base and PR head."""
    source = init_repo(tmp_path / "src", {"flows/a.py": "1\n"})
    fork = source.empty_commits(history, "old")
    source.checkout("feature", new=True)
    source.commit({"flows/pr.py": "pr\n"})
    head = source.commit({"flows/pr.py": "pr 2\n"})
    source.checkout("main")
    source.commit({"flows/a.py": "main moved on\n"})
    base = source.empty_commits(main_ahead, "main")
    merge = source.merge("feature")
    source.git("reset", "-q", "--hard", base)
    origin = make_origin(source, tmp_path / "origin.git")
    source.push("feature", f"{merge}:refs/pull/7/merge")
    return checkout_like_actions(origin, tmp_path / "work", merge), fork, base, head


def test_shallow_pull_request_deepens_to_the_merge_base(tmp_path: Path) -> None:
    # 60 commits on main since the fork: more than the first deepening step reaches; 300
    # before it, more than the steps fetch in all.
    work, fork, base, head = pull_request_checkout(tmp_path, main_ahead=60, history=300)
    request = event_request(tmp_path, "pull_request", pull_request_event(7, base, head))
    found = resolve_comparison(work.path, request)
    assert found == Comparison(
        base=fork, head=head, note=f"pull request #7: merge-base {fork[:7]} .. {head[:7]}"
    )
    assert set(changes(work, fork, head)) == {"flows/pr.py"}
    assert is_shallow(work)  # deepened, not unshallowed


def test_shallow_history_without_fetching_deploys_everything(tmp_path: Path) -> None:
    work, _, base, head = pull_request_checkout(tmp_path, main_ahead=2)
    # The PR's own commits are in the clone, its history is not.
    work.git("fetch", "-q", "--depth=1", "origin", base, head)
    request = event_request(tmp_path, "pull_request", pull_request_event(7, base, head))
    found = resolve_comparison(work.path, request, fetch=False)
    assert (found.base, found.head) == (None, head)
    assert "fetch-depth: 0" in found.warnings[0] and "shallow" in found.warnings[0]


def test_shallow_merge_base_that_only_looks_right_is_deepened(tmp_path: Path) -> None:
    """In a cut history git can answer with an older common ancestor than the true one.

    main: Y - X - tip. The branch runs from X through ten commits, then merges Y again, so at
    depth 3 the branch reaches Y (through the merge) but not X (the chain is cut).
    """
    source = init_repo(tmp_path / "src", {"flows/a.py": "y\n"})
    old = source.sha()
    true_base = source.commit({"flows/a.py": "x\n"})
    source.checkout("branch", new=True)
    chain = source.empty_commits(10, "chain")
    tree = source.git("rev-parse", "HEAD^{tree}")
    tip_branch = source.git("commit-tree", tree, "-p", chain, "-p", old, "-m", "merge old")
    source.git("reset", "-q", "--hard", tip_branch)
    source.checkout("main")
    tip_main = source.commit({"flows/b.py": "main\n"})
    origin = make_origin(source, tmp_path / "origin.git")
    source.push("branch")
    work = clone(origin, tmp_path / "work", depth=3, branch="branch")
    work.git("fetch", "-q", "--depth=3", "origin", "main")
    assert work.git("merge-base", tip_main, tip_branch) == old  # the trap
    request = explicit(tip_main, tip_branch)
    assert resolve_comparison(work.path, request, fetch=False).base is None
    assert resolve_comparison(work.path, request).base == true_base


def test_tag_push_deploys_everything(tmp_path: Path, pushed: tuple[GitRepo, GitRepo]) -> None:
    source, origin = pushed
    head = source.sha()
    source.git("tag", "-a", "v1.0", "-m", "release")
    tag_object = source.git("rev-parse", "v1.0")
    source.push("v1.0")
    work = clone(origin, tmp_path / "work")
    event = push_event(ZEROS, tag_object, ref="refs/tags/v1.0")
    found = resolve_comparison(work.path, event_request(tmp_path, "push", event, sha=head))
    assert (found.base, found.head) == (None, head)
    assert found.note == "tag push v1.0: every deployment"


def test_deleted_branch_deploys_nothing(tmp_path: Path, pushed: tuple[GitRepo, GitRepo]) -> None:
    source, origin = pushed
    work = clone(origin, tmp_path / "work")
    before = source.sha("HEAD~1")
    event = push_event(before, ZEROS, ref="refs/heads/gone")
    found = resolve_comparison(work.path, event_request(tmp_path, "push", event))
    assert found.base == found.head == before
    assert found.note == "branch gone deleted: nothing to deploy"
    assert changed_files(work.path, found.base, found.head).changes == ()


def test_workflow_dispatch_deploys_everything(
    tmp_path: Path, pushed: tuple[GitRepo, GitRepo]
) -> None:
    source, origin = pushed
    work = clone(origin, tmp_path / "work")
    request = event_request(tmp_path, "workflow_dispatch", {"inputs": {}}, sha=source.sha())
    found = resolve_comparison(work.path, request)
    assert found == Comparison(
        base=None, head=source.sha(), note="workflow_dispatch event: every deployment"
    )


def test_event_commit_missing_from_the_clone_is_a_config_error(
    tmp_path: Path, pushed: tuple[GitRepo, GitRepo]
) -> None:
    source, origin = pushed
    work = clone(origin, tmp_path / "work")
    shutil.rmtree(origin.path)  # nothing left to fetch from
    request = event_request(tmp_path, "push", push_event(source.sha(), "1" * 40))
    with pytest.raises(ConfigError, match="does not name a commit"):
        resolve_comparison(work.path, request)
