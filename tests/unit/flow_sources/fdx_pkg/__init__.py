# ruff: noqa
# Fixture: written the way users write flows (legacy typing, mutable defaults...).
"""Re-exports, so flows can import models from the package."""

from fdx_pkg.enums import *  # noqa: F403
from .models import Order as Order
from .models import Customer

__all__ = ["Customer", "Order"]
