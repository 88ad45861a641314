"""The inputs of one load and what it found: errors and warnings, each at the line of the
key or value to fix."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from flowdeploy.errors import ConfigError, ConfigWarning, Location
from flowdeploy.flows import FlowReader
from flowdeploy.prefectyaml.model import Lookups
from flowdeploy.yamlfile import PathKey, YamlDocument


@dataclass
class Context:
    doc: YamlDocument
    root: Path
    """Where ``prefect deploy`` would run: entrypoints and the default pull step use it."""
    folder: Path
    """The prefect.yaml's own directory (another reading of its relative entrypoints)."""
    lookups: Lookups
    environ: Mapping[str, str]
    image: str | None
    reader: FlowReader
    inferred_version: str | None
    errors: list[ConfigError] = field(default_factory=list)
    warnings: list[ConfigWarning] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)
    _warned: set[tuple[str, PathKey]] = field(default_factory=set)
    _entry_lines: dict[int, dict[PathKey, int]] | None = None

    def where(self, *keys: str | int) -> Location:
        return self.doc.where(*keys)

    def error(self, what: str, *keys: str | int, why: str = "", fix: str = "") -> None:
        self.errors.append(ConfigError(what, why=why, fix=fix, where=self.where(*keys)))

    def warn(self, message: str, *keys: str | int) -> None:
        """Once per message and place: a top-level step shared by many deployments is one
        warning, not one per deployment."""
        if (message, keys) in self._warned:
            return
        self._warned.add((message, keys))
        self.warnings.append(ConfigWarning(message, self.where(*keys)))

    def entry_lines(self, index: int) -> dict[PathKey, int]:
        """Key lines under ``deployments[index]``, relative to the entry; the file's line
        map is grouped by entry once, so a large file is walked once, not per deployment."""
        if self._entry_lines is None:
            grouped: dict[int, dict[PathKey, int]] = {}
            for path, line in self.doc.lines.items():
                if len(path) > 2 and path[0] == "deployments" and isinstance(path[1], int):
                    grouped.setdefault(path[1], {})[path[2:]] = line
            self._entry_lines = grouped
        return dict(self._entry_lines.get(index, {}))
