"""Secrets and the forms they take in output: what to register with ``::add-mask::`` and
what to replace with ``***`` in every text flowdeploy writes (pure)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from typing import Any
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


SECRET_CHANGED = "(secret changed)"


def carries_secret(value: Any, secrets: Iterable[str]) -> bool:
    """Whether any form of any secret appears anywhere in ``value``."""
    forms = secret_forms(secrets)
    if not forms:
        return False
    texts = (
        str(value),
        json.dumps(value, default=str),
        json.dumps(value, default=str, ensure_ascii=False),
    )
    return any(form in text for form in forms for text in texts)


def hide_secret_change(old: Any, new: Any, secrets: Sequence[str]) -> tuple[Any, Any]:
    """A changed value that carries a secret is shown as ``(secret changed)`` on both sides:
    the new one is a secret, and the old one, read from the server, is likely the secret it
    replaces (a rotation), which no mask knows. Keys of a mapping are looked at one by one,
    so one secret environment variable does not hide its neighbours."""
    if isinstance(old, dict) and isinstance(new, dict):
        before: dict[Any, Any] = {}
        after: dict[Any, Any] = {}
        for key in [*old, *(k for k in new if k not in old)]:
            if key in old and key in new:
                before[key], after[key] = hide_secret_change(old[key], new[key], secrets)
            elif key in old:
                before[key] = SECRET_CHANGED if carries_secret(old[key], secrets) else old[key]
            else:
                after[key] = SECRET_CHANGED if carries_secret(new[key], secrets) else new[key]
        return before, after
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        pairs = [hide_secret_change(o, n, secrets) for o, n in zip(old, new, strict=True)]
        return [o for o, _ in pairs], [n for _, n in pairs]
    if old != new and (carries_secret(new, secrets) or carries_secret(old, secrets)):
        return SECRET_CHANGED, SECRET_CHANGED
    return old, new
