"""Small repositories written from a mapping of relative paths to contents."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path


def write_files(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Write each file under ``root`` (text dedented, UTF-8; bytes as given), creating its
    folders; the resolved ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content), encoding="utf-8")
    return root.resolve()


def import_line(target: int, style: str, n: int) -> str:
    """A line importing module ``lib.m<target>`` in one of the ways Python allows (``n``
    keeps function names apart); the relative styles only make sense inside ``lib/``."""
    module = f"m{target}"
    return {
        "import": f"import lib.{module}\n",
        "from_package": f"from lib import {module}\n",
        "from_module": f"from lib.{module} import thing\n",
        "importlib": f"import importlib\nimportlib.import_module('lib.{module}')\n",
        "dunder": f"__import__('lib.{module}')\n",
        "in_function": f"def _load_{n}() -> None:\n    import lib.{module}\n",
        "relative": f"from .{module} import thing\n",
        "relative_package": "from . import *\n",
        "star": "from lib import *\n",
    }[style]
