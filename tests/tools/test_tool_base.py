"""The @tool decorator, FunctionTool, the tools registry and call_tool's handling of bad tools."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from ponder.backends.scripted import ScriptedBackend
from ponder.errors import ConfigError, ToolError
from ponder.runtime.context import RunContext
from ponder.tools import Tool
from ponder.tools.base import ToolOptions, build_tools, fork_tools, tool
from ponder.traces.recorder import Recorder
from ponder.traces.store import TraceStore


@tool
def add(a: int, b: int = 1) -> str:
    """Add two integers."""
    return str(a + b)


@tool(name="slow", timeout=0.05)
async def slow_tool(x: str) -> str:
    """Never answers in time."""
    await asyncio.Event().wait()
    return x


@tool
def raises(x: str) -> str:
    """Always fails."""
    raise ValueError(f"boom on {x}")


@tool
def not_text(x: str) -> str:
    """Returns a number, breaking its promise."""
    return 42  # type: ignore[return-value]


def test_decorator_builds_a_tool_with_schema() -> None:
    assert isinstance(add, Tool)
    spec = add.spec()
    assert spec.description == "Add two integers."
    assert spec.parameters["required"] == ["a"]
    assert spec.parameters["properties"]["b"]["default"] == 1
    assert add(2, 3) == "5"  # still callable as a function


async def test_args_are_validated() -> None:
    assert await add.acall({"a": 2, "b": 5}) == "7"
    assert await add.acall('{"a": 2}') == "3"
    with pytest.raises(ToolError, match=r"bad arguments for tool 'add': a:"):
        await add.acall({"a": "two"})
    with pytest.raises(ToolError, match="JSON object"):
        await add.acall("2, 3")


def _ctx(store: TraceStore, tools: dict) -> RunContext:
    rec = Recorder.start(store, agent="test")
    return RunContext(backend=ScriptedBackend([]), recorder=rec, tools=tools)


async def test_call_tool_turns_failures_into_recorded_observations(store: TraceStore) -> None:
    ctx = _ctx(store, {t.name: t for t in (add, slow_tool, raises, not_text)})
    ok = await ctx.call_tool("add", {"a": 1, "b": 2})
    hung = await ctx.call_tool("slow", {"x": "hi"})
    boom = await ctx.call_tool("raises", {"x": "it"})
    bad = await ctx.call_tool("not_text", {"x": "it"})
    unknown = await ctx.call_tool("nope", {})
    assert ok.result == "3"
    assert "timed out" in hung.observation
    assert "ValueError: boom on it" in boom.observation
    assert "returned int, not text" in bad.observation
    assert "unknown tool 'nope'" in unknown.observation
    rows = store.tool_calls(ctx.run_id)
    assert [r.tool for r in rows] == ["add", "slow", "raises", "not_text", "nope"]
    assert rows[0].result == "3" and rows[0].error is None
    assert all(r.error for r in rows[1:])


def test_build_tools_from_the_registry() -> None:
    tools = build_tools(["calculator", "search", "lookup"])
    assert set(tools) == {"calculator", "search", "lookup"}
    # search and lookup share one page; a fork gets a fresh page shared by the forked pair
    assert tools["search"].session is tools["lookup"].session  # type: ignore[attr-defined]
    forked = fork_tools(tools)
    assert forked["search"].session is forked["lookup"].session  # type: ignore[attr-defined]
    assert forked["search"].session is not tools["search"].session  # type: ignore[attr-defined]
    assert forked["calculator"] is tools["calculator"]
    with pytest.raises(ConfigError, match="unknown tool 'nope'"):
        build_tools(["nope"])


async def test_python_tool_is_off_unless_listed() -> None:
    from ponder.tools.python_exec import PythonTool, make_python

    with pytest.raises(ToolError, match="disabled"):
        await PythonTool().acall("print(1)")
    assert make_python(ToolOptions()).enabled is False
    assert build_tools(["python"])["python"].enabled is True  # type: ignore[attr-defined]


@tool(timeout=2.0, isolate=True)
def spin(pid_file: str) -> str:
    """Writes its pid, then computes forever (a C-level loop no thread timeout could stop)."""
    import os
    from pathlib import Path

    Path(pid_file).write_text(str(os.getpid()))
    while True:
        sum(range(10**6))


@tool(isolate=True)
def isolated_add(a: int, b: int) -> str:
    """Adds in a child process."""
    if a < 0:
        raise ToolError("a must not be negative")
    if a == 0:
        raise ValueError("zero")
    return str(a + b)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.slow  # a real tool process waited out to its timeout
async def test_isolated_sync_tool_is_killed_on_timeout(store: TraceStore, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    ctx = _ctx(store, {"spin": spin, "isolated_add": isolated_add})
    assert (await ctx.call_tool("isolated_add", {"a": 1, "b": 1})).result == "2"  # the process server is up
    out = await ctx.call_tool("spin", {"pid_file": str(pid_file)})
    assert "timed out after 2.0 s" in (out.error or "")
    pid = int(pid_file.read_text())
    assert pid != os.getpid()
    assert _gone(pid), "the tool's process still runs after its timeout"


async def test_isolated_tool_returns_results_and_errors(store: TraceStore) -> None:
    ctx = _ctx(store, {"isolated_add": isolated_add})
    assert (await ctx.call_tool("isolated_add", {"a": 2, "b": 3})).result == "5"
    assert (await ctx.call_tool("isolated_add", {"a": -1, "b": 3})).error == "a must not be negative"
    assert "raised ValueError: zero" in ((await ctx.call_tool("isolated_add", {"a": 0, "b": 3})).error or "")


def test_isolate_needs_a_module_level_sync_function() -> None:
    def local(x: str) -> str:
        return x

    with pytest.raises(ConfigError, match="module level"):
        tool(isolate=True)(local)

    async def coro(x: str) -> str:
        return x

    with pytest.raises(ConfigError, match="sync functions"):
        tool(isolate=True)(coro)
