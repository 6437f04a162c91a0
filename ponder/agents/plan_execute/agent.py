"""Plan-and-execute: a planner writes a numbered plan, an inner agent executes each step, and a
replanner keeps, revises or finishes the plan after every round (Wang et al. 2023, Plan-and-Solve;
LangGraph's plan-and-execute; the survey's plan–execute–feedback–refine loop).

Steps may name the steps they need, `(after 1, 2)`; a round runs every step whose needs are
finished at once (LLMCompiler's idea, Kim et al. 2024), each in its own branch so replay is
exact. With `dependencies=sequential` each step waits for the one before it.

After each round the replanner answers `FINISH: <answer>`, `CONTINUE` (keep the remaining steps),
or `REVISE:` with new numbered steps, which replace the remaining ones. Revisions, and retries of a
plan that could not be read, count against `max_replans`; executed steps against `max_steps`.
When the plan runs out (or a limit is reached) with no answer, one last call answers from the
results. A plan that cannot be read is recorded as an invalid `plan` event with its reason; the
run fails with that reason once `max_replans` is used up — it never crashes.

Events: `plan` (one per revision; data `PlanData`: revision, steps with status
pending/running/done/failed), `plan_step` (data `StepData`; the inner agent's events nest under
it, on branch `stepN`), `replan` (data `ReplanData`).
"""

from __future__ import annotations

import asyncio
from string import Template
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, model_validator

from ponder import registry
from ponder.agents.plan_execute.plan import (
    Decision,
    PlanData,
    PlanStep,
    ReplanData,
    StepData,
    parse_decision,
    parse_plan,
    render_plan,
    render_results,
)
from ponder.errors import ConfigError
from ponder.parsing import extract_answer
from ponder.runtime.base import BaseAgent
from ponder.runtime.context import RunContext
from ponder.runtime.env import resolve_env
from ponder.types import CompletionRequest, Message, Result, Task

PLANNER_SYSTEM = (
    "You plan how to reach an objective. Write a short plan of simple steps, one per line, numbered "
    "1., 2., 3. Each step must be a task that can be done on its own with the tools, given the results "
    "of the steps it names. When a step needs the result of earlier steps, end it with (after N) or "
    "(after N, M); steps that need nothing else name nothing and can run at the same time. Do not add "
    "superfluous steps. The result of the last step should be the final answer. Write only the plan."
)
PLANNER_PROMPT = Template("Tools available to each step:\n$tools\n\nObjective: $objective\n\nPlan:")
PLAN_RETRY = Template(
    "That plan could not be used: $reason. Write the plan again: numbered steps, one per line, "
    "e.g.\n1. Look up X.\n2. Look up Y.\n3. Combine X and Y. (after 1, 2)"
)
STEP_PROMPT = Template(
    "You are doing one step of a plan towards this objective: $objective\n\n"
    "The plan:\n$plan\n\nResults so far:\n$results\n\n"
    "Do only step $id now: $step\nGive the result of this step as your final answer."
)
REPLANNER_SYSTEM = (
    "You check progress on a plan and decide what happens next. Reply in exactly one of these forms:\n"
    "FINISH: followed by the final answer to the objective itself — when the results so far answer it;\n"
    "CONTINUE — when the remaining steps are still right;\n"
    "REVISE: followed by new numbered steps, one per line — they replace all remaining steps. "
    "Number them from $next, and name earlier steps they need with (after N). Do not repeat done steps."
)
REPLANNER_PROMPT = Template(
    "Objective: $objective\n\nThe plan (revision $revision):\n$plan\n\nResults so far:\n$results\n\n"
    "Remaining steps: $remaining\n\nYour decision:"
)
SOLVE_SYSTEM = "You give the final answer to an objective from the results of a plan's steps. Be short."
SOLVE_PROMPT = Template(
    "Objective: $objective\n\nResults of the steps:\n$results\n\n$why\n"
    'End with a line that starts with "Answer:" and then gives the final answer itself.'
)
NO_TOOLS = "(none: the steps are reasoned out)"


class PlanExecute(BaseAgent):
    """Plan, execute the steps with an inner agent (concurrently where independent), replan after each round.

    executor / executor_config: the agent that executes each step (a registered name and its options).
    dependencies: `declared` (steps run as soon as the steps they name are finished) or `sequential`.
    max_steps: steps executed in all; max_replans: plan revisions and retries of unusable plans.
    parallel: the most steps executed at once (None: every ready step).
    """

    name: ClassVar[str] = "plan_execute"

    executor: str = "react"
    executor_config: dict[str, Any] = Field(default_factory=dict)
    dependencies: Literal["declared", "sequential"] = "declared"
    max_steps: int = Field(default=8, ge=1, le=100)
    max_replans: int = Field(default=3, ge=0, le=20)
    parallel: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=512, ge=1)

    @model_validator(mode="after")
    def _check_executor(self) -> PlanExecute:
        if self.executor == self.name:
            raise ConfigError("plan_execute cannot execute its steps with itself; choose another executor")
        self.executor_agent()  # unknown executors and options are refused with the settings, not mid-run
        return self

    def executor_agent(self) -> Any:
        """The inner agent that executes a step, built through the registry."""
        return registry.build("agents", self.executor, self.executor_config, what="executor")

    # -- model calls -------------------------------------------------------------------

    def _request(self, messages: list[Message]) -> CompletionRequest:
        return CompletionRequest(messages=tuple(messages), temperature=self.temperature, max_tokens=self.max_tokens)

    def _tools_text(self, agent: Any, ctx: RunContext) -> str:
        if ctx.tools:
            return "\n".join(f"- {n}: {t.description}" for n, t in ctx.tools.items())
        names = agent.tools if "tools" in type(agent).model_fields and isinstance(agent.tools, list) else []
        return "\n".join(f"- {n}" for n in names) or NO_TOOLS

    async def _plan(self, task: Task, ctx: RunContext, tools: str) -> tuple[list[PlanStep], int, int, str | None]:
        """The planner's plan and its event, asking again (up to max_replans times) while it cannot be read."""
        messages = [
            Message.system(PLANNER_SYSTEM),
            Message.user(PLANNER_PROMPT.substitute(tools=tools, objective=task.input)),
        ]
        retries = 0
        while True:
            seq = ctx.event("plan", "plan", "", status="running")
            text = (await ctx.complete(self._request(messages), label="plan", parent=seq)).text
            steps, reason = parse_plan(text, first_id=1, sequential=self.dependencies == "sequential")
            if reason is None:
                self._show_plan(ctx, seq, 0, steps)
                return steps, retries, seq, None
            data = PlanData(revision=0, steps=[], reason=reason, raw=text)
            self._update(ctx, seq, status="invalid", summary=f"unusable plan: {reason}", data=data)
            if retries >= self.max_replans:
                return [], retries, seq, reason
            retries += 1
            messages += [Message.assistant(text), Message.user(PLAN_RETRY.substitute(reason=reason))]

    async def _replan(self, task: Task, ctx: RunContext, steps: list[PlanStep], revision: int, seq: int) -> Decision:
        remaining = [s for s in steps if s.status == "pending"]
        prompt = REPLANNER_PROMPT.substitute(
            objective=task.input,
            revision=revision,
            plan=render_plan(steps),
            results=render_results(steps),
            remaining=", ".join(str(s.id) for s in remaining) or "none",
        )
        system = Template(REPLANNER_SYSTEM).substitute(next=max(s.id for s in steps) + 1)
        req = self._request([Message.system(system), Message.user(prompt)])
        return parse_decision((await ctx.complete(req, label="replan", parent=seq)).text)

    def _revise(
        self, decision: Decision, steps: list[PlanStep], replans: int, data: ReplanData
    ) -> list[PlanStep] | None:
        """The new steps of a revision, or None (with the reason in `data`) when it cannot be used."""
        done = {s.id: s for s in steps if s.finished}
        first = max(s.id for s in steps) + 1
        new, why = parse_plan(
            decision.plan_text, first_id=first, done=done, sequential=self.dependencies == "sequential"
        )
        if why is None and replans >= self.max_replans:
            why, data.refused = f"max_replans={self.max_replans} used up; the plan is kept", True
        data.reason = why
        return new if why is None else None

    async def _solve(self, task: Task, ctx: RunContext, steps: list[PlanStep], why: str) -> str | None:
        prompt = SOLVE_PROMPT.substitute(objective=task.input, results=render_results(steps), why=why)
        text = (
            await ctx.complete(self._request([Message.system(SOLVE_SYSTEM), Message.user(prompt)]), label="answer")
        ).text
        return extract_answer(text) or (text.strip() or None)

    # -- executing steps ---------------------------------------------------------------

    def _update(self, ctx: RunContext, seq: int, *, data: BaseModel, **fields: Any) -> None:
        ctx.update(seq, data=data.model_dump(mode="json"), **fields)

    def _show_plan(self, ctx: RunContext, seq: int, revision: int, steps: list[PlanStep]) -> None:
        data = PlanData(revision=revision, steps=[s.model_copy() for s in steps])
        counts = {k: sum(1 for s in steps if s.status == k) for k in ("done", "failed", "running", "pending")}
        summary = ", ".join(f"{n} {k}" for k, n in counts.items() if n) or "no steps"
        self._update(ctx, seq, status="ok", summary=f"{len(steps)} steps: {summary}", data=data)

    async def _execute(
        self, agent: Any, task: Task, ctx: RunContext, step: PlanStep, seq: int, plan: str, results: str
    ) -> None:
        """Run the executor on one step in its own branch; the step ends done (with its result) or failed."""
        step_task = Task(
            id=f"{task.id}/step{step.id}",
            input=STEP_PROMPT.substitute(objective=task.input, plan=plan, results=results, id=step.id, step=step.text),
            metadata={k: v for k, v in task.metadata.items() if k != "env"},
        )
        # a step is a sub-question, not one of the env's tasks: the executor works without the run's env
        # (on its own env option's, if it has one)
        branch = ctx.branch(f"step{step.id}", parent=seq).with_env(resolve_env(agent, step_task, None))
        result = await agent.solve(step_task, branch)
        if result.answer is not None and result.answer.strip():
            step.status, step.result = "done", result.answer.strip()
        else:
            stopped = result.metadata.get("stopped") if isinstance(result.metadata, dict) else None
            step.status, step.error = "failed", f"the executor gave no result ({stopped or result.status})"

    async def _round(
        self,
        agent: Any,
        task: Task,
        ctx: RunContext,
        batch: list[PlanStep],
        plan_seq: int,
        steps: list[PlanStep],
        revision: int,
    ) -> None:
        """Execute `batch` at once; step events are written here, in step order, so replay sees one order."""
        # what every step of the round sees is fixed before any runs: concurrent steps cannot change it
        results, plan = render_results(steps), render_plan(steps, status=False)
        for s in batch:
            s.status = "running"
        seqs = [
            ctx.event(
                "plan_step",
                f"step {s.id}",
                s.text,
                parent=plan_seq,
                status="running",
                data=StepData(id=s.id, text=s.text, after=s.after, revision=revision, status="running").model_dump(
                    mode="json"
                ),
            )
            for s in batch
        ]
        self._show_plan(ctx, plan_seq, revision, steps)
        async with asyncio.TaskGroup() as tg:
            for s, seq in zip(batch, seqs, strict=True):
                tg.create_task(self._execute(agent, task, ctx, s, seq, plan, results))
        for s, seq in zip(batch, seqs, strict=True):
            data = StepData(
                id=s.id, text=s.text, after=s.after, revision=revision, status=s.status, result=s.result, error=s.error
            )
            ctx.update(
                seq,
                status="ok" if s.status == "done" else "error",
                summary=f"{s.text} -> {s.result if s.status == 'done' else s.error}",
                data=data.model_dump(mode="json"),
            )
        self._show_plan(ctx, plan_seq, revision, steps)

    # -- the loop ----------------------------------------------------------------------

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        agent = self.executor_agent()
        steps, replans, plan_seq, reason = await self._plan(task, ctx, self._tools_text(agent, ctx))
        if reason is not None:
            return Result(
                answer=None,
                status="error",
                error=f"no usable plan: {reason}",
                metadata={"replans": replans, "reason": reason},
            )
        revision = executed = rounds = 0
        answer: str | None = None
        stopped: str | None = None
        while answer is None:
            pending = [s for s in steps if s.status == "pending"]
            if not pending:
                stopped = "plan complete"
                break
            if executed >= self.max_steps:
                stopped = f"max_steps={self.max_steps} reached"
                ctx.event(
                    "error", "max_steps", f"stopped after {executed} steps (max_steps={self.max_steps})", status="error"
                )
                break
            by_id = {s.id: s for s in steps}
            ready = [s for s in pending if all(by_id[d].finished for d in s.after if d in by_id)]
            if not ready:  # parse_plan only lets steps name earlier ones, so this is a bug guard
                stopped = "no step is ready"
                ctx.event("error", "stuck", "no remaining step has its inputs ready", status="error")
                break
            width = min(len(ready), self.parallel or len(ready), self.max_steps - executed)
            rounds += 1
            await self._round(agent, task, ctx, ready[:width], plan_seq, steps, revision)
            executed += width
            rseq = ctx.event("replan", "replan", "", status="running")
            decision = await self._replan(task, ctx, steps, revision, rseq)
            data = ReplanData(
                round=rounds, decision=decision.kind, revision=revision, answer=decision.answer, reason=decision.reason
            )
            new = self._revise(decision, steps, replans, data) if decision.kind == "revise" else None
            if decision.kind == "finish":
                answer = decision.answer
            elif new is not None:
                replans += 1
                revision = data.revision = revision + 1
            label = f"replan: {decision.kind}" + (" (refused)" if data.refused else "")
            summary = {
                "finish": f"finish: {decision.answer}",
                "continue": f"keep the remaining steps ({len(pending) - width})",
                "revise": f"{len(new or [])} new steps replace the remaining {len(pending) - width}",
            }.get(decision.kind, "")
            ok = decision.kind != "invalid" and data.reason is None
            self._update(
                ctx,
                rseq,
                status="ok" if ok else "invalid",
                label=label,
                summary=summary if ok else data.reason or "",
                data=data,
            )
            if new is not None:  # the revision replaces every step not yet executed
                steps = [s for s in steps if s.finished] + new
                plan_seq = ctx.event("plan", f"plan r{revision}", "", status="running")
                self._show_plan(ctx, plan_seq, revision, steps)
        meta: dict[str, Any] = {"steps": executed, "rounds": rounds, "revisions": revision, "replans": replans}
        if answer is None:
            meta["stopped"] = stopped
            why = f"The plan ended ({stopped}) without a final answer; give it from the results."
            answer = await self._solve(task, ctx, steps, why)
        return Result(answer=answer, metadata=meta)
