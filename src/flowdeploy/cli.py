"""Command line: argument parsing and output routing only."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from flowdeploy import report
from flowdeploy.api import PrefectApi
from flowdeploy.deploy import (
    ImageJob,
    Results,
    apply_plan,
    pools_without_workers,
    publish_images,
    read_plan,
)
from flowdeploy.errors import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, ConfigWarning, FlowdeployError
from flowdeploy.plan import Action, Plan
from flowdeploy.scope import Scope
from flowdeploy.settings import Settings, load_settings


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
    err = Console(stderr=True, highlight=False)
    environ = dict(os.environ)
    github = environ.get("GITHUB_ACTIONS") == "true"
    for secret in (
        environ.get("PREFECT_API_KEY"),
        environ.get("PREFECT_API_AUTH_STRING"),
        environ.get("FLOWDEPLOY_REGISTRY_PASSWORD"),
        args.registry_password,
    ):
        if secret and github:
            # Registered before any other line, so the runner hides it everywhere after. On
            # stderr (the runner reads commands there too) to keep --format json pure.
            print(f"::add-mask::{secret}", file=sys.stderr, flush=True)
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
        with PrefectApi(settings.connection) as api:
            reading = read_plan(settings, api)
            projects, plan, scope = reading.projects, reading.plan, reading.scope
            project_secrets = {s for p in projects for s in p.secrets}
            if github:
                for secret in project_secrets:
                    print(f"::add-mask::{secret}", file=sys.stderr, flush=True)
            secrets = (*settings.secrets, *project_secrets)
            warnings = [w for p in projects for w in p.warnings]
            for warning in warnings:
                _warn(err, str(warning), github, warning.where)
            for text in scope.warnings:
                _warn(err, text, github)
            for job in reading.images:
                if job.problem and args.command == "plan":
                    _warn(
                        err,
                        f"cannot tell whether image {job.reference} exists: {job.problem}",
                        github,
                    )
            note = _note(scope, plan)
            images = list(reading.images)
            results = None
            if args.command == "apply":
                # The image first: no deployment may point at an image that failed.
                images = _publish(images, settings, err, github, secrets)
                results = _apply(plan, api, err, args.format, settings.prune)
            if args.format == "json":
                doc_scope = {
                    "note": note,
                    "base": scope.comparison.base if scope.comparison else None,
                    "head": scope.comparison.head if scope.comparison else None,
                    "rebuild_image": scope.rebuild_image,
                }
                all_warnings: list[ConfigWarning | str] = [*warnings, *scope.warnings]
                document = report.plan_document(plan, results, all_warnings, doc_scope)
                document["images"] = [_image_doc(j, results is not None) for j in images]
                text = json.dumps(document, indent=2, default=str) + "\n"
            elif args.format == "markdown":
                text = report.render_markdown(plan, results, note) + "\n"
            elif results is None:
                text = report.render_plan_text(plan, note) + _image_lines(images, False)
            else:
                pools = {o.work_pool_name for o in results.outcomes if o.work_pool_name}
                text = _image_lines(images, True) + report.render_results_text(
                    results, settings.connection.ui_url, pools_without_workers(api, pools)
                )
            sys.stdout.write(redact(text, secrets))
            return EXIT_FAILED if results and results.failed else EXIT_OK
    except FlowdeployError as exc:
        _error(err, exc, github)
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_CONFIG


def _publish(
    images: list[ImageJob],
    settings: Settings,
    err: Console,
    github: bool,
    secrets: Sequence[str],
) -> list[ImageJob]:
    """Build and push, with the log folded in a group in GitHub Actions."""
    if not any(j.to_publish for j in images):
        return images

    if github:
        # The runner folds the build log; the lines stay plain so they can be searched.
        print("::group::Docker image", file=sys.stderr, flush=True)
        try:
            return publish_images(images, settings, lambda line: _plain(line, secrets))
        finally:
            print("::endgroup::", file=sys.stderr, flush=True)
    if not err.is_terminal:
        return publish_images(images, settings, lambda line: _plain(line, secrets))
    with err.status("Docker image") as status:

        def show(line: str) -> None:
            status.update(escape(redact(line, secrets))[:120])

        return publish_images(images, settings, show)


def _plain(line: str, secrets: Sequence[str]) -> None:
    print(redact(line, secrets), file=sys.stderr, flush=True)


def _image_state(job: ImageJob, applied: bool) -> str:
    if job.spec is None:
        return "given with --image (not built)"
    if not job.used:
        return "not needed: no planned deployment runs on it"
    if job.digest:
        return f"built and pushed ({job.digest})"
    if job.exists:
        return "already in the registry: not built or pushed"
    if job.problem:
        return f"unknown ({job.problem})"
    return "not built" if applied else "not in the registry: apply builds and pushes it"


def _image_doc(job: ImageJob, applied: bool) -> dict[str, object]:
    return {
        "reference": job.reference,
        "used": job.used,
        "exists": job.exists,
        "built": job.digest is not None,
        "digest": job.digest,
        "problem": job.problem,
        "state": _image_state(job, applied),
    }


def _image_lines(images: Sequence[ImageJob], applied: bool) -> str:
    return "".join(f"Image {j.reference}: {_image_state(j, applied)}\n" for j in images)


def _note(scope: Scope, plan: Plan) -> str:
    if scope.comparison is None or scope.comparison.base is None:
        return scope.note
    affected = len([i for i in plan.items if i.action is not Action.ORPHANED])
    return f"{scope.note}: {affected} affected deployment{'s' if affected != 1 else ''}"


def _apply(plan: Plan, api: PrefectApi, err: Console, fmt: str, prune: bool) -> Results:
    writes = len(plan.writes)
    if not writes or fmt != "text" or not err.is_terminal:
        return apply_plan(plan, api, prune=prune)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("Applying deployments", total=len(plan.items))
        return apply_plan(plan, api, progress=lambda _: progress.advance(task), prune=prune)


def redact(text: str, secrets: Sequence[str]) -> str:
    """No secret in any output: block values and credentials become ***."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _warn(err: Console, message: str, github: bool, where: object = None) -> None:
    if github:
        loc = getattr(where, "path", None), getattr(where, "line", None)
        props = f" file={loc[0]},line={loc[1]}" if loc[0] and loc[1] else ""
        print(f"::warning{props}::{message}", file=sys.stderr)
    else:
        err.print(f"[yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)


def _error(err: Console, exc: FlowdeployError, github: bool) -> None:
    errors = getattr(exc, "errors", [exc])
    for one in errors:
        if github:
            where = one.where
            props = f" file={where.path},line={where.line}" if where and where.line else ""
            text = one.render().replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
            print(f"::error{props}::{text}", file=sys.stderr)
        else:
            err.print(f"error: {one.render()}", markup=False, highlight=False, soft_wrap=True)


if __name__ == "__main__":
    sys.exit(main())
