"""The only module that talks to git.

Every function runs the ``git`` binary itself, one command at a time (see below for why),
with ``-z`` output where paths come back, so that any path round-trips exactly.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from subprocess import CompletedProcess
from typing import Literal

from pydantic import BaseModel, ConfigDict

from flowdeploy.errors import ConfigError, FlowdeployError
from flowdeploy.github import RangeRequest

ChangeStatus = Literal["added", "modified", "deleted", "renamed", "copied", "type-changed"]

# (sha, branch, repository) variables of the CI systems Prefect recognises, in its order.
CI_VERSION_VARIABLES = (
    ("GITHUB_SHA", "GITHUB_REF_NAME", "GITHUB_REPOSITORY"),
    ("CI_COMMIT_SHA", "CI_COMMIT_REF_NAME", "CI_PROJECT_NAME"),
    ("BITBUCKET_COMMIT", "BITBUCKET_BRANCH", "BITBUCKET_REPO_SLUG"),
    ("BUILD_SOURCEVERSION", "BUILD_SOURCEBRANCHNAME", "BUILD_REPOSITORY_NAME"),
)


def repo_root(path: Path) -> Path | None:
    """The working tree that holds ``path``, or None outside a git repository (or without
    git installed)."""
    if not path.is_dir():
        return None
    try:
        done = _Git(path).completed("rev-parse", "--show-toplevel")
    except ConfigError:  # git is not installed: nothing is a repository
        return None
    top = done.stdout.decode("utf-8", "surrogateescape").strip()
    return Path(top) if done.returncode == 0 and top else None


def inferred_version(root: Path | None, environ: Mapping[str, str]) -> str | None:
    """The version ``prefect deploy`` infers when prefect.yaml gives none, for a project in
    the working tree at ``root`` (:func:`repo_root`; None: not in a repository).

    Prefect 3 takes the commit from the CI's variables (GitHub, GitLab, Bitbucket, Azure
    DevOps), else from git when the repository has an ``origin`` remote, and uses its
    first 8 characters; without either it keeps the flow's own version.
    """
    if root is None:
        return None
    git_ = _Git(root)
    head = git_.commit("HEAD")
    if head is None:  # no commit yet
        return None
    for sha_var, branch_var, repo_var in CI_VERSION_VARIABLES:
        sha = environ.get(sha_var)
        if sha and environ.get(branch_var) and environ.get(repo_var):
            return sha[:8]
    origin = git_.completed("config", "--get", "remote.origin.url").stdout.strip()
    return head[:8] if origin else None


# --- Running git ----------------------------------------------------------------------------
#
# A library such as GitPython starts every child from a copy of ``os.environ`` and can add
# variables but never remove one (and costs 58 ms to import), and removing is the point: a
# GIT_DIR, GIT_INDEX_FILE or GIT_OBJECT_DIRECTORY left by a git hook or a CI wrapper silently
# points every command at another repository. So these functions run the ``git`` binary
# directly, one command at a time, as pre-commit does.

# What git may still see: how to reach remotes, which config files to read, tracing. Any other
# GIT_* (GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE, GIT_OBJECT_DIRECTORY, GIT_COMMON_DIR,
# GIT_ALTERNATE_OBJECT_DIRECTORIES, GIT_CONFIG_PARAMETERS, GIT_*_PATHSPECS, ...) can redirect git
# or change what it reports, and an allowlist also covers the ones nobody thought of.
_KEPT_GIT_VARIABLES = frozenset(
    {
        "GIT_ALLOW_PROTOCOL",
        "GIT_ASKPASS",
        "GIT_CONFIG_GLOBAL",
        "GIT_CONFIG_NOSYSTEM",
        "GIT_CONFIG_SYSTEM",
        "GIT_CURL_VERBOSE",
        "GIT_EXEC_PATH",
        "GIT_HTTP_PROXY_AUTHMETHOD",
        "GIT_HTTP_USER_AGENT",
        "GIT_SSH",
        "GIT_SSH_COMMAND",
        "GIT_SSH_VARIANT",
        "GIT_SSL_CAINFO",
        "GIT_SSL_CAPATH",
        "GIT_SSL_NO_VERIFY",
    }
)

# actions/checkout fetches one commit unless told otherwise; history is deepened by these
# many commits at a time before giving up (1250 in all).
_DEEPEN_STEPS = (50, 200, 1000)
# A fetch that hangs (a dead network, a stuck proxy) gives up and counts as failed.
_FETCH_TIMEOUT = 300.0
_FETCH_DEPTH_FIX = (
    "set `fetch-depth: 0` on actions/checkout so that flowdeploy can deploy only what changed"
)

_STATUSES: dict[str, ChangeStatus] = {
    "A": "added",
    "M": "modified",
    "D": "deleted",
    "R": "renamed",
    "C": "copied",
    "T": "type-changed",
}
_GITLINK_MODE = "160000"
_SYMLINK_MODE = "120000"
_EXECUTABLE_MODE = "100755"


class FileChange(BaseModel):
    """One path a commit range touched. A change of mode only (chmod +x) is "modified"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: ChangeStatus
    path: str
    """Repo-relative POSIX path after the change; for "deleted", the path that was deleted."""
    old_path: str | None = None
    """The source of a rename or copy."""
    submodule: bool = False
    """A gitlink (submodule pointer) on either side."""


class ChangeSet(BaseModel):
    """What changed between two commits (a tree diff, with renames and copies found)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base: str
    head: str
    changes: tuple[FileChange, ...]

    @property
    def paths(self) -> frozenset[str]:
        """Every path touched: each change's path, and the old path of each rename (a copy
        leaves its source where it was)."""
        paths = {change.path for change in self.changes}
        paths.update(c.old_path for c in self.changes if c.status == "renamed" and c.old_path)
        return frozenset(paths)


class Comparison(BaseModel):
    """The commits to compare, resolved; ``base`` None means: deploy everything."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base: str | None
    head: str
    note: str
    warnings: tuple[str, ...] = ()


def _git_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` for a git child: redirecting GIT_* dropped, ``safe.directory=*`` added.

    The action runs as root in a container on a workspace another uid owns, which git refuses
    ("dubious ownership") unless safe.directory allows it; command-scope config (the
    GIT_CONFIG_COUNT family) is one of the few places git reads that setting from, and the
    caller's own entries of that family are kept in front of it.
    """
    env = {
        key: value
        for key, value in environ.items()
        if not key.startswith("GIT_") or key in _KEPT_GIT_VARIABLES or key.startswith("GIT_TRACE")
    }
    config = [*_command_config(environ), ("safe.directory", "*")]
    for index, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    env["GIT_CONFIG_COUNT"] = str(len(config))
    # A fetch that needs credentials fails (and flowdeploy falls back) instead of waiting for
    # a password nobody will type in CI.
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env


def _command_config(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """The caller's GIT_CONFIG_COUNT entries; none if the set is malformed (git would refuse
    to run at all)."""
    try:
        count = int(environ.get("GIT_CONFIG_COUNT", "0"))
    except ValueError:
        return []
    pairs = []
    for index in range(count):
        key = environ.get(f"GIT_CONFIG_KEY_{index}")
        value = environ.get(f"GIT_CONFIG_VALUE_{index}")
        if not key or value is None:
            return []
        pairs.append((key, value))
    return pairs


class _GitFailed(Exception):
    def __init__(self, args: Sequence[str], returncode: int, stderr: bytes) -> None:
        self.stderr = stderr.decode("utf-8", "replace").strip()
        super().__init__(f"git {' '.join(args)} exited with {returncode}: {self.stderr}")


@dataclass(frozen=True)
class _Git:
    """git, run in one directory of one repository."""

    cwd: Path

    def completed(self, *args: str, timeout: float | None = None) -> CompletedProcess[bytes]:
        try:
            return subprocess.run(
                ["git", *args],
                cwd=self.cwd,
                env=_git_environment(os.environ),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                check=False,
                timeout=timeout,
            )
        except FileNotFoundError as exc:
            raise _git_not_installed() from exc

    def run(self, *args: str) -> bytes:
        done = self.completed(*args)
        if done.returncode != 0:
            raise _GitFailed(args, done.returncode, done.stderr)
        return done.stdout

    def ok(self, *args: str) -> bool:
        return self.completed(*args).returncode == 0

    def popen(self, *args: str) -> subprocess.Popen[bytes]:
        try:
            return subprocess.Popen(
                ["git", *args],
                cwd=self.cwd,
                env=_git_environment(os.environ),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                # Nothing reads it while objects stream, so a chatty git must not fill it.
                stderr=subprocess.DEVNULL,
            )
        except FileNotFoundError as exc:
            raise _git_not_installed() from exc

    def commit(self, rev: str) -> str | None:
        """The full sha of the commit ``rev`` names here, or None."""
        if not rev:
            return None
        done = self.completed(
            "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"
        )
        return done.stdout.decode().strip() if done.returncode == 0 else None


def _git_not_installed() -> ConfigError:
    return ConfigError(
        "git is not installed",
        why="comparing commits runs the git command, which is not on PATH",
        fix="install git, or pass --all to deploy every deployment without comparing",
    )


def _open(repo_dir: Path) -> _Git:
    if not repo_dir.is_dir():
        raise _not_a_repository(repo_dir, "the directory does not exist")
    git_ = _Git(repo_dir)
    try:
        git_.run("rev-parse", "--git-dir")
    except _GitFailed as exc:
        raise _not_a_repository(repo_dir, exc.stderr) from exc
    return git_


def _not_a_repository(repo_dir: Path, why: str) -> ConfigError:
    return ConfigError(
        f"{repo_dir} is not in a git repository",
        why=why,
        fix="run flowdeploy in a clone of the repository (actions/checkout in GitHub Actions), "
        "or pass --all",
    )


def _need_commit(git_: _Git, rev: str) -> str:
    sha = git_.commit(rev)
    if sha is None:
        raise ConfigError(
            f"{rev!r} is not a commit in {git_.cwd}",
            why="git cannot resolve it to a commit",
            fix="pass a branch, tag or commit sha that exists in the clone",
        )
    return sha


# --- changed files ---------------------------------------------------------------------------


def changed_files(repo_dir: Path, base: str, head: str) -> ChangeSet:
    """The tree diff from ``base`` to ``head`` (what ``git diff base head`` shows)."""
    git_ = _open(repo_dir)
    base_sha, head_sha = _need_commit(git_, base), _need_commit(git_, head)
    raw = git_.run(
        "diff",
        "--raw",
        "-z",
        "--no-abbrev",
        "-M",
        "-C",
        "--no-ext-diff",
        "--no-textconv",
        "--no-color",
        "--no-relative",  # diff.relative in the user's config would cut paths to a subdir
        "--ignore-submodules=none",
        base_sha,
        head_sha,
        "--",
    )
    return ChangeSet(base=base_sha, head=head_sha, changes=tuple(_parse_raw_diff(raw)))


def uncommitted(repo_dir: Path, head: str) -> ChangeSet:
    """Edits in the working tree (staged or not) and new files git does not ignore, as a
    change from ``head``; a plan from commits does not see them."""
    git_ = _open(repo_dir)
    head_sha = _need_commit(git_, head)
    raw = git_.run(
        "diff",
        "--raw",
        "-z",
        "--no-abbrev",
        "--no-ext-diff",
        "--no-textconv",
        "--no-color",
        "--no-relative",
        head_sha,
        "--",
    )
    changes = list(_parse_raw_diff(raw))
    untracked = git_.run("ls-files", "-z", "--others", "--exclude-standard", "--full-name", ":/")
    changes += [
        FileChange(status="added", path=_decode_path(p)) for p in untracked.split(b"\0") if p
    ]
    return ChangeSet(base=head_sha, head="(working tree)", changes=tuple(changes))


def _parse_raw_diff(raw: bytes) -> Iterator[FileChange]:
    """``git diff --raw -z``: ``:<mode> <mode> <sha> <sha> <status>NUL<path>NUL[<path>NUL]``."""
    fields = iter(raw.split(b"\0"))
    for header in fields:
        if not header:
            continue
        old_mode, new_mode, _, _, code = header.decode("ascii").lstrip(":").split(" ")
        status = _STATUSES.get(code[0])
        if status is None:
            raise FlowdeployError(
                f"git diff reported an unexpected status {code!r}",
                why=f"known statuses: {', '.join(_STATUSES)}",
                fix="report this with the output of `git version`",
            )
        first = _decode_path(next(fields))
        submodule = _GITLINK_MODE in (old_mode, new_mode)
        if status in ("renamed", "copied"):
            path = _decode_path(next(fields))
            yield FileChange(status=status, path=path, old_path=first, submodule=submodule)
        else:
            yield FileChange(status=status, path=first, submodule=submodule)


def _decode_path(raw: bytes) -> str:
    # Git stores path bytes as given; surrogateescape keeps a non-UTF-8 name round-trippable.
    return raw.decode("utf-8", "surrogateescape")


# --- reading trees ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _TreeEntry:
    mode: str
    kind: str
    sha: str
    path: str


def read_file_at(repo_dir: Path, rev: str, path: str) -> bytes | None:
    """The bytes of repo-relative ``path`` at ``rev`` (a symlink's target text); None when no
    file is there (absent, a directory, or a submodule)."""
    git_ = _open(repo_dir)
    commit = _need_commit(git_, rev)
    wanted = _tree_path(path)
    if not wanted:
        raise ValueError("read_file_at needs a file path, not the repository root")
    entries = _ls_tree(git_, commit, wanted, recursive=False)
    entry = next((e for e in entries if e.path == wanted), None)
    if entry is None or entry.kind != "blob":
        return None
    return git_.run("cat-file", "blob", entry.sha)


def export_tree(repo_dir: Path, rev: str, dest: Path, path: str = "") -> None:
    """Write the files of ``rev`` into ``dest``, at their repo-relative paths.

    With ``path``, only the files under it (still at ``dest/path/...``). Executable bits and
    symlinks are kept; a submodule becomes an empty directory, as in a clone without
    ``--recurse-submodules``. Unlike ``git archive`` this ignores ``export-ignore`` and
    ``export-subst`` attributes: the files are exactly those of the commit.
    """
    git_ = _open(repo_dir)
    commit = _need_commit(git_, rev)
    entries = _ls_tree(git_, commit, _tree_path(path), recursive=True)
    dest.mkdir(parents=True, exist_ok=True)
    blobs = [e for e in entries if e.kind == "blob"]
    links: list[tuple[Path, bytes]] = []
    for entry, data in zip(blobs, _blob_contents(git_, [e.sha for e in blobs]), strict=True):
        target = _inside(dest, entry.path)
        if entry.mode == _SYMLINK_MODE:
            links.append((target, data))
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        if entry.mode == _EXECUTABLE_MODE:
            target.chmod(target.stat().st_mode | 0o111)
    for entry in entries:
        if entry.kind == "commit":
            _inside(dest, entry.path).mkdir(parents=True, exist_ok=True)
    # Links last, so that no file of the tree is ever written through one of them.
    for target, data in links:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        target.symlink_to(os.fsdecode(data))


def _tree_path(path: str) -> str:
    """A repo-relative path as git's trees spell it ("" for the root)."""
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts:
        raise ValueError(f"{path!r} is not a path inside the repository")
    return "" if not pure.parts else pure.as_posix()


def _ls_tree(git_: _Git, commit: str, path: str, *, recursive: bool) -> list[_TreeEntry]:
    # --literal-pathspecs: a file named "*.py" means that file, not every Python file.
    args = ["--literal-pathspecs", "ls-tree", "-z", "--full-tree"]
    args += ["-r"] if recursive else []
    args += [commit, "--", path] if path else [commit]
    entries = []
    for record in git_.run(*args).split(b"\0"):
        if record:
            meta, _, name = record.partition(b"\t")
            mode, kind, sha = meta.decode("ascii").split(" ")
            entries.append(_TreeEntry(mode, kind, sha, _decode_path(name)))
    return entries


def _blob_contents(git_: _Git, shas: Sequence[str]) -> Iterator[bytes]:
    """The blobs' bytes, in order, from one ``git cat-file --batch``.

    One object is asked for at a time and read whole before the next, so neither side can fill
    a pipe the other is not reading, and memory holds one file at a time.
    """
    if not shas:
        return
    with git_.popen("cat-file", "--batch") as process:
        assert process.stdin is not None and process.stdout is not None
        try:
            for sha in shas:
                process.stdin.write(f"{sha}\n".encode("ascii"))
                process.stdin.flush()
                header = process.stdout.readline().decode("ascii").split()
                if len(header) != 3:
                    raise FlowdeployError(f"git cat-file cannot read object {sha}: {header}")
                data = process.stdout.read(int(header[2]))
                process.stdout.read(1)  # the newline after each object
                yield data
        finally:
            process.stdin.close()


def _inside(dest: Path, path: str) -> Path:
    """``dest/path``; refuses names git itself refuses to check out."""
    parts = path.split("/")
    if any(part in ("", ".", "..") or part.lower() == ".git" for part in parts):
        raise FlowdeployError(
            f"refusing to write {path!r} from the repository",
            why="the commit holds a path that would escape the export directory",
            fix="check the commit with `git fsck`",
        )
    return dest.joinpath(*parts)


# --- which commits to compare ----------------------------------------------------------------


def resolve_comparison(repo_dir: Path, request: RangeRequest, *, fetch: bool = True) -> Comparison:
    """The base and head commits ``request`` means in the clone at ``repo_dir``.

    Never concludes "nothing changed" from missing history: when the history cannot tell
    (shallow clone, commit gone, unrelated histories), base is None, which deploys everything,
    and a warning says why. With ``fetch`` (the default), missing commits are fetched from
    ``origin`` and a shallow clone is deepened a bounded number of times.
    """
    history = _History(_open(repo_dir), fetch=fetch)
    return _RESOLVERS[request.kind](history, request)


@dataclass(frozen=True)
class _MergeBase:
    sha: str | None
    complete: bool
    """False when the clone's history ended before git could tell."""


class _History:
    """Commits of one clone, fetched on demand from origin."""

    def __init__(self, git_: _Git, *, fetch: bool) -> None:
        self.git = git_
        self.fetch_enabled = fetch
        self.has_origin = git_.ok("remote", "get-url", "origin")
        shallow = git_.run("rev-parse", "--git-path", "shallow").decode().strip()
        self._shallow_file = git_.cwd / shallow

    @property
    def can_fetch(self) -> bool:
        return self.fetch_enabled and self.has_origin

    def boundary(self) -> frozenset[str]:
        """The shallow clone's boundary commits (their parents are missing); empty when the
        history is complete."""
        try:
            return frozenset(self._shallow_file.read_text().split())
        except FileNotFoundError:
            return frozenset()

    def obtain(self, rev: str, *, deepen_from: str | None = None) -> str | None:
        """The commit ``rev`` names, fetched from origin when it is not here.

        ``deepen_from``: a commit whose older history ``rev`` may be in (``HEAD~3``).
        """
        sha = self.git.commit(rev)
        if sha is not None or not self.can_fetch:
            return sha
        if _fetchable(rev) and self._fetch(rev):
            sha = self.git.commit(rev) or self.git.commit("FETCH_HEAD")
        if sha is None and deepen_from is not None:
            sha = self._deepen_until(rev, deepen_from)
        return sha

    def _deepen_until(self, rev: str, tip: str) -> str | None:
        for step in _DEEPEN_STEPS:
            if not self.boundary() or not self._fetch(tip, deepen=step):
                return None
            sha = self.git.commit(rev)
            if sha is not None:
                return sha
        return None

    def branch_tip(self, branch: str) -> str | None:
        """origin's tip of ``branch``: the remote-tracking ref, else fetched, else local."""
        remote = self.git.commit(f"refs/remotes/origin/{branch}")
        if remote is not None:
            return remote
        if self.can_fetch and _fetchable(branch) and self._fetch(f"refs/heads/{branch}"):
            return self.git.commit("FETCH_HEAD")
        return self.git.commit(f"refs/heads/{branch}")

    def merge_base(self, a: str, b: str) -> _MergeBase:
        """The best common ancestor of two commits present here, deepening a shallow clone
        until git's answer cannot be an artefact of the cut history."""
        steps = iter(_DEEPEN_STEPS)
        while True:
            done = self.git.completed("merge-base", a, b)
            found = done.stdout.decode().strip() if done.returncode == 0 else None
            if done.returncode not in (0, 1):
                raise _GitFailed(("merge-base", a, b), done.returncode, done.stderr)
            boundary = self.boundary()
            if not boundary or (found and not self._crosses(boundary, a, b, exclude=found)):
                return _MergeBase(found, complete=True)
            step = next(steps, None)
            if step is None or not self.can_fetch or not self._fetch(a, b, deepen=step):
                return _MergeBase(None, complete=False)

    def is_ancestor(self, a: str, b: str) -> bool | None:
        """Whether ``a`` is in ``b``'s history; None when a shallow clone cannot tell."""
        code = self.git.completed("merge-base", "--is-ancestor", a, b).returncode
        if code == 0:
            return True
        boundary = self.boundary()
        if code != 1 or (boundary and self._crosses(boundary, b, exclude=a)):
            return None
        return False

    def _crosses(self, boundary: frozenset[str], *tips: str, exclude: str) -> bool:
        """Whether the walk from ``tips`` down to ``exclude`` meets a cut in the history.

        If none of the commits between them is a boundary, that part of the graph is whole,
        so git's merge-base over it is the true one (any better common ancestor would have
        to lie in it); behind a boundary there, a better one may be hidden.
        """
        listed = self.git.run("rev-list", *tips, f"^{exclude}", "--").split()
        return any(sha.decode() in boundary for sha in listed)

    def _fetch(self, *revs: str, deepen: int | None = None) -> bool:
        if not self.can_fetch:
            return False
        args = ["fetch", "--quiet", "--no-tags", "--no-recurse-submodules"]
        if deepen is not None:
            args.append(f"--deepen={deepen}")
        elif self.boundary():
            # A shallow clone needs one commit to read its tree. A complete clone gets a plain
            # fetch: --depth there would make it shallow.
            args.append("--depth=1")
        try:
            done = self.git.completed(*args, "origin", *revs, timeout=_FETCH_TIMEOUT)
        except subprocess.TimeoutExpired:
            return False  # treated like any failed fetch: the history stays unknown
        return done.returncode == 0


def _fetchable(rev: str) -> bool:
    """Whether ``rev`` can be asked of origin as it is: a sha or a ref name, not an expression
    (``HEAD~1``), a refspec that would write a ref (``a:b``), or a name of the local HEAD."""
    return bool(re.fullmatch(r"[\w][\w./-]*", rev)) and not rev.endswith("HEAD") and ".." not in rev


def _short(sha: str) -> str:
    return sha[:7]


def _everything(head: str, note: str, *warnings: str) -> Comparison:
    return Comparison(base=None, head=head, note=note, warnings=warnings)


def _head(history: _History, request: RangeRequest) -> str:
    head = history.obtain(request.head)
    if head is None:
        raise _missing_commit(history, request, "--head" if request.kind == "explicit" else "")
    return head


def _missing_commit(history: _History, request: RangeRequest, option: str) -> ConfigError:
    rev = request.head if option != "--base" else request.base
    named = f"{option} {rev!r}" if option else f"commit {rev!r} of the {request.reason}"
    why = "it is not in the clone"
    if history.boundary():
        why += ", which is shallow"
    why += (
        "; fetching it from origin failed too"
        if history.can_fetch
        else "; fetching is disabled"
        if history.has_origin
        else "; there is no 'origin' remote to fetch it from"
    )
    return ConfigError(
        f"{named} does not name a commit",
        why=why,
        fix="pass a branch, tag or commit sha that exists; in GitHub Actions, "
        "set `fetch-depth: 0` on actions/checkout"
        if option
        else "check out the commit the event names (actions/checkout does by default)",
    )


def _unobtainable(history: _History, what: str) -> str:
    """Warning: a commit the comparison needs is neither here nor fetchable."""
    if not history.fetch_enabled:
        why = "fetching is disabled"
    elif not history.has_origin:
        why = "there is no 'origin' remote to fetch it from"
    else:
        why = "origin does not have it either (force-pushed away and garbage-collected?)"
    tail = f"; {_FETCH_DEPTH_FIX}" if history.boundary() else ""
    return f"{what} is not in the clone and {why}; deploying every deployment{tail}"


def _too_shallow(history: _History, what: str) -> str:
    if not history.can_fetch:
        how = "fetching is disabled" if history.has_origin else "there is no 'origin' remote"
    else:
        how = f"even after fetching {sum(_DEEPEN_STEPS)} more commits"
    return (
        f"cannot find {what}: the clone's history is too shallow ({how}); deploying every "
        f"deployment; {_FETCH_DEPTH_FIX}"
    )


def _merge_base_or_everything(
    history: _History, request: RangeRequest, tip: str, head: str, what: str
) -> str | Comparison:
    """The merge-base of ``tip`` and ``head``, or the everything-comparison saying why not."""
    found = history.merge_base(tip, head)
    if found.sha is not None:
        return found.sha
    if not found.complete:
        note = f"{request.reason}: every deployment (history too shallow)"
        return _everything(head, note, _too_shallow(history, what))
    warning = f"{what} does not exist: the histories are unrelated; deploying every deployment"
    return _everything(head, f"{request.reason}: every deployment (unrelated histories)", warning)


def _explicit(history: _History, request: RangeRequest) -> Comparison:
    head = _head(history, request)
    assert request.base is not None
    base = history.obtain(request.base, deepen_from=head)
    if base is None:
        raise _missing_commit(history, request, "--base")
    # Like `git diff BASE...HEAD`: what head changed since it left base.
    what = f"a common ancestor of {request.base} and {request.head}"
    found = _merge_base_or_everything(history, request, base, head, what)
    if isinstance(found, Comparison):
        return found
    note = f"{request.reason}: {_short(found)}..{_short(head)}"
    if found != base:
        note += f" (merge-base with {_short(base)})"
    checked_out = history.git.commit("HEAD")
    warnings: tuple[str, ...] = ()
    if checked_out is not None and checked_out != head:
        # The deployments are read from the files on disk; --head only picks the change set.
        warnings = (
            f"--head {request.head} is not the checked-out commit ({_short(checked_out)}): "
            "flowdeploy reads prefect.yaml and the flows from the working tree; check out "
            f"{request.head} to plan it",
        )
    return Comparison(base=found, head=head, note=note, warnings=warnings)


def _push(history: _History, request: RangeRequest) -> Comparison:
    head = _head(history, request)
    assert request.base is not None
    before = history.obtain(request.base)
    if before is None:
        warning = _unobtainable(history, f"the commit before this push ({_short(request.base)})")
        return _everything(head, f"{request.reason}: every deployment", warning)
    # The server holds what `before` deployed, so its tree against head's is exact, even when
    # the push rewrote history.
    span = f"{_short(before)}..{_short(head)}"
    if history.is_ancestor(before, head) is False:
        warning = (
            f"force push: {_short(before)} is not an ancestor of {_short(head)}; "
            "the two trees are compared directly"
        )
        return Comparison(
            base=before,
            head=head,
            note=f"{request.reason} (force push): {span}",
            warnings=(warning,),
        )
    return Comparison(base=before, head=head, note=f"{request.reason}: {span}")


def _new_branch(history: _History, request: RangeRequest) -> Comparison:
    head = _head(history, request)
    default = request.default_branch
    if default is None:
        return _everything(head, f"{request.reason}: every deployment (default branch unknown)")
    if request.branch == default:
        return _everything(head, f"{request.reason}: the default branch is new, every deployment")
    tip = history.branch_tip(default)
    if tip is None:
        warning = _unobtainable(history, f"the default branch {default}")
        return _everything(head, f"{request.reason}: every deployment", warning)
    what = f"where {request.branch or 'the branch'} left {default}"
    found = _merge_base_or_everything(history, request, tip, head, what)
    if isinstance(found, Comparison):
        return found
    note = f"{request.reason}: merge-base with {default} {_short(found)}"
    return Comparison(base=found, head=head, note=note)


def _pull_request(history: _History, request: RangeRequest) -> Comparison:
    head = _head(history, request)
    assert request.base is not None
    base = history.obtain(request.base)
    if base is None:
        warning = _unobtainable(history, f"the pull request's base {_short(request.base)}")
        return _everything(head, f"{request.reason}: every deployment", warning)
    what = "where the pull request left its base branch"
    found = _merge_base_or_everything(history, request, base, head, what)
    if isinstance(found, Comparison):
        return found
    note = f"{request.reason}: merge-base {_short(found)} .. {_short(head)}"
    return Comparison(base=found, head=head, note=note)


def _deleted(history: _History, request: RangeRequest) -> Comparison:
    # Nothing is compared: base == head gives an empty change set.
    for rev in (request.base, request.head, "HEAD"):
        sha = history.git.commit(rev) if rev else None
        if sha is not None:
            return Comparison(base=sha, head=sha, note=f"{request.reason}: nothing to deploy")
    raise _missing_commit(history, request, "")


def _all(history: _History, request: RangeRequest) -> Comparison:
    return _everything(_head(history, request), f"{request.reason}: every deployment")


_RESOLVERS: dict[str, Callable[[_History, RangeRequest], Comparison]] = {
    "explicit": _explicit,
    "push": _push,
    "new-branch": _new_branch,
    "pull-request": _pull_request,
    "deleted": _deleted,
    "everything": _all,
}


class Checkout(BaseModel):
    """The commit the working tree is at: what an image built from it is tagged with."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sha: str
    branch: str | None = None
    source: str | None = None
    """The origin remote as an https URL (for the image's source label), when there is one."""


def checkout(repo_dir: Path, environ: Mapping[str, str]) -> Checkout:
    try:
        git_ = _open(repo_dir)
    except ConfigError as exc:
        raise ConfigError(
            f"cannot tell which commit to build the image from: {exc.what}",
            why="the image is tagged with the commit it is built from",
            fix="run flowdeploy in a clone of the repository, or pass --image with an "
            "existing image",
        ) from None
    sha = git_.commit("HEAD")
    if sha is None:
        raise ConfigError(
            f"{repo_dir} has no commit yet",
            why="the image is tagged with the commit it is built from",
            fix="commit, or pass --image with an existing image",
        )
    # Actions checks out a detached HEAD; the branch name is in its variables.
    branch = environ.get("GITHUB_HEAD_REF") or environ.get("GITHUB_REF_NAME") or None
    if branch is None:
        done = git_.completed("symbolic-ref", "--quiet", "--short", "HEAD")
        branch = done.stdout.decode().strip() or None if done.returncode == 0 else None
    done = git_.completed("remote", "get-url", "origin")
    url = done.stdout.decode().strip() if done.returncode == 0 else ""
    return Checkout(sha=sha, branch=branch, source=_https(url) if url else None)


def _https(url: str) -> str:
    """git@github.com:org/repo.git -> https://github.com/org/repo; credentials dropped."""
    match = re.match(r"^[\w.-]+@([\w.-]+):(.+?)(\.git)?$", url)
    if match:
        return f"https://{match.group(1)}/{match.group(2)}"
    url = re.sub(r"^(https?://)[^/@]+@", r"\1", url)
    return url[:-4] if url.endswith(".git") else url
