"""Prefect itself as the oracle for what flowdeploy reads from source: import the flow the way
`prefect deploy` does, in its directory, then forget every module that import brought in."""

from __future__ import annotations

import os
import sys
import typing
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prefect.flows import load_flow_from_entrypoint
from prefect.utilities.callables import parameter_schema


def _loaded_from(module: Any, directory: Path) -> bool:
    file = getattr(module, "__file__", None)
    return isinstance(file, str) and Path(file).resolve().is_relative_to(directory.resolve())


@contextmanager
def isolated_import(cwd: Path) -> Iterator[None]:
    """Run Prefect's loader in ``cwd``, then forget the user modules it imported."""
    path = list(sys.path)
    old = os.getcwd()
    # typing caches equal types: Literal["a", None] is returned as an earlier
    # Literal[None, "a"], so the reference would depend on what earlier examples built.
    for clear in typing._cleanups:  # type: ignore[attr-defined]
        clear()
    os.chdir(cwd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        os.chdir(old)
        sys.path[:] = path
        for name, module in list(sys.modules.items()):
            if name.startswith("__prefect_loader_") or _loaded_from(module, cwd):
                del sys.modules[name]


def prefect_reference(entrypoint: str, cwd: Path) -> dict[str, Any]:
    """What ``prefect deploy`` registers for the flow: name, description, version, schema."""
    with isolated_import(cwd):
        flow: Any = load_flow_from_entrypoint(entrypoint)
        return {
            "name": flow.name,
            "description": flow.description,
            "version": flow.version,
            "schema": parameter_schema(flow).model_dump(exclude_unset=True),
        }


def line_of(path: Path, text: str) -> int:
    """The 1-based line where ``text`` first appears (fixtures may be reformatted)."""
    lines = path.read_text().splitlines()
    return next(i for i, line in enumerate(lines, start=1) if text in line)
