"""Secrets and the forms they take in output: what to register with ``::add-mask::`` and
what to replace with ``***`` in every text flowdeploy writes (pure)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

MASK = "***"
_SHORTEST = 4
"""Shorter fragments are not masked alone: hiding every "ab" would garble all output."""


def secret_forms(secrets: Iterable[str | None]) -> tuple[str, ...]:
    """Each secret, and what it becomes on the way out: its lines (a runner mask covers one
    line), its JSON-escaped form, and the base64 of a ``user:password`` auth string (the
    Basic header value). Longest first, so a longer form is replaced before its parts."""
    forms: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        for value in (secret, *secret.splitlines()):
            value = value.strip("\r")
            if len(value) < _SHORTEST:
                continue
            forms.add(value)
            forms.add(json.dumps(value)[1:-1])
            forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
        if ":" in secret and "\n" not in secret:
            forms.add(base64.b64encode(secret.encode()).decode())
    return tuple(sorted((f for f in forms if len(f) >= _SHORTEST), key=len, reverse=True))


def url_secrets(url: str | None) -> tuple[str, ...]:
    """The credentials written into a URL (``https://user:pass@host``)."""
    if not url:
        return ()
    try:
        parts = urlsplit(url)
    except ValueError:
        return ()
    if not parts.password and not parts.username:
        return ()
    userinfo = parts.netloc.rpartition("@")[0]
    found = [userinfo, unquote(userinfo)]
    if parts.password:
        found += [parts.password, unquote(parts.password)]
    return tuple(found)


def strip_userinfo(url: str) -> str:
    """The URL as it may be shown: without ``user:password@``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def redact(text: str, secrets: Iterable[str]) -> str:
    """No secret in any output: every form of every secret becomes ***."""
    for form in secret_forms(secrets):
        text = text.replace(form, MASK)
    return text
