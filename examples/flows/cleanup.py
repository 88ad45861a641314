from datetime import timedelta

from prefect import flow

from lib.db import table_name


@flow(name="cleanup")
def cleanup(older_than: timedelta = timedelta(days=30), dry_run: bool = True) -> None:
    """Drop staging tables older than a cutoff."""
    print(f"would drop {table_name('staging')} rows older than {older_than} (dry run: {dry_run})")
