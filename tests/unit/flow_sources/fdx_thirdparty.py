# ruff: noqa
# Fixture: written the way users write flows (legacy typing, mutable defaults...).
"""Types defined outside the repository: flowdeploy cannot read their source."""

import httpx
from prefect.client.schemas.objects import StateType

from prefect import flow


@flow
def thirdparty(client: httpx.Client = None, state: StateType = None, n: int = 1):
    pass
