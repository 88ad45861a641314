"""``concurrency_limit:`` of a deployment: an integer, or ``{limit, collision_strategy,
grace_period_seconds}`` split as Prefect splits it into the limit and its options. The
bounds the server enforces are checked later (``flowdeploy.validation``)."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from flowdeploy.prefectyaml.context import Context

COLLISION_STRATEGIES = ("ENQUEUE", "CANCEL_NEW")
_INT = TypeAdapter(int)


def concurrency(
    ctx: Context, value: Any, *at: str | int
) -> tuple[int | None, dict[str, Any] | None]:
    """(concurrency_limit, concurrency_options) as the API takes them."""
    if value is None:
        return None, None
    value = _lax_int(value)
    if isinstance(value, bool) or not isinstance(value, (int, dict)):
        ctx.error(
            "concurrency_limit must be an integer or a mapping",
            *at,
            "concurrency_limit",
            fix="write 'concurrency_limit: 2' or "
            "'concurrency_limit: {limit: 2, collision_strategy: CANCEL_NEW}'",
        )
        return None, None
    if isinstance(value, int):
        return value, None
    strategy = value.get("collision_strategy")
    if strategy is not None and strategy not in COLLISION_STRATEGIES:
        ctx.error(
            f"collision_strategy {strategy!r} is not valid",
            *at,
            "concurrency_limit",
            "collision_strategy",
            fix=f"use one of {', '.join(COLLISION_STRATEGIES)}",
        )
    options: dict[str, Any] = {"collision_strategy": strategy}
    if value.get("grace_period_seconds") is not None:
        options["grace_period_seconds"] = value["grace_period_seconds"]
    return _lax_int(value.get("limit")), options


def _lax_int(value: Any) -> Any:
    """``"2"`` and ``2.0`` are the integer 2, as Prefect's model (pydantic, lax) reads them;
    anything else is left for the checks to refuse."""
    if isinstance(value, (str, float)):
        try:
            return _INT.validate_python(value)
        except ValidationError:
            return value
    return value
