"""The python tool's runner in both sandboxes: timeouts, CPU and memory limits, a scrubbed environment, a temp cwd."""

from __future__ import annotations

import os
import tempfile
import uuid

import pytest

from ponder.tools import ToolError
from ponder.tools.python_exec import PythonTool
from ponder.tools.sandbox import SandboxLimits, bwrap_path, run_python


@pytest.fixture(params=["bwrap", "rlimits"])
def mode(request: pytest.FixtureRequest) -> str:
    """Each test runs in both sandboxes (bwrap only where it is installed)."""
    if request.param == "bwrap" and bwrap_path() is None:
        pytest.skip("bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
    return str(request.param)


def test_runs_code_and_captures_output(mode: str) -> None:
    res = run_python("print(sum(range(10)))", SandboxLimits(sandbox=mode))  # type: ignore[arg-type]
    assert res.ok and res.stdout == "45\n" and res.sandbox == mode


def test_wall_timeout_kills_the_process(mode: str) -> None:
    lim = SandboxLimits(timeout_s=0.5, cpu_s=30, sandbox=mode)  # type: ignore[arg-type]
    res = run_python("import time\nwhile True: time.sleep(0.01)", lim)
    assert res.timed_out and not res.ok
    assert "timed out after 0.5 s" in res.explain(lim)


@pytest.mark.slow  # a real sandboxed process burns its 1 s CPU limit
def test_cpu_limit(mode: str) -> None:
    lim = SandboxLimits(timeout_s=20, cpu_s=1, sandbox=mode)  # type: ignore[arg-type]
    res = run_python("while True: pass", lim)
    assert not res.timed_out and not res.ok
    assert "CPU limit" in res.explain(lim)


def test_memory_limit(mode: str) -> None:
    lim = SandboxLimits(memory_mb=128, sandbox=mode)  # type: ignore[arg-type]
    res = run_python("x = bytearray(512 * 1024 * 1024)\nprint('allocated')", lim)
    assert not res.ok and "allocated" not in res.stdout
    assert "MemoryError" in res.explain(lim)


def test_no_secrets_leak_and_cwd_is_a_temp_dir(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake-parent-secret")
    monkeypatch.setenv("PONDER_SECRET", "hunter2")
    lim = SandboxLimits(sandbox=mode)  # type: ignore[arg-type]
    note = f"note-{uuid.uuid4().hex}.txt"
    code = f"import os, json\nprint(json.dumps(dict(os.environ)))\nopen({note!r}, 'w').write('x')\nprint(os.getcwd())"
    res = run_python(code, lim)
    assert res.ok
    assert "sk-fake-parent-secret" not in res.stdout and "hunter2" not in res.stdout
    assert "OPENAI_API_KEY" not in res.stdout
    # its own /tmp (bwrap's tmpfs; in rlimits mode a fresh temp dir, shown as /tmp and removed afterwards)
    assert res.stdout.strip().splitlines()[-1] == "/tmp"
    assert not os.path.exists(note) and not os.path.exists(os.path.join(tempfile.gettempdir(), note))


async def test_tool_reports_failures_as_tool_errors(mode: str) -> None:
    t = PythonTool(SandboxLimits(timeout_s=0.5, sandbox=mode), enabled=True)  # type: ignore[arg-type]
    assert (await t.acall({"code": "print(6 * 7)"})).strip() == "42"
    with pytest.raises(ToolError, match="ZeroDivisionError"):
        await t.acall("1 / 0")
    with pytest.raises(ToolError, match="timed out"):
        await t.acall("while True: pass")
