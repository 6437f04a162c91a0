"""Stopping the local Ray cluster a driver started, however the driver ends — a kill -9 included.

`ray.init()` starts a cluster whose processes share the driver's fate only in part: when the
driver is killed, its GCS and raylet go, but Ray's dashboard and runtime-env agents live on
(a minute and more). So before starting one, ponder starts a *reaper*: a small process in a
session of its own (a Ctrl-C to the terminal does not reach it), holding the read end of a pipe
whose only write end is the driver's. When the driver ends, by any way, the read ends; the
reaper then stops every process that carries the cluster's mark — an environment variable set
only while `ray.init` starts the cluster, so every Ray process of it, and nothing else, inherits
it — with SIGTERM, then SIGKILL for what is left after a grace period.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

MARK = "PONDER_RAY_CLUSTER"

_REAPER = r"""
import os, signal, sys, time

mark = (sys.argv[1] + "=" + sys.argv[2]).encode()
sys.stdin.buffer.read()  # returns when the driver's end of the pipe closes: it ended, however

def marked():
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if mark in f.read().split(b"\0"):
                        yield int(entry)
            except OSError:
                continue

for sig, grace in ((signal.SIGTERM, float(sys.argv[3])), (signal.SIGKILL, 2.0)):
    pids = list(marked())
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass
    end = time.monotonic() + grace
    while pids and time.monotonic() < end:
        time.sleep(0.1)
        pids = list(marked())
    if not pids:
        break
"""


def reaper_supported() -> bool:
    """Whether this system lets the reaper find a cluster's processes (it reads /proc)."""
    return os.path.exists("/proc/self/environ")


class ClusterReaper:
    """The reaper of one local cluster (see the module doc): start the cluster inside `marking()`,
    `close()` when done with it. Without /proc (not Linux) there is none, and `ray.shutdown()` on a
    normal exit is what stops the cluster.

    grace_s: how long the cluster's processes get to end on SIGTERM before SIGKILL.
    """

    def __init__(self, grace_s: float = 5.0) -> None:
        self.mark = secrets.token_hex(8)
        self._pipe: IO[bytes] | None = None
        self.process: subprocess.Popen[bytes] | None = None
        if reaper_supported():
            self.process = subprocess.Popen(
                [sys.executable, "-c", _REAPER, MARK, self.mark, str(grace_s)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C to the driver's terminal does not end it too
                close_fds=True,
            )
            self._pipe = self.process.stdin

    @contextmanager
    def marking(self) -> Iterator[str]:
        """Inside, what starts is marked as this cluster's (only Ray's processes: start them here)."""
        previous = os.environ.get(MARK)
        os.environ[MARK] = self.mark
        try:
            yield self.mark
        finally:
            if previous is None:
                os.environ.pop(MARK, None)
            else:
                os.environ[MARK] = previous

    def close(self) -> None:
        """The cluster is done with: the reaper stops whatever of it is left, then ends (idempotent)."""
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None
