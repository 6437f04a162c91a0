"""The python sandbox: timeouts, CPU and memory limits, a scrubbed environment, a temp cwd."""

from __future__ import annotations

import os

import pytest

from ponder.tools import ToolError
from ponder.tools.python_exec import PythonTool, SandboxLimits, run_python


def test_runs_code_and_captures_output() -> None:
    res = run_python("print(sum(range(10)))")
    assert res.ok and res.stdout == "45\n"


def test_wall_timeout_kills_the_process() -> None:
    lim = SandboxLimits(timeout_s=0.5, cpu_s=30)
    res = run_python("import time\nwhile True: time.sleep(0.01)", lim)
    assert res.timed_out and not res.ok
    assert "timed out after 0.5 s" in res.explain(lim)


def test_cpu_limit() -> None:
    lim = SandboxLimits(timeout_s=20, cpu_s=1)
    res = run_python("while True: pass", lim)
    assert not res.timed_out and not res.ok
    assert "CPU limit" in res.explain(lim)


def test_memory_limit() -> None:
    lim = SandboxLimits(memory_mb=128)
    res = run_python("x = bytearray(512 * 1024 * 1024)\nprint('allocated')", lim)
    assert not res.ok and "allocated" not in res.stdout
    assert "MemoryError" in res.explain(lim)


def test_no_secrets_leak_and_cwd_is_a_temp_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake-parent-secret")
    monkeypatch.setenv("PONDER_SECRET", "hunter2")
    res = run_python("import os, json\nprint(json.dumps(dict(os.environ)))\nprint(os.getcwd())")
    assert res.ok
    assert "sk-fake-parent-secret" not in res.stdout and "hunter2" not in res.stdout
    assert "OPENAI_API_KEY" not in res.stdout
    cwd = res.stdout.strip().splitlines()[-1]
    assert os.path.basename(cwd).startswith("ponder-py-") and cwd != os.getcwd()
    assert not os.path.exists(cwd)  # removed afterwards


async def test_tool_reports_failures_as_tool_errors() -> None:
    t = PythonTool(SandboxLimits(timeout_s=0.5), enabled=True)
    assert (await t.acall({"code": "print(6 * 7)"})).strip() == "42"
    with pytest.raises(ToolError, match="ZeroDivisionError"):
        await t.acall("1 / 0")
    with pytest.raises(ToolError, match="timed out"):
        await t.acall("while True: pass")
