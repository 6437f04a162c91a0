"""LLMCompiler (Kim et al. 2024, SqueezeAILab/LLMCompiler): a planner writes numbered tool calls whose
arguments name earlier results (`$N`), a task fetching unit starts each call as soon as the calls it
names are done, and a joiner finishes with an answer or asks for a new plan (`max_replans`).

The planner's reply is streamed (`ctx.complete(on_text=...)`) and parsed line by line as it arrives
(`PlanStream`); the task fetching unit (`fetch`) starts each call as soon as its line
and the results it names are there, while the rest of the plan is still being written. A line that
cannot be read becomes a failed task with its reason, which the joiner sees. Every tool call goes
through `ctx.call_tool` in a branch named after its round and task number (`r0t2`), so replay serves
each its recorded result whatever order the calls ran in. Task events are written in plan order.

Events: `compiler_plan` (one per round), `compiler_task` (one per task, under its plan),
`compiler_join` (the joiner's decision).

Prompts after SqueezeAILab/LLMCompiler's ParallelQA/HotpotQA prompts (MIT License, Copyright (c)
2023 SqueezeAILab); shortened.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from string import Template
from typing import Any, ClassVar

from pydantic import Field

from ponder.agents.llm_compiler.fetch import TaskFetchingUnit
from ponder.agents.llm_compiler.plan import (
    CompilerJoinData,
    CompilerPlanData,
    CompilerTask,
    CompilerTaskData,
    Decision,
    PlanStream,
    parse_decision,
)
from ponder.runtime.base import BaseAgent
from ponder.runtime.context import RunContext
from ponder.tools.base import Tool, ToolOptions, build_tools
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
    parallel: the most tool calls running at once (None: every ready call). stream: ask for the plan
    streamed, so each call starts as soon as its line and its inputs are there (False: once the whole
    plan has come; the recorded run is the same either way).
    """

    name: ClassVar[str] = "llm_compiler"

    tools: list[str] = Field(default_factory=lambda: ["search", "calculator"])
    corpus: str | None = None
    max_replans: int = Field(default=2, ge=0, le=10)
    max_tasks: int = Field(default=12, ge=1, le=100)
    parallel: int | None = Field(default=None, ge=1)
    stream: bool = True
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
        """One plan, its tasks run as its lines arrive: its event, the parser, and the tasks (numbered after
        the `done` ones), each ended done or failed."""
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
        stream = PlanStream()
        stream.seen.update(t.idx for t in done)
        unit = TaskFetchingUnit(
            ctx, tools, rnd, seq, done, max_tasks=self.max_tasks, parallel=self.parallel, show=self._shower(ctx, rnd)
        )

        def on_text(piece: str) -> None:  # each completed line is a task at once, while the reply streams on
            for t in stream.feed(piece):
                unit.add(t)

        fetching = asyncio.ensure_future(unit.run())
        try:
            req = self._request([Message.system(system), Message.user(prompt)])
            reply = await ctx.complete(req, label="plan", on_text=on_text if self.stream else None)
            if not self.stream:
                on_text(reply.text)
            for t in stream.close():
                unit.add(t)
            unit.close()
            await fetching
        finally:
            if not fetching.done():  # the plan call failed or the run stopped: stop the tasks started
                fetching.cancel()
                await asyncio.gather(fetching, return_exceptions=True)
        return seq, stream, unit.tasks

    @staticmethod
    def _shower(ctx: RunContext, rnd: int) -> Callable[[CompilerTask, int], None]:
        """What writes a task's outcome into its event once it ends."""

        def show(t: CompilerTask, seq: int) -> None:
            data = CompilerTaskData(
                round=rnd,
                idx=t.idx,
                tool=t.tool,
                args=t.args,
                deps=t.deps,
                status=t.status,
                result=t.result,
                error=t.error,
            )
            status = {"done": "ok", "failed": "error"}.get(t.status, "running")
            ctx.update(seq, status=status, summary=t.outcome() if t.finished else "", data=data)

        return show

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
