"""README.md lists every input and output of action.yml, as scripts/action_docs.py writes them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_readme_tables_match_action_yml() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "action_docs.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    for name in (*action["inputs"], *action["outputs"]):
        assert f"| `{name}` |" in readme, name
