"""A local Ray cluster ponder started stops when its driver ends, a kill -9 included.

The reaper itself is checked without Ray (processes it must stop, and one it must leave); the
whole path on a real local cluster is marked `slow` and `ray`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ponder.experiments.scale.ray_reaper import MARK, ClusterReaper, reaper_supported

pytestmark = pytest.mark.skipif(not reaper_supported(), reason="the reaper reads /proc (Linux)")


def marked(mark: str) -> list[int]:
    """The processes that carry the cluster mark `mark`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                env = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if f"{MARK}={mark}".encode() in env:
                found.append(int(entry))
    return found


def wait_until_gone(mark: str, timeout: float) -> list[int]:
    end = time.monotonic() + timeout
    while (left := marked(mark)) and time.monotonic() < end:
        time.sleep(0.2)
    return left


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/status").read_text().find("State:\tZ") < 0


# a driver that starts a "cluster" (two processes, one ignoring SIGTERM) and waits to be killed
DRIVER = """
import subprocess, sys, time
from ponder.experiments.scale.ray_reaper import ClusterReaper
reaper = ClusterReaper(grace_s=1.0)
with reaper.marking():
    procs = [subprocess.Popen([sys.executable, "-c", code]) for code in (
        "import time; time.sleep(600)",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)",
    )]
other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(reaper.mark, other.pid, flush=True)
time.sleep(600)
"""


def test_a_killed_driver_s_cluster_is_stopped_and_nothing_else() -> None:
    driver = subprocess.Popen([sys.executable, "-c", DRIVER], stdout=subprocess.PIPE, text=True)
    assert driver.stdout is not None
    mark, other = driver.stdout.readline().split()
    try:
        assert len(marked(mark)) == 2
        driver.send_signal(signal.SIGKILL)
        driver.wait(10)
        assert wait_until_gone(mark, 10) == []  # the one that ignores SIGTERM too, after the grace period
        assert alive(int(other))  # not the cluster's: left alone
    finally:
        driver.kill()
        os.kill(int(other), signal.SIGKILL)


def test_close_stops_the_cluster_of_a_driver_that_goes_on() -> None:
    reaper = ClusterReaper(grace_s=1.0)
    with reaper.marking():
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    assert os.environ.get(MARK) is None  # what starts after is not the cluster's
    try:
        assert marked(reaper.mark) == [proc.pid]
        reaper.close()
        assert proc.wait(10) == -signal.SIGTERM
        assert reaper.process is not None and reaper.process.wait(10) == 0
    finally:
        proc.kill()


DRIVER_ON_RAY = """
import time
from ponder.experiments.scale.ray_executor import RayExecutor, RaySettings
with RayExecutor(RaySettings()) as ex:
    ex.cluster_cpus()
    print(ex._reaper.mark, flush=True)
    if "--stay" in __import__("sys").argv:
        time.sleep(600)
"""


@pytest.mark.slow
@pytest.mark.ray
@pytest.mark.parametrize("ending", ["kill -9", "normal exit"])
def test_a_local_ray_cluster_stops_with_its_driver(ending: str) -> None:
    pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")
    args = [sys.executable, "-c", DRIVER_ON_RAY] + (["--stay"] if ending == "kill -9" else [])
    driver = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        assert driver.stdout is not None
        mark = driver.stdout.readline().strip()
        assert mark, "the driver did not start its cluster"
        names = [Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")[0] for p in marked(mark)]
        assert any(n.endswith(b"/raylet") for n in names) and len(names) >= 3, names  # GCS, raylet, agents
        if ending == "kill -9":
            driver.send_signal(signal.SIGKILL)
        driver.wait(60)
        assert wait_until_gone(mark, 20) == []  # Ray's agents outlived their driver by minutes before
    finally:
        driver.kill()  # a failed check never leaves a driver (and so its cluster) behind
