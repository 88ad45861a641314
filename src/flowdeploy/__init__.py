"""flowdeploy: deploy Prefect flows from a git repository, only what a commit changed.

The public API mirrors Prefect's ``prefect.deployments.runner``. Run in the repository, with
PREFECT_API_URL naming the server; the flow is read from source, never imported::

    from flowdeploy import DeploymentImage, RunnerDeployment, deploy

    nightly = RunnerDeployment.from_entrypoint(
        "flows/etl.py:etl", "nightly", cron="0 2 * * *", work_pool_name="default-pool"
    )
    deployment_id = nightly.apply()

    # several deployments on one image, built once per commit (push=True also pushes it)
    daily = RunnerDeployment.from_entrypoint("flows/etl.py:etl", "daily", interval=86400)
    hourly = RunnerDeployment.from_entrypoint("flows/etl.py:etl", "hourly", interval=3600)
    deployment_ids = deploy(
        daily,
        hourly,
        work_pool_name="docker-pool",
        image=DeploymentImage("registry.example.com/team/flows", dockerfile="Dockerfile"),
        push=False,
    )
"""

from __future__ import annotations

# No import at module level but sys (built in, always loaded): ``python -m flowdeploy``
# imports this package before __main__ can take the working directory (the user's
# repository) off sys.path; another stdlib import here could pick up a same-named file of
# the repository.
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from flowdeploy.errors import DeploymentApplyError
    from flowdeploy.publish import DeploymentImage, RunnerDeployment, deploy

# httpx imports its command-line client (click, pygments, rich.progress: 50 ms of every run)
# unless that import fails, which None in sys.modules makes it do; flowdeploy never runs
# ``python -m httpx``, and a process that already imported httpx keeps its client.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

__all__ = ["DeploymentApplyError", "DeploymentImage", "RunnerDeployment", "deploy"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Imported on first use: the CLI and the engine's modules import the package, and must
    # not pay for (or depend on) the public API's orchestration.
    if name == "DeploymentApplyError":
        from flowdeploy.errors import DeploymentApplyError

        return DeploymentApplyError
    if name in ("DeploymentImage", "RunnerDeployment", "deploy"):
        from flowdeploy import publish

        return getattr(publish, name)
    raise AttributeError(f"module 'flowdeploy' has no attribute {name!r}")
