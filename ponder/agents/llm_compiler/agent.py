"""LLMCompiler (Kim et al. 2024, SqueezeAILab/LLMCompiler): a planner writes numbered tool calls whose
arguments name earlier results (`$N`), a task fetching unit starts each call as soon as the calls it
names are done, and a joiner finishes with an answer or asks for a new plan (`max_replans`).

The plan is parsed line by line as its text arrives (`PlanStream`); a line that cannot be read
becomes a failed task with its reason, which the joiner sees. Every tool call goes through
`ctx.call_tool` in a branch named after its round and task number (`r0t2`), so replay serves each
its recorded result whatever order the calls ran in. Task events are written in plan order.

Events: `compiler_plan` (one per round), `compiler_task` (one per task, under its plan),
`compiler_join` (the joiner's decision).

Prompts after SqueezeAILab/LLMCompiler's ParallelQA/HotpotQA prompts (MIT License, Copyright (c)
2023 SqueezeAILab); shortened.
"""

from __future__ import annotations

import asyncio
from string import Template
from typing import Any, ClassVar

from pydantic import Field

from ponder.agents.llm_compiler.plan import (
    CompilerJoinData,
    CompilerPlanData,
    CompilerTask,
    CompilerTaskData,
    Decision,
    PlanStream,
    parse_decision,
    resolve,
)
from ponder.runtime.base import BaseAgent
from ponder.runtime.context import RunContext
from ponder.tools.base import Tool, ToolOptions, build_tools, fork_tools
from ponder.types import CompletionRequest, Message, Result, Task

PLANNER_SYSTEM = Template(
    "Given a question, create a plan to answer it with the utmost parallelizability. Each action is one "
    "of these tools:\n$tools\n$n. join(): collects the results of the actions above and answers. Call it "
    'last, always.\n\nRules:\n- Each action is one line `N. tool("argument")`, numbered in order.\n'
    "- An argument may use the result of an earlier action N as $$N.\n"
    "- Actions that need nothing from each other run at the same time: search each entity separately.\n"
    "- Never use a tool that is not listed. End the plan with join() and write nothing after it.\n\n"
    "Example:\nQuestion: Which is taller, the Eiffel Tower or the Tokyo Tower?\n"
    '1. search("Eiffel Tower")\n2. search("Tokyo Tower")\n3. join()'
)
PLANNER_PROMPT = Template("Question: $question\n$context")
REPLAN_CONTEXT = Template(
    "\nEarlier plans and their results:\n$results\nThe joiner asked for a new plan: $reason\n"
    "Write a new plan; number its actions from $first.\n"
)
JOINER_SYSTEM = (
    "Answer the question from the results of the actions. Think briefly, then end with exactly one line: "
    "`Action: Finish(` followed by the answer itself, as short as possible, and `)` when the results answer "
    "the question, or `Action: Replan(` followed by what is missing and `)` when they do not."
)
JOINER_PROMPT = Template("Question: $question\n\nActions and results:\n$results\n")


def render_results(tasks: list[CompilerTask]) -> str:
    lines = [f"{t.idx}. {t.tool}({'' if t.args is None else repr(t.args)}) -> {t.outcome()}" for t in tasks]
    return "\n".join(lines) or "(no actions)"


class LLMCompiler(BaseAgent):
    """Plan tool calls as a graph ($N references), run each as soon as its inputs exist, join or replan.

    tools: the tools the planner may call (the run's tools when it has some); corpus: the search corpus.
    max_replans: new plans the joiner may ask for; max_tasks: tool calls in one plan (more are refused).
    parallel: the most tool calls running at once (None: every ready call).
    """

    name: ClassVar[str] = "llm_compiler"

    tools: list[str] = Field(default_factory=lambda: ["search", "calculator"])
    corpus: str | None = None
    max_replans: int = Field(default=2, ge=0, le=10)
    max_tasks: int = Field(default=12, ge=1, le=100)
    parallel: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=512, ge=1)

    def _tools(self, ctx: RunContext) -> dict[str, Tool]:
        if ctx.tools:
            return dict(ctx.tools)
        corpus = self.corpus
        if corpus is None:
            beside = ctx.resource("corpus.db")
            corpus = None if beside is None else str(beside)
        return build_tools(list(self.tools), ToolOptions(corpus=corpus))

    def _request(self, messages: list[Message]) -> CompletionRequest:
        return CompletionRequest(messages=tuple(messages), temperature=self.temperature, max_tokens=self.max_tokens)

    # -- the planner and the task fetching unit -----------------------------------------

    async def _plan(
        self, task: Task, ctx: RunContext, tools: dict[str, Tool], rnd: int, done: list[CompilerTask], reason: str
    ) -> tuple[int, PlanStream, list[CompilerTask]]:
        """One plan: its event, the parser, and the tasks parsed (numbered after the `done` ones)."""
        first = max((t.idx for t in done), default=0) + 1
        lines = [f"{i}. {n}: {t.description}" for i, (n, t) in enumerate(tools.items(), start=1)]
        system = PLANNER_SYSTEM.substitute(tools="\n".join(lines), n=len(lines) + 1)
        context = (
            REPLAN_CONTEXT.substitute(results=render_results(done), reason=reason or "(none given)", first=first)
            if rnd
            else ""
        )
        prompt = PLANNER_PROMPT.substitute(question=task.input, context=context)
        seq = ctx.event("compiler_plan", f"plan r{rnd}", "", status="running")
        text = (await ctx.complete(self._request([Message.system(system), Message.user(prompt)]), label="plan")).text
        stream = PlanStream()
        stream.seen.update(t.idx for t in done)
        parsed = stream.feed(text) + stream.close()
        return seq, stream, parsed

    async def _run_task(
        self,
        t: CompilerTask,
        seq: int,
        ctx: RunContext,
        results: dict[int, str],
        failed: dict[int, str],
    ) -> None:
        """Make one tool call with the results it names substituted; the task ends done or failed."""
        bad = [d for d in t.deps if d in failed]
        if bad:
            t.status, t.error = "failed", f"input ${bad[0]} failed: {failed[bad[0]]}"
            return
        args = resolve(t.args, results)
        if args is not None and not isinstance(args, str | dict):
            args = str(args) if not isinstance(args, list) else args
        t.status = "running"
        outcome = await ctx.call_tool(t.tool, args, parent=seq)
        if outcome.error is None and outcome.result is not None:
            t.status, t.result = "done", outcome.result
        else:
            t.status, t.error = "failed", outcome.error or "no result"

    async def _fetch(
        self,
        ctx: RunContext,
        tools: dict[str, Tool],
        rnd: int,
        tasks: list[CompilerTask],
        seqs: dict[int, int],
        done: list[CompilerTask],
    ) -> None:
        """The task fetching unit: start every task whose inputs exist, at most `parallel` at once."""
        results = {t.idx: t.result or "" for t in done if t.status == "done"}
        failed = {t.idx: t.error or "" for t in done if t.status == "failed"}
        for t in tasks:
            if t.status == "failed":
                failed[t.idx] = t.error or ""
        pending = {t.idx: t for t in tasks if t.status == "pending"}
        running: dict[asyncio.Task[None], CompilerTask] = {}
        sem = asyncio.Semaphore(self.parallel or max(1, len(pending)))

        async def one(t: CompilerTask) -> None:
            async with sem:  # each call on its own copy of the tools: search's page is per call
                branch = ctx.branch(f"r{rnd}t{t.idx}", parent=seqs[t.idx]).with_tools(fork_tools(tools))
                await self._run_task(t, seqs[t.idx], branch, results, failed)

        try:
            while pending or running:
                known = set(results) | set(failed)
                for idx in sorted(pending):
                    if all(d in known for d in pending[idx].deps):
                        t = pending.pop(idx)
                        running[asyncio.ensure_future(one(t))] = t
                if not running:  # a guard: parse_line lets a task name only earlier ones
                    for t in pending.values():
                        t.status, t.error = "failed", "its inputs never became available"
                    break
                finished, _ = await asyncio.wait(list(running), timeout=None, return_when=asyncio.FIRST_COMPLETED)
                for f in sorted(finished, key=lambda f: running[f].idx):
                    t = running.pop(f)
                    f.result()
                    self._show_task(ctx, rnd, t, seqs[t.idx])
                    if t.status == "done":
                        results[t.idx] = t.result or ""
                    else:
                        failed[t.idx] = t.error or ""
        finally:  # a run stopped (budget, timeout) stops its calls in flight too
            for f in running:
                f.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    def _show_task(self, ctx: RunContext, rnd: int, t: CompilerTask, seq: int) -> None:
        data = CompilerTaskData(
            round=rnd, idx=t.idx, tool=t.tool, args=t.args, deps=t.deps, status=t.status, result=t.result, error=t.error
        )
        status = {"done": "ok", "failed": "error"}.get(t.status, "running")
        summary = t.outcome() if t.finished else ""
        ctx.update(seq, status=status, summary=summary, data=data)

    # -- the joiner and the loop -----------------------------------------------------------

    async def _join(self, task: Task, ctx: RunContext, tasks: list[CompilerTask]) -> Decision:
        prompt = JOINER_PROMPT.substitute(question=task.input, results=render_results(tasks))
        req = self._request([Message.system(JOINER_SYSTEM), Message.user(prompt)])
        return parse_decision((await ctx.complete(req, label="join")).text)

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        tools = self._tools(ctx)
        done: list[CompilerTask] = []
        reason = ""
        for rnd in range(self.max_replans + 1):
            plan_seq, stream, tasks = await self._plan(task, ctx, tools, rnd, done, reason)
            for t in tasks[self.max_tasks :]:
                t.status, t.error = "failed", f"max_tasks={self.max_tasks}: not run"
            seqs = {
                t.idx: ctx.event(
                    "compiler_task",
                    f"{t.idx}. {t.tool if t.tool != '?' else '(unreadable line)'}",
                    "" if t.args is None else str(t.args),
                    parent=plan_seq,
                    status="error" if t.status == "failed" else "running",
                    data=CompilerTaskData(
                        round=rnd, idx=t.idx, tool=t.tool, args=t.args, deps=t.deps, status=t.status, error=t.error
                    ).model_dump(mode="json"),
                )
                for t in tasks
            }
            await self._fetch(ctx, tools, rnd, tasks, seqs, done)
            ctx.update(
                plan_seq,
                status="ok" if tasks and stream.joined else "invalid",
                summary=f"{len(tasks)} tasks" + ("" if stream.joined else "; no join()"),
                data=CompilerPlanData(round=rnd, tasks=[t.model_copy() for t in tasks], joined=stream.joined),
            )
            done += tasks
            decision = await self._join(task, ctx, done)
            refused = decision.kind != "finish" and rnd >= self.max_replans
            ctx.event(
                "compiler_join",
                f"join: {decision.kind}",
                decision.answer or decision.reason or "",
                status="ok" if decision.kind != "invalid" else "invalid",
                data=CompilerJoinData(
                    round=rnd, decision=decision.kind, answer=decision.answer, reason=decision.reason, refused=refused
                ).model_dump(mode="json"),
            )
            meta: dict[str, Any] = {"rounds": rnd + 1, "tasks": len(done), "replans": rnd}
            if decision.kind == "finish":
                return Result(answer=decision.answer, metadata=meta)
            reason = decision.reason or ""
        meta["stopped"] = f"max_replans={self.max_replans} used up without an answer"
        return Result(answer=None, status="error", error=meta["stopped"], metadata=meta)
