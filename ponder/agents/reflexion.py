"""Reflexion: trials of an inner agent with verbal reflections kept in episodic memory (Shinn et al., 2023).

Each trial is a child run of the inner agent (ReAct or CoT). An evaluator decides whether it
succeeded: the environment's reward (`env`), the task's unit tests (`tests`), exact match with
the expected answer (`exact`), or the model's own judgement (`self`); `auto` picks unit tests
when the task has them, else the env, else exact match, else self. After a failed trial the
model writes a reflection; it goes to the store's `memory` table under `namespace` (default:
the task id), so a later run on the same task (another process, even) starts with it. The
last `memory_k` reflections reach the next trial: through the inner agent's `reflections`
config field when it has one (ReAct does), else put before the task's input.

On a code task (the evaluator runs unit tests) a trial is judged, and its reflection written from,
tests the model may see, chosen by `feedback` (`ponder.agents.code_tests`, shared with LATS):
`visible` (default) the examples in the prompt's docstring, `generated` asserts the model writes
once before the first trial (the paper's internal tests), `hidden` the env's own tests (an oracle:
the evaluation leaks into the reflections). The run's `correct` is always the hidden tests'
verdict on the last trial's code, which only `hidden` shows the model. The tests chosen are
recorded as a `reflexion_tests` event. A recorded config from before `feedback` existed reads as
`hidden`, as it ran.

Memory is read and written through `ctx.memory`, which records both as tool calls: a replayed
run sees the memory the recording saw and writes nothing twice.
"""

from __future__ import annotations

import asyncio
import re
from string import Template
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, model_validator

from ponder import registry
from ponder.agents.code_tests import NO_TESTS, Feedback, check_code, feedback_tests
from ponder.agents.kinds import ReflexionTestsData
from ponder.envs.abilities import as_test_runner
from ponder.envs.base import Env
from ponder.errors import ConfigError, ToolError
from ponder.runtime.base import BaseAgent
from ponder.runtime.context import Agent, RunContext
from ponder.runtime.env import build_env, task_env_name
from ponder.runtime.runner import exact_match
from ponder.traces.kinds import trajectory_lines
from ponder.types import CompletionRequest, Message, Result, Task

REFLECT_SYSTEM = (
    "You are an advanced reasoning agent that improves by reflecting on its mistakes. You will be given "
    "an earlier attempt at a task that failed. In a few sentences, diagnose why it failed and write a "
    "concise, high-level plan that avoids the same failure. Do not give the final answer itself."
)
REFLECT_PROMPT = Template("Task:\n$task\n\nAttempt:\n$trajectory\n\nOutcome: $feedback\n\nReflection:")
JUDGE_SYSTEM = "You check answers. Reply with one word: yes if the proposed answer is correct, no if it is not."
JUDGE_PROMPT = Template("Task:\n$task\n\nProposed answer: $answer\n\nIs the proposed answer correct?")
LESSONS = Template("Lessons from earlier attempts at this task:\n$items")
TRAJECTORY_LIMIT = 6000


TESTS_ENV = "code"  # the registered env that runs a task's unit tests when the task names none


class Verdict(BaseModel):
    """What the evaluator said about one trial."""

    success: bool | None
    score: float | None = None
    feedback: str = ""
    how: str = ""


class Reflexion(BaseAgent):
    """Trials of an inner agent; after each failure a reflection is stored and shown to the next trial.

    inner / inner_config: the agent tried (a registered name and its options).
    evaluator: auto | env | tests | exact | self (see the module docstring).
    env: the environment whose reward or scoring judges a trial (also given to the inner agent).
        Unset: the run's env (`ctx.env`, which child runs share) judges where it gives a reward
        or runs tests; a plain question env leaves `auto` at exact match.
    namespace: the memory namespace (default: the task id).
    memory_k: how many recent reflections the next trial sees.
    feedback: when unit tests judge the trials (code), which: `visible` (default) the prompt's examples,
        `generated` tests the model writes first, `hidden` the env's own (an oracle). `correct` is
        always the hidden tests' verdict on the last trial.
    """

    name: ClassVar[str] = "reflexion"

    inner: str = "react"
    inner_config: dict[str, Any] = Field(default_factory=dict)
    max_trials: int = Field(default=3, ge=1, le=20)
    memory_k: int = Field(default=3, ge=0)
    evaluator: Literal["auto", "env", "tests", "exact", "self"] = "auto"
    env: str | None = None
    namespace: str | None = None
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=256, ge=1)
    feedback: Feedback = "visible"

    @model_validator(mode="before")
    @classmethod
    def _recorded_before_feedback(cls, data: Any) -> Any:
        """A whole recorded config from before `feedback` existed judged code trials by the env's own tests."""
        if isinstance(data, dict) and "feedback" not in data and set(cls.model_fields) - {"feedback"} <= set(data):
            return {**data, "feedback": "hidden"}
        return data

    @model_validator(mode="after")
    def _check_inner(self) -> Reflexion:
        # an unknown inner agent or option is refused with the settings (and on replay), not in the first trial
        registry.build("agents", self.inner, self.inner_config, "reflexion inner_config: agent")
        return self

    # -- pieces ---------------------------------------------------------------------

    def env_option(self) -> Env | None:
        """The env `env` names (built), or None: the run's env (`ctx.env`) is used."""
        return None if not self.env else build_env(self.env)

    def _evaluator(self, task: Task, run_env: Env | None = None) -> str:
        if self.evaluator != "auto":
            return self.evaluator
        if {"test", "entry_point", "prompt"} <= set(task.metadata):
            return "tests"
        if self.env or task_env_name(task):  # an env named for this task judges it
            return "env"
        # the run's env judges when its judgment is more than exact match (a reward, tests)
        if run_env is not None and (run_env.interactive or run_env.runs_tests):
            return "env"
        if task.expected is not None:
            return "exact"
        return "self"

    def _inner_agent(self, reflections: list[str], task: Task) -> tuple[Agent, Task]:
        options = registry.options("agents", self.inner)
        config = dict(self.inner_config)
        if self.env and "env" in options and "env" not in config:
            config["env"] = self.env
        trial_task = task
        if "reflections" in options:
            config["reflections"] = [*config.get("reflections", []), *reflections]
        elif reflections:
            items = "\n".join(f"- {r}" for r in reflections)
            # an inner agent that takes an env's own prompt (CoT on code) reads them from `lessons`
            lessons = LESSONS.substitute(items=items)
            metadata = {**task.metadata, "lessons": lessons}
            trial_task = task.model_copy(update={"input": f"{lessons}\n\n{task.input}", "metadata": metadata})
        agent: Agent = registry.build("agents", self.inner, config, "reflexion inner_config: agent")
        return agent, trial_task

    def _tester(self, how: str, task: Task, ctx: RunContext) -> Env | None:
        """The env whose sandbox runs the trials' code when unit tests judge them (None: they do not)."""
        runs_tests = as_test_runner(ctx.env) is not None
        if how == "env":
            return ctx.env if runs_tests else None
        if how == "tests":
            return ctx.env if runs_tests else build_env(TESTS_ENV)
        return None

    async def _judge(
        self, how: str, task: Task, result: Result, ctx: RunContext, tester: Env | None, tests: str | None
    ) -> Verdict:
        answer = result.answer
        if tester is not None:  # unit tests judge: the feedback's (the env's own with `hidden`)
            return await self._judge_tests(tester, task, result, ctx, tests)
        if how == "env":
            env = ctx.env
            if env is None:
                raise ConfigError("evaluator 'env' needs an env: set env=NAME or use tasks from an env")
            if env.interactive and result.score is not None:
                ok = result.score >= 1.0
                return Verdict(success=ok, score=result.score, feedback=f"reward {result.score}", how=how)
            ev = env.evaluate(task, answer)
            return Verdict(success=ev.correct, score=ev.score, feedback=ev.detail, how=how)
        if how == "exact":
            if task.expected is None:
                raise ConfigError("evaluator 'exact' needs the task's expected answer (--expected)")
            right, score = exact_match(task, answer)
            fb = "correct" if right else "the answer was wrong"
            return Verdict(success=right, score=score, feedback=fb, how=how)
        req = CompletionRequest(
            messages=(
                Message.system(JUDGE_SYSTEM),
                Message.user(JUDGE_PROMPT.substitute(task=task.input, answer=answer or "(no answer)")),
            ),
            temperature=0.0,
            max_tokens=8,
        )
        text = (await ctx.complete(req, label="self-evaluate")).text
        word = re.search(r"\b(yes|no)\b", text, re.IGNORECASE)
        ok = bool(word is not None and word.group(1).lower() == "yes")
        fb = "the model judged the answer wrong" if not ok else "the model judged the answer right"
        return Verdict(
            success=ok, score=1.0 if ok else 0.0, feedback=fb if word else f"unclear judgement: {text!r}", how=how
        )

    def _code(self, ctx: RunContext, result: Result) -> str:
        """The code a trial wrote."""
        code = result.answer or ""
        if "def " not in code and "return" not in code and result.run_id is not None:
            # an inner agent that extracts short answers (CoT) cut the code off: judge its whole reply
            code = self._last_text(ctx, result.run_id) or code
        return code

    async def _judge_tests(self, env: Env, task: Task, result: Result, ctx: RunContext, tests: str | None) -> Verdict:
        """Run the feedback's tests (through `env`'s sandbox, off the event loop) on the code the trial wrote."""
        code = self._code(ctx, result)
        if self.feedback == "hidden":
            ev = env.evaluate(task, code)
            return Verdict(success=ev.correct, score=ev.score, feedback=ev.detail, how="tests")
        if not code.strip():
            return Verdict(success=False, score=0.0, feedback="no code in the answer", how="tests")
        check = await asyncio.to_thread(check_code, env, task, code, tests)
        if check.passed:
            return Verdict(
                success=True,
                score=1.0 if check.judged else None,
                feedback=check.feedback if check.judged else NO_TESTS,
                how="tests",
            )
        return Verdict(success=False, score=0.0, feedback=check.feedback, how="tests")

    async def _read_memory(self, ctx: RunContext, ns: str) -> tuple[list[str], list[int]]:
        if not self.memory_k:
            return [], []
        try:
            entries = await ctx.memory.recent(ns, self.memory_k)
        except ToolError as e:
            ctx.event("error", "memory", f"could not read memory {ns!r}: {e}", status="error")
            return [], []
        return [e.content for e in entries], [e.id for e in entries]

    def _last_text(self, ctx: RunContext, run_id: str) -> str | None:
        """The full text of a trial's last thought (what the model wrote, before answer extraction)."""
        text = None
        for ev in ctx.events(run_id):
            if ev.kind == "thought" and ev.data and isinstance(ev.data.get("text"), str):
                text = ev.data["text"]
        return text

    def _trajectory(self, ctx: RunContext, run_id: str) -> str:
        lines = trajectory_lines(ctx.events(run_id))
        out = "\n".join(lines)
        return out if len(out) <= TRAJECTORY_LIMIT else "…" + out[-TRAJECTORY_LIMIT:]

    @staticmethod
    def _no_answer(trial: int, last: Result) -> str:
        why = (last.error or "").removeprefix("no answer: ")
        return f"no answer: trial {trial}, the last, gave none" + (f" ({why})" if why else "")

    # -- the loop -------------------------------------------------------------------

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        ns = self.namespace or task.id
        how = self._evaluator(task, ctx.env)
        tester = self._tester(how, task, ctx)
        tests = None
        if tester is not None:
            tests = await feedback_tests(self.feedback, task, ctx, max_tokens=self.max_tokens, kind=ReflexionTestsData)
        last: Result | None = None
        verdict = Verdict(success=None)
        trial = 0
        for trial in range(1, self.max_trials + 1):
            reflections, ids = await self._read_memory(ctx, ns)
            ctx.event(
                "memory_read",
                f"memory ({len(reflections)})",
                f"{len(reflections)} reflections from {ns!r}",
                data={"namespace": ns, "reflections": reflections, "ids": ids},
            )
            agent, trial_task = self._inner_agent(reflections, task)
            seq = ctx.event("trial", f"trial {trial}", f"{self.inner} trial {trial}", status="running")
            result = await ctx.run_child(agent, trial_task, f"trial{trial}")
            verdict = await self._judge(how, task, result, ctx.within(seq), tester, tests)
            ctx.update(
                seq,
                status="ok" if verdict.success else "error",
                score=verdict.score,
                summary=f"{result.answer!r}: {verdict.feedback}"[:240],
                data={"run_id": result.run_id, "answer": result.answer, **verdict.model_dump()},
            )
            last = result
            if verdict.success:
                break
            trajectory = self._trajectory(ctx, result.run_id)
            req = CompletionRequest(
                messages=(
                    Message.system(REFLECT_SYSTEM),
                    Message.user(
                        REFLECT_PROMPT.substitute(task=task.input, trajectory=trajectory, feedback=verdict.feedback)
                    ),
                ),
                temperature=self.temperature,
                max_tokens=self.max_tokens,
            )
            rctx = ctx.within(seq)
            reflection = (await rctx.complete(req, label="reflect")).text.strip()
            if not reflection:
                rctx.event("reflection", "reflection", "(empty reflection; nothing stored)", status="error")
                continue
            rctx.event("reflection", "reflection", reflection, data={"text": reflection})
            wseq = rctx.event("memory_write", "memory", f"storing a reflection in {ns!r}", status="running")
            try:
                await ctx.memory.add(ns, reflection, score=verdict.score, parent=wseq)
            except ToolError as e:
                ctx.update(wseq, status="error", summary=f"could not store the reflection: {e}")
            else:
                ctx.update(wseq, status="ok", summary=f"stored a reflection in {ns!r}", data={"namespace": ns})
        assert last is not None
        correct = verdict.success if how != "self" else None
        score = verdict.score if how != "self" else None
        meta: dict[str, Any] = {"trials": trial, "evaluator": how, "namespace": ns}
        if how == "self":
            meta["self_judged"] = verdict.success
        if tester is not None:  # `solved`: passed the tests the trials saw; `correct`: the env's hidden ones
            meta["feedback"] = self.feedback
            if self.feedback != "hidden":
                meta["solved"] = verdict.success
                ev = await asyncio.to_thread(tester.evaluate, task, self._code(ctx, last))
                correct, score = ev.correct, ev.score
        return Result(
            answer=last.answer,
            error=None if last.answer is not None else self._no_answer(trial, last),
            correct=correct,
            score=score,
            metadata=meta,
        )
