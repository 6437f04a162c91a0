"""LLMCompiler's task fetching unit: tasks arrive while the planner's reply is still streaming; each
starts as soon as the tasks it names (`$N`) are done.

After SqueezeAILab/LLMCompiler, src/llm_compiler/task_fetching_unit.py (MIT License, Copyright (c)
2023 SqueezeAILab): the planner's stream feeds tasks in, the unit schedules every task whose
dependencies are satisfied, and it ends once the plan is closed and every task is done.

What is recorded does not depend on which call finished first: a task's event is written when its
line is parsed (so in plan order), and its tool call runs in a branch named after the round and the
task number (`r0t2`), so a replay serves each call its recorded result whatever order they ran in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ponder.agents.llm_compiler.plan import CompilerTask, CompilerTaskData, resolve
from ponder.runtime.context import RunContext
from ponder.tools.base import Tool, fork_tools


class TaskFetchingUnit:
    """Runs one plan's tasks as they are added: `add` each parsed task, `close` when the plan is complete,
    and await `run` (started before the first `add`) for every task to end done or failed.

    done: the tasks of earlier rounds (their results may be named). max_tasks: tasks past it fail
    unrun. parallel: the most tool calls at once (None: every ready task). show: called with each
    task when it ends (the agent updates its event).
    """

    def __init__(
        self,
        ctx: RunContext,
        tools: dict[str, Tool],
        rnd: int,
        plan_seq: int,
        done: list[CompilerTask],
        *,
        max_tasks: int,
        parallel: int | None,
        show: Callable[[CompilerTask, int], None],
    ) -> None:
        self.ctx, self.tools, self.rnd, self.plan_seq = ctx, tools, rnd, plan_seq
        self.max_tasks = max_tasks
        self.show = show
        self.tasks: list[CompilerTask] = []
        self.seqs: dict[int, int] = {}
        self.results = {t.idx: t.result or "" for t in done if t.status == "done"}
        self.failed = {t.idx: t.error or "" for t in done if t.status == "failed"}
        self._pending: dict[int, CompilerTask] = {}
        self._running: dict[asyncio.Task[None], CompilerTask] = {}
        self._sem = asyncio.Semaphore(parallel) if parallel else None
        self._wake = asyncio.Event()
        self._closed = False

    # -- fed by the planner --------------------------------------------------------------

    def add(self, t: CompilerTask) -> None:
        """A task parsed from the plan: its event written now, started once its inputs are done."""
        if len(self.tasks) >= self.max_tasks:
            t.status, t.error = "failed", f"max_tasks={self.max_tasks}: not run"
        self.tasks.append(t)
        self.seqs[t.idx] = self.ctx.event(
            "compiler_task",
            f"{t.idx}. {t.tool if t.tool != '?' else '(unreadable line)'}",
            "" if t.args is None else str(t.args),
            parent=self.plan_seq,
            status="error" if t.status == "failed" else "running",
            data=CompilerTaskData(
                round=self.rnd, idx=t.idx, tool=t.tool, args=t.args, deps=t.deps, status=t.status, error=t.error
            ).model_dump(mode="json"),
        )
        if t.status == "failed":
            self.failed[t.idx] = t.error or ""
        else:
            self._pending[t.idx] = t
        self._wake.set()

    def close(self) -> None:
        """The plan is complete: no more tasks come."""
        self._closed = True
        self._wake.set()

    # -- the scheduling loop ---------------------------------------------------------------

    async def run(self) -> None:
        """Start every task whose inputs exist, as they come, until the plan is closed and all have ended."""
        try:
            while True:
                self._wake.clear()
                self._start_ready()
                if not self._running and self._closed:
                    for t in self._pending.values():  # a guard: parse_line lets a task name only earlier ones
                        t.status, t.error = "failed", "its inputs never became available"
                    self._pending.clear()
                    return
                woken = asyncio.ensure_future(self._wake.wait())
                waiting: list[asyncio.Future[Any]] = [*self._running, woken]
                try:
                    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    woken.cancel()
                for f in sorted((f for f in self._running if f.done()), key=lambda f: self._running[f].idx):
                    t = self._running.pop(f)
                    f.result()
                    self.show(t, self.seqs[t.idx])
                    if t.status == "done":
                        self.results[t.idx] = t.result or ""
                    else:
                        self.failed[t.idx] = t.error or ""
        finally:  # a run stopped (budget, timeout, a failed plan call) stops its calls in flight too
            for f in self._running:
                f.cancel()
            await asyncio.gather(*self._running, return_exceptions=True)

    def _start_ready(self) -> None:
        known = set(self.results) | set(self.failed)
        for idx in sorted(self._pending):
            t = self._pending[idx]
            if all(d in known for d in t.deps):
                del self._pending[idx]
                self._running[asyncio.ensure_future(self._one(t))] = t

    async def _one(self, t: CompilerTask) -> None:
        if self._sem is None:
            await self._call(t)
            return
        async with self._sem:
            await self._call(t)

    async def _call(self, t: CompilerTask) -> None:
        """One tool call with the results it names substituted, on its own copy of the tools (search's
        page is per call) in its own branch; the task ends done or failed."""
        seq = self.seqs[t.idx]
        bad = [d for d in t.deps if d in self.failed]
        if bad:
            t.status, t.error = "failed", f"input ${bad[0]} failed: {self.failed[bad[0]]}"
            return
        args = resolve(t.args, self.results)
        if args is not None and not isinstance(args, str | dict):
            args = str(args) if not isinstance(args, list) else args
        t.status = "running"
        branch = self.ctx.branch(f"r{self.rnd}t{t.idx}", parent=seq).with_tools(fork_tools(self.tools))
        outcome = await branch.call_tool(t.tool, args, parent=seq)
        if outcome.error is None and outcome.result is not None:
            t.status, t.result = "done", outcome.result
        else:
            t.status, t.error = "failed", outcome.error or "no result"
