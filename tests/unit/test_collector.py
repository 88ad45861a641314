"""The cycle collector is held while a run reads, and back (with the reading frozen) before it
builds or writes: a collector left on cost a third of an unchanged 1,000-deployment run."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False
    )


def test_the_entry_points_hold_the_collector_and_apply_resumes_it() -> None:
    done = run_python(
        """
        import gc, sys
        import flowdeploy.cli as cli
        import flowdeploy.action as action
        seen = []
        def leave(code):
            seen.append(gc.isenabled())
            raise SystemExit(0)
        cli.leave = leave
        cli.main = lambda argv=None: 0
        action.main = lambda: 0
        for entry in (cli.entry, action.entry):
            gc.enable()
            try:
                entry()
            except SystemExit:
                pass
        from flowdeploy import collector
        before = gc.get_freeze_count()
        collector.resume()
        print(seen, gc.isenabled(), gc.get_freeze_count() > before, gc.get_threshold())
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0] == "[False, False] True True (70000, 10, 10)"


def test_resume_leaves_a_collector_that_was_never_held_alone() -> None:
    done = run_python(
        """
        import gc
        from flowdeploy import collector
        collector.resume()
        print(gc.isenabled(), gc.get_freeze_count())
        """
    )
    assert done.stdout.strip() == "True 0", done.stderr
