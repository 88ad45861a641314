"""``work_pool:`` of a deployment: ``{name, work_queue_name, job_variables}``. A pool is
required, as ``prefect deploy`` requires one when it cannot prompt; the pool-less rules
(an image, a queue or job variables need a pool) are checked where the API is read."""

from __future__ import annotations

from typing import Any

from flowdeploy.prefectyaml.context import Context


def work_pool(ctx: Context, value: Any, name: str, *at: str | int) -> dict[str, Any]:
    """The ``work_pool`` mapping ({} when it is unusable, with an error)."""
    if value is not None and not isinstance(value, dict):
        shown = value if isinstance(value, str) else "<pool>"
        ctx.error(
            f"'work_pool' of deployment {name!r} must be a mapping",
            *at,
            "work_pool",
            why="prefect deploy refuses the whole file otherwise",
            fix=f"write 'work_pool: {{name: {shown}}}'",
        )
        return {}
    pool = value or {}
    if not pool.get("name"):
        ctx.error(
            f"deployment {name!r} has no work pool",
            *at,
            "work_pool",
            "name",
            why="prefect deploy requires one when it cannot prompt",
            fix="add 'work_pool: {name: <pool>}' (prefect work-pool ls lists them)",
        )
    return pool
