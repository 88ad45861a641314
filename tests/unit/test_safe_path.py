"""`python -m flowdeploy` run from a repository root never imports the repository's modules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SHADOWS = ("ast", "typing", "yaml", "git", "json", "argparse", "pydantic", "httpx", "rich")


def test_python_m_ignores_same_named_modules_in_the_working_directory(tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    for name in SHADOWS:
        (tmp_path / f"{name}.py").write_text(
            f"open({str(marker)!r}, 'a').write({name!r} + '\\n')\nraise SystemExit(99)\n"
        )
    done = subprocess.run(
        [sys.executable, "-m", "flowdeploy", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert not marker.exists(), marker.read_text()
    assert done.returncode == 0, done.stderr
    assert "plan" in done.stdout
