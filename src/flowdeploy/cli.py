"""Command line: argument parsing and output routing only.

Only argparse is imported up front: ``flowdeploy --version`` and ``--help`` must not pay for
the engine (docker, git, rich's progress bars). A run reads its settings and checks the
server first, so that a wrong URL or a stopped server is said before the engine is loaded.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from flowdeploy import collector  # the standard library only
from flowdeploy.masking import redact  # the standard library only

if TYPE_CHECKING:
    from rich.console import Console

    from flowdeploy.api import PrefectApi
    from flowdeploy.cancel import CancelSwitch
    from flowdeploy.errors import ConfigWarning, FlowdeployError
    from flowdeploy.plan import PlannedDeployment
    from flowdeploy.run import Hooks, RunResult
    from flowdeploy.settings import Settings


def version() -> str:
    """The installed distribution's version (the package's own when run from a checkout)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("flowdeploy")
    except PackageNotFoundError:
        from flowdeploy import __version__

        return __version__


class _Version(argparse.Action):
    """``--version``, looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(
            option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=kwargs.get("help")
        )

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(f"flowdeploy {version()}", flush=True)
        parser.exit()


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="flowdeploy",
        description="Deploy Prefect flows from prefect.yaml: plan what changes, apply only that.",
    )
    root.add_argument("--version", action=_Version, help="print the version and exit")
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
            help="path of the prefect.yaml (its entrypoints are relative to PROJECT_DIR, as "
            "with prefect deploy --prefect-file), or a glob such as 'projects/*/prefect.yaml' "
            "(each file a project in its own folder; default: PROJECT_DIR/prefect.yaml)",
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


def entry() -> NoReturn:
    """The console script: ``main()``, then out of the process without tearing it down."""
    collector.hold()
    leave(main())


def leave(code: int) -> NoReturn:
    """Exit with ``code`` once the output is flushed, skipping the interpreter's teardown.

    A run keeps every parsed file and its schema until the end; freeing them object by
    object at exit took a quarter of a second on 300 flows, after all the work was done.
    Nothing is left to clean up by then: files and temporary directories are closed by
    their ``with`` blocks, and flowdeploy registers no exit handler.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from rich.console import Console

    from flowdeploy.cancel import Cancelled, CancelSwitch, Interrupted
    from flowdeploy.errors import FlowdeployError

    environ = dict(os.environ)
    github = environ.get("GITHUB_ACTIONS") == "true"
    output = _Output(Console(stderr=True, highlight=False), github, args.format)
    if github:
        # Registered before any other line, so the runner hides them everywhere after.
        output.secrets(_raw_secrets(environ, args))
    switch = CancelSwitch()
    settings: Settings | None = None
    with switch.installed():
        try:
            settings = _settings(environ, args)
            api = _connect(settings, args.command, output)
        except FlowdeployError as exc:
            # A failed server check is said without loading the engine.
            return _failed(exc, args, output, settings, fast=settings is not None)
        except Interrupted:
            # A second signal before the run started: nothing was written.
            cancelled = switch.error() or Cancelled(signal.SIGINT, abandoned=True)
            return _failed(cancelled, args, output, settings)
        except Exception:  # a bug of ours: reported like any error, never with a secret
            return _failed(_crash(output, args), args, output, settings)
        return _run(settings, args, output, switch, api)


def _settings(environ: dict[str, str], args: argparse.Namespace) -> Settings:
    from flowdeploy.settings import load_settings

    return load_settings(
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


def _connect(settings: Settings, command: str, output: _Output) -> PrefectApi | None:
    """The server's health, checked before the engine is loaded: a wrong URL or a stopped
    server is said in a fraction of a second (loading the engine takes most of one), and a
    server that answers 503 is said to be retried at once. None: no server to check here
    (no URL, or apply on a pull request, which ``run`` refuses before connecting)."""
    refused = (
        command == "apply" and settings.range is not None and settings.range.kind == "pull-request"
    )
    if not settings.api_url or refused:
        return None
    from flowdeploy.api import PrefectApi

    output.secrets(settings.secrets)  # nothing the check may say can show them
    api = PrefectApi(settings.connection, on_retry=output.retry)
    try:
        api.check()
    except BaseException:
        api.close()
        raise
    if settings.range is None:
        # Without commits to compare, the plan reads every deployment (pipeline.read_plan):
        # asked now, the server answers while the engine loads.
        api.read_deployments_early()
    return api


def _run(
    settings: Settings,
    args: argparse.Namespace,
    output: _Output,
    switch: CancelSwitch,
    api: PrefectApi | None,
) -> int:
    from flowdeploy.run import RunResult, run

    output.secrets(_raw_secrets(dict(os.environ), args))
    try:
        result = run(settings, args.command, _engine_hooks(output), switch=switch, api=api)
    except Exception:  # a bug of ours: reported like any error, never with a secret
        crash = _crash(output, args)
        result = RunResult(command=args.command, settings=settings, errors=(crash,))
    finally:
        if api is not None:
            api.close()
    return _render(result, args.format, output)


def _failed(
    error: FlowdeployError,
    args: argparse.Namespace,
    output: _Output,
    settings: Settings | None = None,
    *,
    fast: bool = False,
) -> int:
    """A run that failed before it started. ``fast``: said without loading the engine when
    the text format allows (stdout is empty then, as for any failed run); the message can
    only quote what ``settings.secrets`` holds, registered before the check."""
    if fast and args.format == "text" and not output.github:
        for part in getattr(error, "errors", None) or [error]:
            print(redact(f"error: {part.render()}", output.known), file=sys.stderr, flush=True)
        return error.exit_code
    from flowdeploy.run import RunResult

    output.secrets(_raw_secrets(dict(os.environ), args))
    result = RunResult(command=args.command, settings=settings, errors=(error,))
    return _render(result, args.format, output)


def _crash(output: _Output, args: argparse.Namespace) -> FlowdeployError:
    """The exception being handled, as an error: its trace printed, every secret masked."""
    from flowdeploy.errors import InternalError

    output.secrets(_raw_secrets(dict(os.environ), args))
    crash = InternalError.from_current(output.known)
    print(crash.trace, file=sys.stderr, flush=True)
    return crash


def _raw_secrets(environ: dict[str, str], args: argparse.Namespace) -> tuple[str, ...]:
    from flowdeploy.environ import raw_secrets

    given = (args.registry_password,) if args.registry_password else ()
    return raw_secrets(environ) + given


def _render(result: RunResult, fmt: str, output: _Output) -> int:
    """stdout gets the chosen format only; warnings and errors go to stderr."""
    from rich.console import Console

    from flowdeploy import report

    secrets = (*result.secrets, *output.known)
    output.secrets(result.secrets)
    for warning in result.warnings:
        output.warn(warning, secrets)
    for line in _error_lines(result, output.github):
        print(redact(line, secrets), file=sys.stderr, flush=True)
    if fmt == "json":
        text = report.run_json(result)
    elif fmt == "markdown":
        text = report.run_markdown(result)
    else:
        # Rich decides as for any terminal output: a TTY, or FORCE_COLOR; not NO_COLOR, nor
        # TERM=dumb. Piped or in a CI log, plain text.
        out = Console(file=sys.stdout)
        color = out.color_system is not None and not out.no_color
        text = report.run_text(result, color=color, width=out.width if color else None)
    sys.stdout.write(redact(text, secrets))
    sys.stdout.flush()
    return result.exit_code


def _error_lines(result: RunResult, github: bool) -> list[str]:
    if not result.errors:
        return []  # and the Action's modules stay unloaded (5 ms of a no-op run)
    from flowdeploy import report
    from flowdeploy.action import error_annotations

    if github:
        return error_annotations(result.errors)
    return [f"error: {e.render()}" for e in report.flat_errors(result.errors)]


def _engine_hooks(output: _Output) -> Hooks:
    """``output`` as the run's Hooks (defined here: the engine is imported once a run starts)."""
    from flowdeploy.run import Hooks

    class CliHooks(Hooks):
        def secrets(self, values: Sequence[str]) -> None:
            output.secrets(values)

        @contextlib.contextmanager
        def stage(self, name: Literal["image", "apply"], total: int) -> Iterator[None]:
            with output.stage(name, total):
                yield

        def log(self, line: str) -> None:
            output.log(line)

        def advance(self, item: PlannedDeployment) -> None:
            output.advance(item)

        def retry(self, line: str) -> None:
            output.retry(line)

    return CliHooks()


class _Output:
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
            from flowdeploy.action import mask_commands

            for line in mask_commands(fresh):
                print(line, file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def stage(self, name: Literal["image", "apply"], total: int) -> Iterator[None]:
        from rich.markup import escape

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
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

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
        from flowdeploy.plan import Action

        if self._advance is not None:
            self._advance()
            return
        self._done += 1
        if self._total and item.action is not Action.UNCHANGED:
            line = f"{item.action.value} {item.name} ({self._done}/{self._total})"
            print(redact(line, self.known), file=sys.stderr, flush=True)

    def retry(self, line: str) -> None:
        """Said at the first retry, not after the last: a server that is down or
        overloaded is never a silent wait."""
        from rich.markup import escape

        text = redact(line, self.known)
        if self.github or not self.err.is_terminal:
            print(f"retry: {text}", file=sys.stderr, flush=True)
        else:
            self.err.print(f"[dim]retry: {escape(text)}[/]", highlight=False, soft_wrap=True)

    def warn(self, warning: ConfigWarning, secrets: Sequence[str]) -> None:
        from rich.markup import escape

        from flowdeploy.action import warning_annotations

        if self.github:
            line = warning_annotations([warning])[0]
            print(redact(line, secrets), file=sys.stderr, flush=True)
        else:
            text = escape(redact(str(warning), secrets))
            self.err.print(f"[yellow]warning:[/] {text}", highlight=False, soft_wrap=True)


if __name__ == "__main__":
    sys.exit(main())
