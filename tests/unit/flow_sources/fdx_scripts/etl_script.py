# ruff: noqa
# Fixture: written the way users write flows (legacy typing, mutable defaults...).
from helpers_mod import Params
from prefect import flow

from .rel_mod import Mode


@flow
def etl(params: Params, mode: Mode = Mode.FAST):
    """Script with sibling imports."""
