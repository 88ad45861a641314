"""Cancellation as GitHub does it: SIGINT, then SIGTERM about 7.5 s later, then SIGKILL.

The first signal asks the run to stop: no new write starts, those in flight finish, and
the run reports what it wrote. A second signal abandons the write in flight. Either way the
process ends with 128 + the first signal's number (130 for SIGINT, 143 for SIGTERM), and
never with 2, which promises that nothing was written.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

from flowdeploy.errors import FlowdeployError


class Interrupted(BaseException):
    """Raised by the second signal; a BaseException so that no ``except Exception`` on the
    way swallows it."""


class Cancelled(FlowdeployError):
    """The run was cancelled; what it wrote before is in the results."""

    def __init__(self, signum: int, *, abandoned: bool) -> None:
        self.exit_code = 128 + signum
        name = signal.Signals(signum).name
        what = f"cancelled ({name})"
        why = (
            "a second signal abandoned the write in flight; it may or may not have reached "
            "the server"
            if abandoned
            else "no write was started after the signal; those in flight finished"
        )
        super().__init__(
            what,
            why=why,
            fix="re-run: deployments already written are unchanged and are not written again",
        )


class CancelSwitch:
    """Set by the first SIGINT/SIGTERM; ``stopped()`` is polled before each write."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signum: int | None = None
        self.abandoned = False

    def stopped(self) -> bool:
        return self._event.is_set()

    def error(self) -> Cancelled | None:
        if self.signum is None:
            return None
        return Cancelled(self.signum, abandoned=self.abandoned)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self._event.is_set():
            self.abandoned = True
            raise Interrupted
        self.signum = signum
        self._event.set()

    @contextlib.contextmanager
    def installed(self) -> Iterator[CancelSwitch]:
        """Handle SIGINT and SIGTERM while the block runs (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        for sig in previous:
            signal.signal(sig, self._handle)
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
