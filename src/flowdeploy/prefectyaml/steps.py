"""build / push / pull steps, as ``prefect deploy`` picks them for each deployment.

flowdeploy runs no step: steps execute the repository's code. A Docker build (and push)
step describes the image flowdeploy builds itself (``--image`` / ``--image-name``), so its
outputs resolve to that image; any other build or push step is not run, and is said so at
its line, with what that means for the deployment. Pull steps are stored as written: a
worker runs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowdeploy import templating as tpl
from flowdeploy.imageplan import DOCKER_BUILD, DOCKER_PUSH
from flowdeploy.prefectyaml.context import Context
from flowdeploy.yamlfile import PathKey

SET_WORKDIR = "prefect.deployments.steps.set_working_directory"


@dataclass(frozen=True)
class Steps:
    """A step list and where it is written."""

    items: list[dict[str, Any]] = field(default_factory=list)
    path: PathKey = ()
    single: bool = False
    """Written as one mapping instead of a list (Prefect wraps it in a list)."""

    def located(self) -> list[tuple[dict[str, Any], PathKey]]:
        return [
            (s, self.path if self.single else (*self.path, i)) for i, s in enumerate(self.items)
        ]


@dataclass(frozen=True)
class TopSteps:
    """The file's top-level steps, the defaults of every deployment."""

    build: Steps
    push: Steps
    pull: Steps
    pull_value: Any
    """``pull`` as written: ``[]`` (no pull step at all) differs from none (the default)."""


@dataclass(frozen=True)
class DeploymentSteps:
    build: Steps
    push: Steps
    pull: Steps
    no_pull: bool
    """``pull: []``: no pull step, not even the default one."""
    default_from: Steps
    """The build steps Prefect's default pull step is derived from: the deployment's own
    when it has any, else the file's (``deploy_config.get("build") or actions["build"]``),
    even when ``build: []`` means nothing is built."""


def read_steps(ctx: Context, value: Any, *path: str | int) -> Steps:
    if value is None:
        return Steps(path=path)
    if isinstance(value, dict):
        return Steps([value] if value else [], path, single=True)
    if not isinstance(value, list) or not all(isinstance(s, dict) for s in value):
        ctx.error(
            f"'{path[-1]}' must be a list of steps",
            *path,
            fix="write each step as '- module.function: {…}'",
        )
        return Steps(path=path)
    return Steps(value, path)


def read_top_steps(ctx: Context, data: Mapping[str, Any]) -> TopSteps:
    return TopSteps(
        build=read_steps(ctx, data.get("build"), "build"),
        push=read_steps(ctx, data.get("push"), "push"),
        pull=read_steps(ctx, data.get("pull"), "pull"),
        pull_value=data.get("pull"),
    )


def deployment_steps(
    ctx: Context, config: Mapping[str, Any], top: TopSteps, *at: str | int
) -> DeploymentSteps:
    """The steps ``prefect deploy`` uses for one deployment (``_run_single_deploy``): its own
    ``build`` whenever given; its own ``push`` or ``pull`` only when not empty."""
    own = {
        key: read_steps(ctx, config[key], *at, key)
        for key in ("build", "push", "pull")
        if key in config
    }
    build = own.get("build", top.build)
    push = own["push"] if own.get("push", Steps()).items else top.push
    pull = own["pull"] if own.get("pull", Steps()).items else top.pull
    pull_value = config.get("pull", top.pull_value)
    default_from = build if build.items else top.build
    return DeploymentSteps(build, push, pull, no_pull=pull_value == [], default_from=default_from)


def warn_not_run(ctx: Context, steps: DeploymentSteps) -> None:
    """One warning at each build or push step flowdeploy does not run."""
    for kind, listed, replaced in (
        ("build", steps.build, DOCKER_BUILD),
        ("push", steps.push, DOCKER_PUSH),
    ):
        for step, path in listed.located():
            for fqn, kwargs in step.items():
                if fqn == replaced:
                    continue
                what = f"{kind} step {fqn} is not run by flowdeploy"
                args = kwargs if isinstance(kwargs, dict) else {}
                consequence = _push_consequence(fqn, args) if kind == "push" else _BUILD_CONSEQUENCE
                ctx.warn(f"{what}: {consequence}", *path, fqn)


_BUILD_CONSEQUENCE = (
    "flowdeploy never runs the repository's code, so whatever it builds or computes does not "
    "exist for this deploy; run it in a workflow step before flowdeploy, and pass what a "
    "deployment needs from it as an environment variable ({{ $NAME }})"
)

# push step -> (what its pull step fetches from, a command that uploads the same files)
_STORAGE: dict[str, tuple[str, str]] = {
    "prefect_aws.deployments.steps.push_to_s3": (
        "the S3 bucket",
        "aws s3 sync . s3://{bucket}/{folder}",
    ),
    "prefect_gcp.deployments.steps.push_to_gcs": (
        "the GCS bucket",
        "gcloud storage rsync --recursive . gs://{bucket}/{folder}",
    ),
    "prefect_azure.deployments.steps.push_to_azure_blob_storage": (
        "the Azure Blob Storage container",
        "az storage blob upload-batch --source . --destination {container} "
        "--destination-path {folder}",
    ),
}


def _push_consequence(fqn: str, args: Mapping[str, Any]) -> str:
    storage = _STORAGE.get(fqn)
    if storage is None:
        return (
            "nothing is uploaded, so a pull step that fetches this project's code gets what "
            "is already there, not this commit's; run the upload in a workflow step before "
            "flowdeploy, or ship the code in the image with a Docker build step"
        )
    place, command = storage
    names = {
        key: f"<{key}>" if args.get(key) is None else str(args[key])
        for key in ("bucket", "container", "folder")
    }
    upload = command.format(**names).rstrip("/ ")
    return (
        f"a pull step fetching from {place} gets the code already there, not this commit's; "
        "upload it "
        f"in a workflow step before flowdeploy ({upload}, leaving out what .prefectignore "
        "lists), or ship the code in the image with a Docker build step"
    )


def step_outputs(image: str | None, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Outputs of build/push steps. flowdeploy runs no user step: a Docker build step
    stands for the image (``--image``); other steps' outputs are unavailable."""
    outputs: dict[str, Any] = {}
    for step in steps:
        for fqn, kwargs in step.items():
            step_id = (kwargs or {}).get("id") if isinstance(kwargs, dict) else None
            if fqn in (DOCKER_BUILD, DOCKER_PUSH) and image:
                name, _, tag = image.rpartition(":")
                if not name or "/" in tag:
                    name, tag = image, "latest"
                if step_id:
                    outputs[step_id] = {"image": image, "image_name": name, "tag": tag}
            elif step_id:
                outputs[step_id] = _Unavailable(fqn)
    return outputs


def step_ids(steps: list[dict[str, Any]]) -> frozenset[str]:
    """The ``id`` of every step that has one."""
    return frozenset(
        str(kwargs["id"])
        for step in steps
        for kwargs in step.values()
        if isinstance(kwargs, dict) and kwargs.get("id")
    )


class _Unavailable(dict[str, Any]):
    """Outputs of a step flowdeploy does not run: every lookup misses."""

    def __init__(self, fqn: str) -> None:
        super().__init__()
        self.fqn = fqn


def default_pull(
    root: Path, build: list[dict[str, Any]], work_pool: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Prefect's generated pull step when the file gives none (non-interactive)."""
    docker = next((s[DOCKER_BUILD] for s in build if DOCKER_BUILD in s), None)
    if docker is not None:
        if (docker or {}).get("dockerfile") == "auto":
            return [{SET_WORKDIR: {"directory": f"/opt/prefect/{root.name}"}}]
        return []
    if (work_pool.get("job_variables") or {}).get("image"):
        return [{SET_WORKDIR: {"directory": "/opt/prefect"}}]
    return [{SET_WORKDIR: {"directory": str(root)}}]


def pull_steps(
    steps: DeploymentSteps,
    outputs: dict[str, Any],
    environ: Mapping[str, str],
    root: Path,
    work_pool: Mapping[str, Any],
    *at: str | int,
) -> list[dict[str, Any]]:
    """The pull steps stored with the deployment: placeholders a worker resolves (blocks,
    variables, missing ones) are kept as written."""
    if steps.no_pull:
        return []
    chosen = steps.pull.items or default_pull(root, steps.default_from.items, work_pool)
    steps_or_env = tpl.mapping_resolver(outputs)
    env = tpl.env_resolver(environ)
    rendered: list[dict[str, Any]] = tpl.render(
        chosen,
        frozenset({tpl.Kind.STEP, tpl.Kind.ENV}),
        lambda name: env(name) if name.startswith("$") else steps_or_env(name),
        path=(*at, "pull"),
        keep_missing=True,
    )
    return rendered
