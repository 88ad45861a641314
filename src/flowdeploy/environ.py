"""What the process environment holds before anything is parsed: the Action's inputs as the
runner passes them, and every secret a run may meet (the CLI masks these first, before it
loads the Action's own modules)."""

from __future__ import annotations

from collections.abc import Mapping

from flowdeploy.masking import url_secrets
from flowdeploy.profiles import profile_secrets

SECRET_INPUTS = ("prefect-api-key", "prefect-api-auth-string", "registry-password", "github-token")


def input_value(environ: Mapping[str, str], name: str) -> str:
    """An input as the runner passes it: ``INPUT_PREFECT-API-URL`` (GitHub keeps the
    dashes); ``INPUT_PREFECT_API_URL`` is accepted too, for runners and tests that cannot
    set a variable with a dash in its name."""
    upper = name.upper().replace(" ", "_")
    for key in (f"INPUT_{upper}", f"INPUT_{upper.replace('-', '_')}"):
        value = environ.get(key)
        if value is not None and value.strip():
            return value.strip()
    return ""


def raw_secrets(environ: Mapping[str, str]) -> tuple[str, ...]:
    """Every secret the run may meet, read before anything is validated or printed."""
    values = [input_value(environ, name) for name in SECRET_INPUTS]
    for key in (
        "PREFECT_API_KEY",
        "PREFECT_API_AUTH_STRING",
        "FLOWDEPLOY_REGISTRY_PASSWORD",
        "GITHUB_TOKEN",
    ):
        values.append(environ.get(key, ""))
    values += url_secrets(input_value(environ, "prefect-api-url"))
    values += url_secrets(environ.get("PREFECT_API_URL"))
    values += profile_secrets(environ)
    return tuple(v for v in values if v)
