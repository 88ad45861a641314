from pydantic import BaseModel

from prefect import flow


class Recipient(BaseModel):
    email: str
    name: str = "team"


@flow
async def weekly_report(recipients: list[Recipient], top_n: int = 10) -> None:
    """Send the weekly KPI report."""
    for r in recipients:
        print(f"report for {r.name} <{r.email}>, top {top_n}")
