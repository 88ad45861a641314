"""What loading a prefect.yaml gives (``Project`` of ``DeploymentSpec``) and needs
(``Lookups``); re-exported by ``flowdeploy.project``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from flowdeploy.errors import ConfigWarning, Location
from flowdeploy.runner import Deployment


class Lookups(Protocol):
    """Server-side values that templates name; read-only."""

    def variable(self, name: str) -> Any:
        """The variable's value, or ``templating.MISSING``."""

    def block(self, type_slug: str, name: str) -> dict[str, Any] | str | None:
        """The block document's data, None when there is none, or a text that stands for
        any value of it (a plan without a server cannot read blocks)."""


class DeploymentSpec(BaseModel):
    """One deployment of the project, resolved, with where it came from."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    deployment: Deployment
    where: Location | None = None
    flow_file: Path | None = None
    uses_image: bool = False
    index: int | None = None
    """Position of the entry in the file's ``deployments`` list."""

    def where_of(self, *keys: str | int) -> Location | None:
        """The line of the key at ``keys`` (relative to the entry), else of its nearest
        parent that has one, else the entry's own line."""
        base = self.where
        if base is None:
            return None
        probe: tuple[str | int, ...] = keys
        lines = self.lines
        if probe[:1] == ("schedules",) and ("schedules",) not in lines and ("schedule",) in lines:
            probe = ("schedule", *probe[2:])  # the legacy single 'schedule:' key
        while probe:
            line = lines.get(probe)
            if line:
                return Location(base.path, line)
            probe = probe[:-1]
        return base

    version_derived: bool = False
    """The version follows the commit or the flow file's hash (none was set): alone, a
    difference in it is no reason to write."""
    lines: dict[tuple[str | int, ...], int] = Field(default_factory=dict, repr=False)
    """The line of each key inside this deployment's entry, by key path relative to the
    entry (``("parameters", "n")``), so that checks made after loading
    (``flowdeploy.validation``) point at the offending key, in the file ``where`` names."""


class Project(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    prefect_file: Path
    root: Path
    """The directory entrypoints are resolved against (where ``prefect deploy`` runs)."""
    specs: tuple[DeploymentSpec, ...]
    warnings: tuple[ConfigWarning, ...] = ()
    secrets: frozenset[str] = frozenset()
    """Values that came from blocks: never shown in any output."""

    @property
    def flow_names(self) -> frozenset[str]:
        return frozenset(s.deployment.flow_name or "" for s in self.specs)
