"""A pids cgroup for the python sandbox: caps its process count when ponder runs as root (rlimits
exempt root), and kills what is left in it when the sandbox is torn down."""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from pathlib import Path

__all__ = ["PidsCgroup"]

_CGROUP_ROOTS = ("/sys/fs/cgroup/pids", "/sys/fs/cgroup")


class PidsCgroup:
    """A pids cgroup capping the sandbox's processes (used when ponder runs as root: rlimits exempt root)."""

    def __init__(self, path: Path, procs_fd: int) -> None:
        self.path = path
        self.procs_fd = procs_fd

    @classmethod
    def create(cls, max_pids: int) -> PidsCgroup | None:
        """A new cgroup allowing `max_pids` processes, or None where none can be made (no cgroup fs, no rights)."""
        for root in _CGROUP_ROOTS:
            base = Path(root)
            if root == "/sys/fs/cgroup" and "pids" not in _read(base / "cgroup.controllers").split():
                continue
            path = base / f"ponder-sandbox-{uuid.uuid4().hex[:12]}"
            try:
                path.mkdir()
            except OSError:
                continue
            try:
                (path / "pids.max").write_text(str(max_pids))
                fd = os.open(path / "cgroup.procs", os.O_WRONLY)
            except OSError:
                with contextlib.suppress(OSError):
                    path.rmdir()
                continue
            return cls(path, fd)
        return None

    def join(self) -> None:
        """Move the calling process in (runs in the child between fork and exec: one write)."""
        os.write(self.procs_fd, b"0")

    def remove(self) -> None:
        """Kill what is left in it and remove it."""
        os.close(self.procs_fd)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            for pid in _read(self.path / "cgroup.procs").split():
                with contextlib.suppress(OSError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.01)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
