"""The public API, with the reference's signatures: ``RunnerDeployment.apply()``,
``DeploymentImage`` and ``deploy()``.

Like ``prefect.docker.DockerImage`` and ``prefect.deploy``, but the default tag is the commit
the image is built from (the reference uses a timestamp), and ``deploy()`` neither builds nor
pushes when the registry already has that tag.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from flowdeploy import report
from flowdeploy.api import PrefectApi
from flowdeploy.errors import ConfigError, FlowdeployError
from flowdeploy.git import checkout
from flowdeploy.image import (
    Engine,
    ImageSpec,
    RegistryAuth,
    docker_config_auth,
    image_exists,
    parse_reference,
    split_tag,
)
from flowdeploy.pipeline import (
    Outcome,
    PoolCache,
    Results,
    Status,
    apply_deployment,
    server_errors,
)
from flowdeploy.runner import Deployment
from flowdeploy.settings import connection_from_env


class RunnerDeployment(Deployment):
    """A deployment as ``prefect deploy`` registers it, and how to register it.

    The fields live on ``flowdeploy.runner.Deployment`` (the model the engine plans with);
    this class adds ``apply()``, which needs the orchestration the model must not import.
    """

    def apply(
        self,
        work_pool_name: str | None = None,
        image: str | None = None,
        *,
        api: PrefectApi | None = None,
    ) -> str:
        """Register this deployment (create or update) and return its id.

        Validates as Prefect does first: an image, a work queue or job variables need a
        work pool; the pool must exist; a pool used with an image must take one. A
        server-side failure raises ``DeploymentApplyError`` with the server's detail.
        """
        return apply_deployment(self, work_pool_name=work_pool_name, image=image, api=api)


class DeploymentImage:
    """An image to build for deployments: ``name[:tag]``, a Dockerfile (``auto`` generates
    the reference's default), and Docker build arguments (``context`` among them)."""

    def __init__(
        self,
        name: str,
        tag: str | None = None,
        dockerfile: str = "auto",
        **build_kwargs: Any,
    ) -> None:
        image_name, image_tag = split_tag(name)
        if tag and image_tag:
            raise ConfigError(
                f"only one tag can be given: both {image_tag!r} and {tag!r} were",
                fix="put the tag in the name or in tag=, not both",
            )
        self.context = Path(build_kwargs.pop("context", None) or Path.cwd())
        self.name = image_name
        self.tag = tag or image_tag or _commit_tag(self.context)
        self.dockerfile = dockerfile
        self.build_kwargs = build_kwargs
        self.digest: str | None = None

    @property
    def reference(self) -> str:
        return f"{self.name}:{self.tag}"

    def spec(self) -> ImageSpec:
        kwargs = dict(self.build_kwargs)
        return ImageSpec(
            name=self.name,
            tag=self.tag,
            context=self.context,
            dockerfile=self.dockerfile,
            buildargs=kwargs.pop("buildargs", None) or {},
            platform=kwargs.pop("platform", None),
            target=kwargs.pop("target", None),
            labels=kwargs.pop("labels", None) or {},
            build_kwargs=kwargs,
        )

    def auth(self) -> RegistryAuth | None:
        return docker_config_auth(parse_reference(self.reference).registry)

    def exists(self) -> bool:
        """Whether the registry already has this reference."""
        return image_exists(self.reference, self.auth())

    def build(self) -> None:
        engine = Engine()
        try:
            engine.build(self.spec(), _print)
        finally:
            engine.close()

    def push(self) -> None:
        engine = Engine()
        try:
            self.digest = engine.push(self.spec(), self.auth(), _print) or None
        finally:
            engine.close()


def _commit_tag(context: Path) -> str:
    try:
        return checkout(context, {}).sha
    except ConfigError:
        # Outside a repository there is no commit: the reference's timestamp tag.
        return datetime.now(timezone.utc).strftime("%Y-%m-%dt%H-%M-%S-%fz")


def _print(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def deploy(
    *deployments: Deployment,
    work_pool_name: str | None = None,
    image: str | DeploymentImage | None = None,
    build: bool = True,
    push: bool = True,
    print_next_steps_message: bool = True,
) -> list[str]:
    """Build and push ``image`` once (skipped when the registry has it), then create or
    update each deployment on ``work_pool_name`` with it; the deployment ids.

    A failing deployment does not stop the others; when one of several fails, the table
    says which and why, and the ids of the others are returned.
    """
    pool_name = work_pool_name or os.environ.get("PREFECT_DEPLOYMENTS_DEFAULT_WORK_POOL_NAME")
    if not pool_name:
        raise ConfigError(
            "a work pool name is needed to deploy",
            fix="pass work_pool_name=, or set PREFECT_DEPLOYMENTS_DEFAULT_WORK_POOL_NAME",
        )
    if isinstance(image, str):
        name, tag = split_tag(image)
        image = DeploymentImage(name, tag)
    # Without an image, each flow must come from storage (pull steps) or an installed module.
    remote = all(
        d.pull_steps or not (d.entrypoint or "").split(":")[0].endswith(".py") for d in deployments
    )
    if image is None and not remote:
        raise ConfigError(
            "an image or a remote storage location is needed to deploy",
            fix="pass image=, or create the deployments with RunnerDeployment.from_storage",
        )
    reference = image.reference if image is not None else None
    with PrefectApi(connection_from_env(os.environ)) as api:
        pools = PoolCache(api)
        # apply()'s checks (the pool exists, takes an image), before anything is built.
        for dep in deployments:
            errors = server_errors(dep.with_target(pool_name, reference), None, pools, reference)
            if errors:
                raise errors[0]
        managed = str((pools.get(pool_name) or {}).get("type", "")).endswith(":managed")
        # The registry is asked first: a commit already built and pushed is not rebuilt.
        if image is not None and build and not managed and not (push and image.exists()):
            image.build()
            if push:
                image.push()
        ids, outcomes = [], []
        for dep in deployments:
            try:
                dep_id = apply_deployment(dep, work_pool_name=pool_name, image=reference, api=api)
            except FlowdeployError as exc:
                if len(deployments) == 1:
                    raise
                outcomes.append(Outcome(name=dep.full_name, status=Status.FAILED, detail=exc.what))
                continue
            ids.append(dep_id)
            outcomes.append(
                Outcome(
                    name=dep.full_name,
                    status=Status.APPLIED,
                    deployment_id=dep_id,
                    work_pool_name=pool_name,
                )
            )
        if print_next_steps_message:
            print(report.render_results_text(Results(outcomes=tuple(outcomes)), None))
    return ids
