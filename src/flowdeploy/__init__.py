"""flowdeploy: deploy Prefect flows from a git repository, only what a commit changed."""

from __future__ import annotations

from flowdeploy.errors import DeploymentApplyError

__all__ = ["DeploymentApplyError"]
__version__ = "0.1.0"
