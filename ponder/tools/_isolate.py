"""Run a sync tool function in a child process that a timeout can kill (`@tool(isolate=True)`).

A thread cannot be stopped: a sync tool that overruns its timeout in `asyncio.to_thread` keeps
burning CPU after the agent has moved on. An isolated tool runs each call in a process forked
from multiprocessing's forkserver; when the call is cancelled (the tool timeout in
`RunContext.call_tool` cancels it) the process is killed. The function is sent by reference
(module and qualified name), so it must be defined at module level of an importable module.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import multiprocessing
import multiprocessing.connection
from collections.abc import Callable
from typing import Any

from ponder.errors import ConfigError, ToolError


def function_ref(fn: Callable[..., Any], *, tool: str) -> tuple[str, str]:
    """(module, qualname) by which a child process finds `fn`; ConfigError when it has none."""
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or module == "__main__" or "<" in qualname:
        raise ConfigError(
            f"tool {tool!r}: isolate=True needs a function defined at module level of an importable module"
            f" (got {module}.{qualname}); define it there, or drop isolate=True and bound its work yourself"
        )
    return module, qualname


def _resolve(module: str, qualname: str) -> Callable[..., Any]:
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    fn = getattr(obj, "fn", obj)  # the module attribute is the FunctionTool that @tool made of it
    if not callable(fn):
        raise TypeError(f"{module}.{qualname} is not callable")
    return fn


def _child(ref: tuple[str, str], kwargs: dict[str, Any], conn: multiprocessing.connection.Connection) -> None:
    try:
        out = _resolve(*ref)(**kwargs)
        msg: tuple[Any, ...] = ("ok", out)
    except ToolError as e:
        msg = ("tool_error", str(e))
    except BaseException as e:  # everything else is reported, as call_tool reports a raising tool
        msg = ("raised", type(e).__name__, str(e))
    try:
        conn.send(msg)
    except Exception as e:  # an unpicklable result
        conn.send(("raised", type(e).__name__, f"the result cannot be sent back: {e}"))
    conn.close()


_CTX = multiprocessing.get_context("forkserver")
# the server imports these once; each call's child is forked from it and imports only the tool's module
_CTX.set_forkserver_preload(["ponder.tools.base", "ponder.runtime.base"])


async def call_isolated(ref: tuple[str, str], kwargs: dict[str, Any], *, tool: str) -> Any:
    """Call the function `ref` with `kwargs` in a fresh child process; kill it if this call is cancelled."""
    recv, send = _CTX.Pipe(duplex=False)
    proc = _CTX.Process(target=_child, args=(ref, kwargs, send), daemon=True, name=f"ponder-tool-{tool}")
    loop = asyncio.get_running_loop()
    try:
        # the first start launches the forkserver (a fresh interpreter): not on the event loop
        starting = asyncio.ensure_future(asyncio.to_thread(proc.start))
        try:
            await asyncio.shield(starting)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await starting  # let it start, so the finally below can kill it
            raise
        send.close()
        ready: asyncio.Future[None] = loop.create_future()

        def on_readable() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(recv.fileno(), on_readable)
        try:
            await ready
        finally:
            loop.remove_reader(recv.fileno())
        try:
            msg = recv.recv()
        except (EOFError, OSError):
            proc.join(1.0)
            raise ToolError(f"tool {tool!r} died without an answer (exit code {proc.exitcode})") from None
    finally:
        with contextlib.suppress(ValueError, AttributeError, AssertionError):  # never started
            if proc.is_alive():
                proc.kill()
            proc.join(5.0)
        recv.close()
        send.close()
    if msg[0] == "ok":
        return msg[1]
    if msg[0] == "tool_error":
        raise ToolError(msg[1])
    raise ToolError(f"tool {tool!r} raised {msg[1]}: {msg[2]}")
