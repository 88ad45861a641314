# ruff: noqa
# Fixture: written the way users write flows (legacy typing, mutable defaults...).
"""Every way of making a flow that flowdeploy reads."""

import prefect
import prefect as pf
from fdx_pkg import flows as pkg_flows
from fdx_pkg.flows import NAME_CONST
from fdx_pkg.flows import shared_flow as imported_flow
from prefect import Flow, flow, task
from prefect import flow as prefect_flow
from prefect.flows import flow as flows_flow

FLOW_NAME = "from-constant"


@flow
def bare_flow(x: int = 1):
    """Bare decorator."""


@flow()
def called_flow():
    pass


@prefect.flow(name="explicit-name", description="explicit description", version="1.2.3")
def explicit():
    """Docstring loses to description=."""


@pf.flow(name=FLOW_NAME)
def constant_name():
    pass


@prefect_flow(name=f"{FLOW_NAME}-fstring")
def fstring_name():
    pass


@flows_flow(name=NAME_CONST)
def imported_constant():
    pass


@flow(description="", name="")
def empty_settings():
    """
    Real doc, indented
        more indented.
    """


@flow
async def async_flow(a: int):
    pass


def plain(x: int = 1):
    """Plain function."""


called = flow(plain)
named = flow(name="named-by-call")(plain)
klass = Flow(plain, name="by-class", version="v9")
renamed = explicit.with_options(name="renamed")
chained = renamed.with_options(description="chained")
from_package = pkg_flows.shared_flow.with_options(version="pkg-v")

retrying = flow(retries=3, name="via-alias")


@retrying
def via_alias():
    pass


@task
def a_task():
    pass


def undecorated():
    pass


NOT_A_FLOW = 3


class Holder:
    @flow(name="method-flow")
    def method(self, a: int = 1):
        pass

    @flow
    @staticmethod
    def static(b: str = "b"):
        pass


if __name__ == "__main__":

    @flow
    def main_only():
        pass
