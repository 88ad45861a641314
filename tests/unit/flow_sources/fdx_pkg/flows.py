# ruff: noqa
# Fixture: written the way users write flows (legacy typing, mutable defaults...).
from prefect import flow

NAME_CONST = "pkg-constant"


@flow(name="shared")
def shared_flow(n: int = 1) -> int:
    """Shared flow, defined in a package."""
    return n
