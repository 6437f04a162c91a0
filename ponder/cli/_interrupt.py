"""Ctrl+C during a long command (`ponder bench`): say so at once, stop within seconds, lose nothing.

`asyncio.run` turns the first Ctrl+C into a cancel of the main task and says nothing until
the loop has closed — which waits for every worker thread still running a model call (a local
model's generation runs minutes) — and only the second Ctrl+C shows anything. Here the first
Ctrl+C is handled by a Python signal handler, so it acts even while the loop is busy:

1. the caller's `on_interrupt` runs at once (it prints how to resume);
2. the coroutine is cancelled: in-flight requests are cancelled, every run still going is
   recorded as `cancelled` (the runner does that as the cancel passes through it);
3. after at most `grace_s` the loop is closed without waiting for worker threads, and
   `Interrupted` is raised; `leave_now_if_threads_linger` then ends the process if a thread
   still runs a call nobody waits for (its result could not be recorded anyway).

A second Ctrl+C leaves at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
EXIT_CODE = 130  # 128 + SIGINT, what a shell reports for a Ctrl+C


class Interrupted(Exception):
    """The command was stopped by Ctrl+C (after its work was cancelled and recorded)."""

    def __init__(self, at: float) -> None:
        super().__init__("interrupted")
        self.at = at  # time.monotonic() of the first Ctrl+C


def run_interruptible(coro: Coroutine[Any, Any, T], on_interrupt: Callable[[], None], *, grace_s: float = 3.0) -> T:
    """Run `coro` on a new event loop; the first Ctrl+C calls `on_interrupt`, cancels it and raises `Interrupted`.

    grace_s: how long the cancelled coroutine may take to record what it cancelled.
    """
    loop = asyncio.new_event_loop()
    executor = ThreadPoolExecutor(thread_name_prefix="ponder-bench")  # `to_thread` calls: not waited for on Ctrl+C
    loop.set_default_executor(executor)
    main = loop.create_task(coro)
    first: list[float] = []

    def interrupted() -> None:
        first.append(time.monotonic())
        on_interrupt()

    def on_sigint(signum: int, frame: Any) -> None:
        if first:  # a second Ctrl+C: leave now
            _leave(EXIT_CODE)
        interrupted()
        loop.call_soon_threadsafe(main.cancel)
        loop.call_soon_threadsafe(loop.call_later, grace_s, loop.stop)

    previous = signal.signal(signal.SIGINT, on_sigint) if _main_thread() else None
    try:
        return loop.run_until_complete(main)
    except KeyboardInterrupt:  # raised in the loop (no handler of ours here, or by a task): the same as Ctrl+C
        if not first:
            interrupted()
        main.cancel()
        with contextlib.suppress(BaseException):
            loop.run_until_complete(asyncio.wait({main}, timeout=grace_s))
        raise Interrupted(first[0]) from None
    except (asyncio.CancelledError, RuntimeError):  # RuntimeError: stopped after grace_s, still cancelling
        if not first:
            raise
        raise Interrupted(first[0]) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        _close(loop, executor, interrupted=bool(first))


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _close(loop: asyncio.AbstractEventLoop, executor: ThreadPoolExecutor, *, interrupted: bool) -> None:
    """Close `loop`: leftover tasks cancelled, async generators closed, threads waited for unless interrupted."""
    try:
        tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            loop.run_until_complete(asyncio.wait(tasks, timeout=1.0))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        executor.shutdown(wait=not interrupted, cancel_futures=interrupted)
        loop.close()


def _busy_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t is not threading.current_thread() and not t.daemon and t.is_alive()]


def leave_now_if_threads_linger(since: float, *, within_s: float = 4.0) -> None:
    """After an interrupt: give worker threads until `since + within_s`, then end the process if any still runs.

    Call it once everything is recorded and closed (the store, the exporter). A thread left
    then is a model call in a worker thread that cannot be stopped from Python; Python would
    wait for it at exit.
    """
    while _busy_threads() and time.monotonic() < since + within_s:
        time.sleep(0.05)
    if _busy_threads():
        _leave(EXIT_CODE)


def _leave(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
