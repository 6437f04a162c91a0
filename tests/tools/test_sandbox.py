"""The python sandbox under bubblewrap: one test per escape that the rlimits-only runner allowed.

Each escape test runs only where `bwrap` is installed (`.ci/run` installs it); elsewhere it is
skipped, saying why. The programs only aim at things the test itself made (a victim process, a
listener, a file), so a sandbox that fails lets the escape happen to those, not to the machine.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ponder.tools import ToolError
from ponder.tools.python_exec import PythonTool
from ponder.tools.sandbox import BWRAP_MISSING, SandboxLimits, bwrap_path, run_python
from ponder.traces.store import TraceStore

needs_bwrap = pytest.mark.skipif(
    bwrap_path() is None, reason="bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
)
BWRAP = SandboxLimits(sandbox="bwrap", timeout_s=20)


@pytest.fixture
def victim() -> Iterator[subprocess.Popen[bytes]]:
    """A process of ours standing for the caller, holding a secret in its environment."""
    proc = subprocess.Popen(
        ["sleep", "120"], env={"PATH": "/usr/bin:/bin", "OPENAI_API_KEY": "sk-victim-secret-0123456789"}
    )
    yield proc
    proc.kill()
    proc.wait(10)


@needs_bwrap
def test_runs_code_in_bwrap_with_a_private_tmp() -> None:
    res = run_python("import os\nopen('note.txt', 'w').write('hi')\nprint(os.getcwd(), open('note.txt').read())", BWRAP)
    assert res.ok and res.sandbox == "bwrap", res
    assert res.stdout.split() == ["/tmp", "hi"]


@needs_bwrap
def test_cannot_write_outside_its_temp_dir(tmp_path: Path) -> None:
    target = tmp_path / "escaped.txt"
    system = Path("/usr/lib") / f"ponder-escape-{uuid.uuid4().hex}"
    code = (
        f"for p in ({str(target)!r}, {str(system)!r}):\n"
        "    try:\n        open(p, 'w').write('x')\n        print('wrote', p)\n"
        "    except OSError as e:\n        print('refused', type(e).__name__)\n"
    )
    try:
        res = run_python(code, BWRAP)
        assert res.ok, res
        assert "wrote" not in res.stdout
        assert not target.exists() and not system.exists()
    finally:
        system.unlink(missing_ok=True)


@needs_bwrap
def test_cannot_read_another_process_environ(victim: subprocess.Popen[bytes]) -> None:
    code = (
        "import os\n"
        f"for pid in ({victim.pid}, os.getppid(), 1):\n"
        "    try:\n        print(open(f'/proc/{pid}/environ', 'rb').read())\n"
        "    except OSError as e:\n        print('refused', pid, type(e).__name__)\n"
    )
    res = run_python(code, BWRAP)
    assert res.ok, res
    assert "sk-victim-secret" not in res.stdout and "OPENAI_API_KEY" not in res.stdout


@needs_bwrap
def test_has_no_network_not_even_loopback() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        code = (
            f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
            "    print('connected')\n"
            "except OSError as e:\n    print('refused', type(e).__name__)\n"
        )
        res = run_python(code, BWRAP)
        assert res.ok, res
        assert "connected" not in res.stdout
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()


def _pids_with(marker: str) -> list[int]:
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError):
                if marker.encode() in (d / "cmdline").read_bytes():
                    found.append(int(d.name))
    return found


@needs_bwrap
def test_leaves_no_background_process() -> None:
    marker = f"ponder-bg-{uuid.uuid4().hex}"
    code = (
        "import subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)', {marker!r}],\n"
        "    start_new_session=True,\n"
        "    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "print('started')\n"
    )
    res = run_python(code, BWRAP)
    assert res.ok and "started" in res.stdout, res
    deadline = time.monotonic() + 5
    while _pids_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)  # the kernel tears the PID namespace down asynchronously
    left = _pids_with(marker)
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    assert not left, "a background process outlived the sandbox"


@needs_bwrap
def test_cannot_read_the_trace_db(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    TraceStore(db).close()
    code = (
        f"import os\nfor p in ({str(db)!r}, os.path.expanduser('~/.local/share/ponder/traces.db')):\n"
        "    try:\n        print('read', len(open(p, 'rb').read()))\n"
        "    except OSError as e:\n        print('refused', type(e).__name__)\n"
    )
    res = run_python(code, BWRAP)
    assert res.ok, res
    assert "read" not in res.stdout and res.stdout.count("refused") == 2


@needs_bwrap
def test_cannot_kill_the_caller(victim: subprocess.Popen[bytes]) -> None:
    code = (
        f"import os, signal\ntry:\n    os.kill({victim.pid}, signal.SIGKILL)\n    print('killed')\n"
        "except OSError as e:\n    print('refused', type(e).__name__)\n"
    )
    res = run_python(code, BWRAP)
    assert res.ok, res
    assert victim.poll() is None, "the sandboxed program killed a process outside it"


@needs_bwrap
def test_fork_bomb_is_contained() -> None:
    lim = BWRAP.model_copy(update={"max_processes": 24})
    code = (
        "import os, time\nn = 0\nfor _ in range(400):\n    try:\n        pid = os.fork()\n"
        "    except OSError:\n        break\n    if pid == 0:\n        time.sleep(60)\n        os._exit(0)\n"
        "    n += 1\nprint(n)\n"
    )
    res = run_python(code, lim)
    assert res.ok, res
    assert int(res.stdout.strip()) < 24


@needs_bwrap
def test_huge_output_is_not_buffered() -> None:
    lim = BWRAP.model_copy(update={"max_output_bytes": 1_000_000})
    code = "import sys\nchunk = 'x' * 1_000_000\nfor _ in range(600):\n    sys.stdout.write(chunk)\n"
    tracemalloc.start()
    try:
        res = run_python(code, lim)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert res.output_exceeded and not res.ok
    assert "printed more than 1000000 bytes" in res.explain(lim)
    assert len(res.stdout) < 10_000  # clipped to max_output for the caller
    assert peak < 50 * 1024 * 1024, f"the caller buffered {peak / 1e6:.0f} MB of output"


@pytest.mark.slow  # a real sandboxed process tree waited out to its timeout
@needs_bwrap
def test_wall_timeout_kills_the_whole_tree() -> None:
    marker = f"ponder-tree-{uuid.uuid4().hex}"
    lim = SandboxLimits(sandbox="bwrap", timeout_s=2, cpu_s=30)
    code = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', 'while True: pass', {marker!r}], start_new_session=True)\n"
        "while True:\n    time.sleep(0.1)\n"
    )
    res = run_python(code, lim)
    assert res.timed_out
    deadline = time.monotonic() + 5
    while _pids_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _pids_with(marker)


def test_refuses_without_bwrap_unless_rlimits_is_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ponder.tools.sandbox.bwrap_path", lambda: None)
    monkeypatch.delenv("PONDER_SANDBOX", raising=False)
    with pytest.raises(ToolError, match="apt-get install bubblewrap"):
        run_python("print(1)")
    assert "PONDER_SANDBOX=rlimits" in BWRAP_MISSING
    res = run_python("print(1)", SandboxLimits(sandbox="rlimits"))
    assert res.ok and res.sandbox == "rlimits" and res.stdout == "1\n"
    monkeypatch.setenv("PONDER_SANDBOX", "rlimits")
    assert run_python("print(2)").stdout == "2\n"
    monkeypatch.setenv("PONDER_SANDBOX", "none")
    with pytest.raises(ToolError, match="not a sandbox"):
        run_python("print(3)")


async def test_python_tool_says_how_to_install_bwrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ponder.tools.sandbox.bwrap_path", lambda: None)
    monkeypatch.delenv("PONDER_SANDBOX", raising=False)
    with pytest.raises(ToolError, match="bubblewrap"):
        await PythonTool(enabled=True).acall("print(1)")


@pytest.mark.parametrize("mode", ["bwrap", "rlimits"])
def test_output_names_no_random_path(mode: str) -> None:
    # what a program prints reaches a model's prompt (test feedback): it must be the same on every
    # run, so the sandbox's own temp dir appears as the fixed /tmp of bwrap mode, never as ponder-py-XXXX
    if mode == "bwrap" and bwrap_path() is None:
        pytest.skip("bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
    code = (
        "import os, tempfile\nprint(os.getcwd(), os.environ['HOME'], tempfile.gettempdir())\n"
        "raise ValueError(__file__)\n"
    )
    lim = SandboxLimits(sandbox=mode)  # type: ignore[arg-type]
    first, second = run_python(code, lim), run_python(code, lim)
    assert (first.stdout, first.stderr) == (second.stdout, second.stderr)
    assert first.stdout.split() == ["/tmp", "/tmp", "/tmp"], first.stdout
    assert 'File "/tmp/main.py", line 3' in first.stderr and "ValueError: /tmp/main.py" in first.stderr, first.stderr
    assert "ponder-py-" not in first.stdout + first.stderr
