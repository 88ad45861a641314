from datetime import date
from typing import Literal, Optional

from prefect import flow, task

from lib.db import table_name


@task
def extract(source: str) -> list[int]:
    return [len(table_name(source))]


@flow(name="etl", log_prints=True)
def etl(source: str = "orders", day: Optional[date] = None,
        mode: Literal["full", "incremental"] = "incremental", batch_size: int = 500) -> int:
    """Load one source into the warehouse.

    Args:
        source: name of the upstream system
        day: the day to load; today when empty
        mode: full reload or only new rows
        batch_size: rows per insert
    """
    rows = extract(source)
    print(f"loaded {sum(rows)} rows from {source} ({mode})")
    return sum(rows)
