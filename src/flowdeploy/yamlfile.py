"""Load a YAML file and remember the line of every key, so errors can say file:line.

Anchors, aliases and merge keys (``<<: *base``) are resolved by PyYAML exactly as
``prefect deploy`` (which uses ``yaml.safe_load``) resolves them; a merged key's line is
the line where the anchor defines it, which is where a user has to fix it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from flowdeploy.errors import ConfigError, Location

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class YamlDocument:
    """The loaded data plus a map from key path to 1-based line."""

    path: Path
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)

    def where(self, *keys: str | int) -> Location:
        """The closest known location of ``keys``: the key itself, else its nearest parent."""
        probe: PathKey = tuple(keys)
        while probe:
            if probe in self.lines:
                return Location(self.path, self.lines[probe])
            probe = probe[:-1]
        return Location(self.path, 1)


def display_path(path: Path, base: Path | None = None) -> str:
    """How messages name a file: relative to ``base`` (the working directory) when under it."""
    try:
        return str(path.resolve().relative_to((base or Path.cwd()).resolve()))
    except ValueError:
        return str(path)


def load_yaml(path: Path, display: str | None = None) -> YamlDocument:
    """Parse ``path``; a syntax error is a ConfigError at the line PyYAML reports."""
    shown = Path(display) if display else path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{shown} does not exist",
            why="flowdeploy reads deployments from this file",
            fix="pass --prefect-file with the path of your prefect.yaml, "
            "or --project-dir with the directory that holds it",
        ) from None
    try:
        node, data = parse(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(
            f"{shown} is not valid YAML",
            why=str(exc.problem or exc),
            fix="fix the YAML syntax at the line shown",
            where=Location(shown, line),
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"{shown} is not valid YAML", why=str(exc), where=Location(shown)
        ) from None
    lines: dict[PathKey, int] = {}
    if node is not None:
        for key_path, line in _walk(node, ()):
            lines.setdefault(key_path, line)
    return YamlDocument(path=shown, data=data, lines=lines)


# libyaml's parser is ~20x faster than PyYAML's pure-Python one (a 1,000-deployment file: 0.6 s
# per parse); the constructor, which gives the values their types, is the same Python class.
_FAST: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_LOADERS: tuple[type[yaml.SafeLoader], ...] = tuple(dict.fromkeys((_FAST, yaml.SafeLoader)))


def parse(text: str | bytes) -> tuple[yaml.Node | None, Any]:
    """The node tree (for line numbers) and the data, from one parse, as yaml.safe_load
    reads it. Where libyaml refuses a document, PyYAML (what Prefect uses) decides."""
    for loader_class in _LOADERS:
        loader = loader_class(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
            return node, data
        except yaml.YAMLError:
            if loader_class is yaml.SafeLoader:
                raise
        finally:
            loader.dispose()
    raise AssertionError("unreachable")


def safe_data(text: str | bytes) -> Any:
    """The data of a YAML document; None when it is not valid YAML."""
    try:
        return parse(text)[1]
    except yaml.YAMLError:
        return None


def _walk(node: yaml.Node, prefix: PathKey) -> Iterator[tuple[PathKey, int]]:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in _mapping_pairs(node):
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            path = (*prefix, key)
            yield path, key_node.start_mark.line + 1
            yield from _walk(value_node, path)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield (*prefix, index), item.start_mark.line + 1
            yield from _walk(item, (*prefix, index))


def _mapping_pairs(node: yaml.MappingNode) -> Iterator[tuple[yaml.Node, yaml.Node]]:
    """Own keys first (they win over merged ones, as in PyYAML), then merged keys."""
    merged: list[tuple[yaml.Node, yaml.Node]] = []
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            sources = (
                value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            )
            for source in sources:
                if isinstance(source, yaml.MappingNode):
                    merged.extend(_mapping_pairs(source))
        else:
            yield key_node, value_node
    yield from merged
