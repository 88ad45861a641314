"""Command line: argument parsing and output routing only."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Literal

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from flowdeploy import report
from flowdeploy.action import error_annotations, mask_commands, raw_secrets, warning_annotations
from flowdeploy.cancel import CancelSwitch
from flowdeploy.errors import ConfigWarning, FlowdeployError, InternalError
from flowdeploy.masking import redact
from flowdeploy.plan import Action, PlannedDeployment
from flowdeploy.run import Command, Hooks, RunResult, run
from flowdeploy.settings import load_settings


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="flowdeploy",
        description="Deploy Prefect flows from prefect.yaml: plan what changes, apply only that.",
    )
    commands = root.add_subparsers(dest="command", required=True)
    for name, text in (
        ("plan", "show what apply would do; writes nothing"),
        ("apply", "create and update deployments"),
    ):
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument(
            "--project-dir",
            default=None,
            help="directory holding prefect.yaml and the flows (default: .)",
        )
        sub.add_argument(
            "--prefect-file",
            default=None,
            help="path of the prefect.yaml, or a glob such as 'projects/*/prefect.yaml' "
            "(default: PROJECT_DIR/prefect.yaml)",
        )
        sub.add_argument(
            "--all",
            action="store_true",
            help="every deployment, whatever changed (default without --base or a GitHub event)",
        )
        sub.add_argument(
            "--base",
            default=None,
            metavar="REF",
            help="only deployments affected by the changes from REF (compared as REF...HEAD)",
        )
        sub.add_argument(
            "--head", default=None, metavar="REF", help="the commit to compare (default: HEAD)"
        )
        sub.add_argument(
            "--prune",
            action="store_true",
            help="delete deployments removed from prefect.yaml (apply only; plan shows them)",
        )
        sub.add_argument(
            "--name",
            action="append",
            default=[],
            metavar="NAME",
            help="a deployment name, flow/name, or * pattern (repeatable)",
        )
        sub.add_argument(
            "--format",
            choices=("text", "json", "markdown"),
            default="text",
            help="output format; json goes to stdout alone",
        )
        sub.add_argument(
            "--image",
            default=None,
            metavar="REF",
            help="an existing image for deployments that take one",
        )
        sub.add_argument(
            "--image-name",
            default=None,
            metavar="NAME",
            help="build this image (registry/repository) for deployments that run on one; "
            "default: the image_name of a Docker build step in prefect.yaml",
        )
        sub.add_argument(
            "--tag",
            action="append",
            default=[],
            metavar="TEMPLATE",
            help="an extra tag besides the commit SHA: {sha}, {short_sha}, {branch} (repeatable)",
        )
        sub.add_argument("--registry-username", default=None, metavar="USER")
        sub.add_argument(
            "--registry-password",
            default=None,
            metavar="PASSWORD",
            help="registry credentials (also FLOWDEPLOY_REGISTRY_USERNAME/_PASSWORD); "
            "default: your docker login",
        )
        if name == "apply":
            sub.add_argument(
                "--no-build",
                action="store_true",
                help="never build an image; use --image or what the file names",
            )
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    environ = dict(os.environ)
    github = environ.get("GITHUB_ACTIONS") == "true"
    hooks = _CliHooks(Console(stderr=True, highlight=False), github, args.format)
    # Registered before any other line, so the runner hides them everywhere after.
    hooks.secrets(
        raw_secrets(environ) + ((args.registry_password,) if args.registry_password else ())
    )
    command: Command = args.command
    try:
        settings = load_settings(
            environ,
            project_dir=args.project_dir,
            prefect_file=args.prefect_file,
            names=tuple(args.name),
            all_=args.all,
            image=args.image,
            build=not getattr(args, "no_build", False),
            prune=args.prune,
            base=args.base,
            head=args.head,
            image_name=args.image_name,
            tags=tuple(args.tag),
            registry_username=args.registry_username,
            registry_password=args.registry_password,
        )
    except FlowdeployError as exc:
        result = RunResult(command=command, errors=(exc,))
    else:
        switch = CancelSwitch()
        try:
            with switch.installed():
                result = run(settings, command, hooks, switch=switch)
        except Exception:  # a bug of ours: reported like any error, never with a secret
            crash = InternalError.from_current(hooks.known)
            print(crash.trace, file=sys.stderr, flush=True)
            result = RunResult(command=command, settings=settings, errors=(crash,))
    return _render(result, args.format, hooks)


def _render(result: RunResult, fmt: str, hooks: _CliHooks) -> int:
    """stdout gets the chosen format only; warnings and errors go to stderr."""
    secrets = (*result.secrets, *hooks.known)
    hooks.secrets(result.secrets)
    for warning in result.warnings:
        hooks.warn(warning, secrets)
    for line in _error_lines(result, hooks.github):
        print(redact(line, secrets), file=sys.stderr, flush=True)
    if fmt == "json":
        text = report.run_json(result)
    elif fmt == "markdown":
        text = report.run_markdown(result)
    else:
        text = report.run_text(result)
    sys.stdout.write(redact(text, secrets))
    sys.stdout.flush()
    return result.exit_code


def _error_lines(result: RunResult, github: bool) -> list[str]:
    if github:
        return error_annotations(result.errors)
    return [f"error: {e.render()}" for e in report.flat_errors(result.errors)]


class _CliHooks(Hooks):
    """A rich status line and progress bar on a terminal; plain lines elsewhere; workflow
    commands (masks, groups) in GitHub Actions, on stderr so that stdout stays the format."""

    def __init__(self, err: Console, github: bool, fmt: str) -> None:
        self.err = err
        self.github = github
        self.fmt = fmt
        self.known: list[str] = []
        self._show: Callable[[str], None] | None = None
        self._advance: Callable[[], None] | None = None
        self._total = self._done = 0

    def secrets(self, values: Sequence[str]) -> None:
        fresh = [v for v in values if v and v not in self.known]
        self.known += fresh
        if self.github:
            for line in mask_commands(fresh):
                print(line, file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def stage(self, name: Literal["image", "apply"], total: int) -> Iterator[None]:
        if name == "image":
            if self.github:
                # The runner folds the build log; the lines stay plain so they can be searched.
                print("::group::Docker image", file=sys.stderr, flush=True)
                try:
                    yield
                finally:
                    print("::endgroup::", file=sys.stderr, flush=True)
            elif self.err.is_terminal:
                with self.err.status("Docker image") as status:
                    self._show = lambda line: status.update(escape(line)[:120])
                    try:
                        yield
                    finally:
                        self._show = None
            else:
                yield
            return
        if not total or self.fmt != "text" or not self.err.is_terminal:
            # Off a terminal (CI logs), a line per write, so a slow server is never silent.
            self._total, self._done = total, 0
            yield
            return
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=self.err,
            transient=True,
        ) as progress:
            task = progress.add_task("Applying deployments", total=total)
            self._advance = lambda: progress.advance(task)
            try:
                yield
            finally:
                self._advance = None

    def log(self, line: str) -> None:
        line = redact(line, self.known)
        if self._show is not None:
            self._show(line)
        else:
            print(line, file=sys.stderr, flush=True)

    def advance(self, item: PlannedDeployment) -> None:
        if self._advance is not None:
            self._advance()
            return
        self._done += 1
        if self._total and item.action is not Action.UNCHANGED:
            line = f"{item.action.value} {item.name} ({self._done}/{self._total})"
            print(redact(line, self.known), file=sys.stderr, flush=True)

    def retry(self, line: str) -> None:
        text = redact(line, self.known)
        if self.github or not self.err.is_terminal:
            print(f"retry: {text}", file=sys.stderr, flush=True)
        else:
            self.err.print(f"[dim]retry: {escape(text)}[/]", highlight=False, soft_wrap=True)

    def warn(self, warning: ConfigWarning, secrets: Sequence[str]) -> None:
        if self.github:
            line = warning_annotations([warning])[0]
            print(redact(line, secrets), file=sys.stderr, flush=True)
        else:
            text = escape(redact(str(warning), secrets))
            self.err.print(f"[yellow]warning:[/] {text}", highlight=False, soft_wrap=True)


if __name__ == "__main__":
    sys.exit(main())
