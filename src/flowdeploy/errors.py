"""One error hierarchy. Raised deep, reported once at the top.

Every error carries four parts, so that the message a user reads always says what failed,
why, how to fix it, and where (file:line when known).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2


@dataclass(frozen=True)
class Location:
    """A place in a file the user can open: 1-based line, as editors and GitHub show it."""

    path: Path | str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else str(self.path)


class FlowdeployError(Exception):
    """Base of every error flowdeploy reports to the user."""

    exit_code: int = EXIT_FAILED
    secrets: frozenset[str] = frozenset()
    """Values the message may quote that no output may show (block values, met on the way)."""

    def __init__(
        self,
        what: str,
        *,
        why: str = "",
        fix: str = "",
        where: Location | None = None,
    ) -> None:
        self.what = what
        self.why = why
        self.fix = fix
        self.where = where
        super().__init__(self.render())

    def render(self) -> str:
        """The full four-part message, one part per line."""
        head = f"{self.where}: {self.what}" if self.where else self.what
        parts = [head]
        if self.why:
            parts.append(f"  why: {self.why}")
        if self.fix:
            parts.append(f"  fix: {self.fix}")
        return "\n".join(parts)


class ConfigError(FlowdeployError):
    """Bad input or configuration: nothing has been written (exit code 2)."""

    exit_code = EXIT_CONFIG


class ConfigErrors(ConfigError):
    """Several configuration errors found in one validation pass, reported together."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        FlowdeployError.__init__(
            self,
            f"{len(errors)} configuration error(s); nothing was written",
            why="\n".join(e.render() for e in errors),
        )

    def render(self) -> str:
        return "\n".join(e.render() for e in self.errors)


class ApiError(FlowdeployError):
    """The Prefect API could not be reached or answered with an error."""

    def __init__(
        self,
        what: str,
        *,
        status: int | None = None,
        detail: str | None = None,
        why: str = "",
        fix: str = "",
    ) -> None:
        self.status = status
        self.detail = detail
        super().__init__(what, why=why or (detail or ""), fix=fix)


class DeploymentApplyError(FlowdeployError):
    """Applying one deployment failed; carries the server's ``detail`` when it gave one.

    The same name and meaning as Prefect's ``prefect.deployments.runner.DeploymentApplyError``.
    """

    def __init__(self, detail: str, *, deployment: str | None = None) -> None:
        self.detail = detail
        self.deployment = deployment
        what = f"could not apply deployment {deployment!r}" if deployment else "could not apply"
        super().__init__(what, why=detail, fix="see the server's detail above; re-run to retry")


@dataclass(frozen=True)
class ConfigWarning:
    """A problem worth showing (as a ::warning:: annotation in Actions) that does not stop a run."""

    message: str
    where: Location | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


def outside_repository(
    path: Path | str, resolved: Path, root: Path, *, where: Location | None = None
) -> ConfigError:
    """A file flowdeploy was asked to read that resolves (symlinks followed) outside ``root``:
    never read, since a worker running the deployment from the repository would not have it."""
    return ConfigError(
        f"{path} resolves outside the repository",
        why=f"it leads to {resolved}, outside {root}; flowdeploy reads only files inside the "
        "repository, and a worker running the deployment would not have this one",
        fix="move the file into the repository (replace a symlink with the file itself) and "
        "refer to it by its path inside the repository",
        where=where or Location(path),
    )


class InternalError(FlowdeployError):
    """An exception flowdeploy did not expect (a bug): reported like any error, with its
    traceback masked, since an exception's text may quote a URL or a header."""

    def __init__(self, what: str, trace: str) -> None:
        self.trace = trace
        super().__init__(
            what,
            why="an unexpected error inside flowdeploy (a bug); some deployments may have "
            "been written before it",
            fix="re-run; if it happens again, report it with the traceback above",
        )

    @classmethod
    def from_current(cls, secrets: Iterable[str]) -> InternalError:
        """The exception being handled, with every secret masked."""
        from flowdeploy.masking import redact

        known = tuple(secrets)
        kind, value, _ = sys.exc_info()
        name = kind.__name__ if kind else "error"
        trace = redact(traceback.format_exc(), known)
        return cls(redact(f"internal error: {name}: {value}", known), trace)
