"""The one way flowdeploy reads a file of the repository: bounded, regular files only.

Opened without blocking (a FIFO would wait for a writer) and checked on the open descriptor,
so a file swapped after a check is still refused; at most one byte more than the cap is
read, since special files (``/dev/zero``, ``/proc``) lie about their size. Callers turn the
exceptions into messages that fit what they were reading.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class NotRegular(Exception):
    """The path is a directory, a device, a FIFO or a socket (``mode`` says which)."""

    def __init__(self, mode: int) -> None:
        super().__init__(mode)
        self.mode = mode


class TooLarge(Exception):
    """More than the cap; ``size`` is what the file claims, or None when it lied."""

    def __init__(self, size: int | None) -> None:
        super().__init__(size)
        self.size = size


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    Raises NotRegular, TooLarge, or OSError (FileNotFoundError among them)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegular(info.st_mode)
        if info.st_size > limit:
            raise TooLarge(info.st_size)
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1024 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        if left <= 0:
            raise TooLarge(None)
        return b"".join(chunks)
    finally:
        os.close(fd)
