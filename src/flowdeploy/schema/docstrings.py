"""Parameter descriptions from a flow's docstring, as Prefect reads them.

Prefect parses docstrings with griffe's Google-style parser; this is the part of it that decides
which ``Args:`` text becomes a parameter's ``description``.
"""

from __future__ import annotations

import inspect
import re

_SECTION_KINDS = {
    "args": "parameters",
    "arguments": "parameters",
    "params": "parameters",
    "parameters": "parameters",
    "keyword args": "other",
    "keyword arguments": "other",
    "other args": "other",
    "other arguments": "other",
    "other params": "other",
    "other parameters": "other",
    "type args": "other",
    "type arguments": "other",
    "type params": "other",
    "type parameters": "other",
    "raises": "other",
    "exceptions": "other",
    "returns": "other",
    "yields": "other",
    "receives": "other",
    "examples": "examples",
    "attributes": "other",
    "functions": "other",
    "methods": "other",
    "classes": "other",
    "type aliases": "other",
    "modules": "other",
    "warns": "other",
    "warnings": "other",
}
_RE_ADMONITION = re.compile(r"^(?P<type>[\w][\s\w-]*):(\s+(?P<title>[^\s].*))?\s*$", re.IGNORECASE)


def _is_empty(line: str) -> bool:
    return not line or line.isspace()


def _block_start(lines: list[str], offset: int) -> tuple[int, int]:
    """The first non-blank line from ``offset``, and its indentation."""
    while _is_empty(lines[offset]):
        offset += 1
    return offset, len(lines[offset]) - len(lines[offset].lstrip())


def _read_block_items(lines: list[str], offset: int) -> tuple[list[list[str]], int]:
    if offset >= len(lines):
        return [], offset
    new_offset, indent = _block_start(lines, offset)
    if indent == 0:
        return [], new_offset - 1
    items: list[list[str]] = []
    current = [lines[new_offset][indent:]]
    new_offset += 1
    while new_offset < len(lines):
        line = lines[new_offset]
        if _is_empty(line):
            current.append("")
        elif line.startswith(indent * 2 * " "):
            current.append(line[indent * 2 :])
        elif line.startswith((indent + 1) * " "):
            current.append(line[len(line) - len(line.lstrip()) :])
        elif line.startswith(indent * " "):
            items.append(current)
            current = [line[indent:]]
        else:
            break
        new_offset += 1
    items.append(current)
    return items, new_offset - 1


def _read_block(lines: list[str], offset: int) -> tuple[str, int]:
    if offset >= len(lines):
        return "", offset - 1
    new_offset, indent = _block_start(lines, offset)
    if indent == 0:
        return "", offset - 1
    block = [lines[new_offset].lstrip()]
    new_offset += 1
    while new_offset < len(lines) and (
        lines[new_offset].startswith(indent * " ") or _is_empty(lines[new_offset])
    ):
        block.append(lines[new_offset][indent:])
        new_offset += 1
    return "\n".join(block).rstrip("\n"), new_offset - 1


def _parameters(items: list[list[str]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in items:
        if ":" not in item[0]:
            continue
        name_with_type, description = item[0].split(":", 1)
        text = "\n".join([description.lstrip(), *item[1:]]).rstrip("\n")
        if "(" in name_with_type and name_with_type.endswith(")"):
            name = name_with_type.split("(", 1)[0].strip()
        else:
            name = name_with_type
        found[name] = text
    return found


def _section_at(lines: list[str], offset: int) -> str | None:
    """The kind of section starting at ``offset`` if griffe accepts it as one, else None.

    A title line ``Word:`` counts only with a blank line above and indented content right
    below (or after exactly one blank line); unknown titles are admonitions (``Note:``).
    """
    line = lines[offset]
    match = _RE_ADMONITION.match(line) if ":" in line else None
    if match is None:
        return None
    blank_above = offset == 0 or _is_empty(lines[offset - 1])
    has_next = offset < len(lines) - 1
    has_next2 = offset < len(lines) - 2
    blank_below = has_next and _is_empty(lines[offset + 1])
    blanks_below = has_next2 and _is_empty(lines[offset + 2])
    indented_below = has_next and not blank_below and lines[offset + 1].startswith(" ")
    indented2_below = has_next2 and not blanks_below and lines[offset + 2].startswith(" ")
    if not (indented_below or indented2_below) or not blank_above:
        return None
    if indented2_below and blank_below:
        return None
    return _SECTION_KINDS.get(match.group("type").lower(), "admonition")


def parameter_docstrings(docstring: str | None) -> dict[str, str]:
    """Parameter descriptions from a Google-style docstring, as Prefect reads them.

    Like ``prefect.utilities.callables.parameter_docstrings``: griffe's Google parser, and each
    non-empty ``Args:`` section replaces what earlier ones gave. NumPy and Sphinx styles give
    nothing, exactly as in Prefect.
    """
    if not docstring:
        return {}
    lines = inspect.cleandoc(docstring.rstrip()).split("\n")
    result: dict[str, str] = {}
    in_code = False
    offset = 0
    while offset < len(lines):
        fence = lines[offset].lstrip(" ").startswith("```")
        kind = None if in_code or fence else _section_at(lines, offset)
        in_code = in_code != fence
        if kind in ("examples", "admonition"):
            _, offset = _read_block(lines, offset + 1)
        elif kind is not None:
            items, offset = _read_block_items(lines, offset + 1)
            params = _parameters(items) if kind == "parameters" else {}
            result = params or result
        offset += 1
    return result
