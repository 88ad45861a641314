"""A shared helper the flows import: a change here affects every flow that uses it."""


def table_name(source: str) -> str:
    return f"raw_{source}"
