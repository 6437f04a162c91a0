"""The runner: `run_agent` opens a recorded run, calls `agent.solve(task, ctx)` and closes the run.

Closing a run writes its `answer` event (or an `error` event), scores the answer with the
evaluator when the agent did not, and sets the run row's status: `ok` when the agent gave an
answer, `error` when it raised or gave none (a ReAct run out of steps, a vote with no votes:
the run's error then starts with "no answer:" and says why). The wall-clock budget is
enforced here by cancelling everything the run has in flight (model requests, tool calls,
child runs) when the time is up; the run is then recorded with status `timeout`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ponder.backends.base import Backend
from ponder.envs.base import Env, Evaluation, env_options
from ponder.errors import ConfigError, PonderError, RunTimedOut
from ponder.parsing import normalize_answer
from ponder.runtime.budget import Budget, Limits
from ponder.runtime.context import Agent, RunContext, _config_of, _RunState
from ponder.runtime.env import resolve_env
from ponder.runtime.tool_calls import RecordedTools
from ponder.tools.base import Tool
from ponder.traces.recorder import Recorder
from ponder.traces.store import TraceStore
from ponder.types import Result, Task, Usage

Evaluator = Callable[[Task, str | None], "tuple[bool | None, float | None] | Evaluation"]
"""Judges an answer: (correct, score), or an env's `Evaluation` (which may carry `metrics`)."""


def exact_match(task: Task, answer: str | None) -> tuple[bool | None, float | None]:
    """Correct when the normalized answer equals the normalized expected answer (None if none is known)."""
    if task.expected is None:
        return None, None
    ok = answer is not None and normalize_answer(answer) == normalize_answer(task.expected)
    return ok, 1.0 if ok else 0.0


NO_ANSWER = "no answer"


def no_answer_error(why: str) -> str:
    """The error text of a run that ended without an answer: `no answer: <why>`."""
    return why if why.startswith(f"{NO_ANSWER}:") else f"{NO_ANSWER}: {why}"


def ended_without_answer(status: str, answer: str | None, error: str | None) -> bool:
    """Whether a run finished normally but gave no answer (as opposed to failing or being stopped)."""
    return status == "error" and answer is None and (error or "").startswith(f"{NO_ANSWER}:")


def _outcome(agent: Agent, result: Result) -> Result:
    """A result with no answer is an `error`, whatever strategy made it; its error says why."""
    if result.answer is not None or result.status != "ok":
        return result
    why = result.error or f"the {agent.name} run ended without an answer"
    return result.model_copy(update={"status": "error", "error": no_answer_error(why)})


def env_tools(env: Env, task: Task) -> dict[str, Tool] | None:
    """The tools an env gives an agent for `task`, if it gives any."""
    tools = env.tools(task)
    return None if tools is None else dict(tools)


def env_evaluator(env: Env) -> Evaluator:
    """An evaluator for `run_agent` from `env.evaluate`: an env that raises could not judge the
    answer, which is an evaluation error (recorded with its reason), never a wrong answer."""

    def evaluate(task: Task, answer: str | None) -> Evaluation:
        try:
            return env.evaluate(task, answer)
        except Exception as e:  # no sandbox, or an env that chokes on untrusted output: not judged
            return Evaluation(error=" ".join(f"{type(e).__name__}: {e}".split()))

    return evaluate


def _fail(ctx: RunContext, rec: Recorder, label: str, message: str, status: str = "error") -> None:
    ctx.close_open_events("cancelled" if status in ("cancelled", "timeout") else "error", message)
    ctx.event("error", label, message, parent=None, status="error")
    rec.finish(status=status, error=message)


async def _solve(agent: Agent, task: Task, ctx: RunContext, limits: Limits | None) -> Result:
    """`agent.solve` on the env the run resolves for it (`ctx.env`), cancelled when the wall-clock
    budget of `limits` ends (then `RunTimedOut`)."""
    ctx = ctx.with_env(resolve_env(agent, task, ctx.env))
    deadline = None if limits is None else limits.deadline
    if limits is None or deadline is None:
        return await agent.solve(task, ctx)
    try:
        # the loop's clock is time.monotonic(), the clock `Limits` counts in
        async with asyncio.timeout_at(deadline) as scope:
            return await agent.solve(task, ctx)
    except TimeoutError:
        if scope.expired():
            raise RunTimedOut(limits.timeout_message()) from None
        raise


async def drive(
    agent: Agent,
    task: Task,
    ctx: RunContext,
    rec: Recorder,
    evaluator: Evaluator | None = None,
    *,
    limits: Limits | None = None,
) -> Result:
    """Run `agent.solve` inside the open run `rec`, record the answer and close the run row.

    limits: the run's budget account, whose wall-clock deadline this call enforces (a top-level
        run); everything in flight is cancelled then and the run closes with status `timeout`.
    """
    try:
        result = await _solve(agent, task, ctx, limits)
    except asyncio.CancelledError:
        _fail(ctx, rec, "cancelled", "the run was cancelled", status="cancelled")
        raise
    except RunTimedOut as e:
        _fail(ctx, rec, "timeout", str(e), status="timeout")
        raise
    except PonderError as e:
        _fail(ctx, rec, type(e).__name__, str(e))
        raise
    except Exception as e:
        _fail(ctx, rec, type(e).__name__, f"{type(e).__name__}: {e}")
        raise
    metrics: dict[str, float] | None = None
    eval_error: str | None = None
    if result.correct is None and evaluator is not None:
        judged = evaluator(task, result.answer)
        if isinstance(judged, Evaluation):
            correct, score, metrics = judged.correct, judged.score, dict(judged.metrics) or None
            if judged.error is not None:
                correct, score, eval_error = None, None, judged.error
        else:
            correct, score = judged
        result = result.model_copy(update={"correct": correct, "score": result.score if score is None else score})
    elif result.metrics:  # an agent that judged its answer itself (a tree search, with its env) passes them on
        metrics = dict(result.metrics)
    result = _outcome(agent, result)
    ctx.event(
        "answer",
        "answer",
        result.answer if result.answer is not None else "(no answer)",
        parent=None,
        status="ok" if result.answer is not None else "error",
        score=result.score,
        data={"answer": result.answer, "correct": result.correct}
        | ({"metrics": metrics} if metrics else {})
        | ({"eval_error": eval_error} if eval_error else {}),
    )
    rec.finish(
        status=result.status,
        answer=result.answer,
        correct=result.correct,
        score=result.score,
        error=result.error,
        metrics=metrics,
        eval_error=eval_error,
    )
    run = rec.store.run_totals(rec.run_id)
    return result.model_copy(
        update={
            "run_id": rec.run_id,
            "usage": Usage(prompt_tokens=run.prompt_tokens, completion_tokens=run.completion_tokens),
            "calls": run.calls,
            "cost_usd": run.cost_usd,
        }
    )


async def _drive_child(agent: Agent, task: Task, ctx: RunContext, rec: Recorder) -> Result:
    # a child run is cancelled with its top-level run: only the top level holds the deadline
    return await drive(agent, task, ctx, rec)


async def run_agent(
    agent: Agent,
    task: Task | str,
    *,
    backend: Backend,
    store: TraceStore | None = None,
    tools: dict[str, Tool] | None = None,
    seed: int = 0,
    budget: Budget | None = None,
    experiment_id: str | None = None,
    evaluator: Evaluator | None = exact_match,
    tool_replay: RecordedTools | None = None,
    run_id: str | None = None,
    forked_from: dict[str, Any] | None = None,
    env: Env | None = None,
) -> Result:
    """Run `agent` on `task` as a new top-level run recorded in `store` (in memory if None).

    budget: limits on calls, tokens and wall time (the timeout holds while a request is in flight).
    evaluator: scores the answer when the agent does not (exact match by default).
    tool_replay: recorded tool results to serve instead of calling tools (replay, fork).
    forked_from: for a fork, its origin run, the event it changed and the edit (`ponder.fork`).
    env: the env the task comes from: `ctx.env` for agents whose own `env` option is not set
        (`ponder.runtime.env.resolve_env`).
        With an env, the default evaluator is the env's judgment and the default tools its tools
        (as in a bench). Its name and options are recorded with the run, so replay rebuilds it.
    """
    if isinstance(task, str):
        if not task.strip():
            raise ConfigError("the question is empty; give the agent something to think about")
        task = Task.from_question(task)
    env_record = None
    if env is not None:
        evaluator = env_evaluator(env) if evaluator is exact_match else evaluator
        tools = env_tools(env, task) if tools is None else tools
        env_record = {"name": env.name, "config": env_options(env)}
    store = store if store is not None else TraceStore(":memory:")
    rec = Recorder.start(
        store,
        agent=agent.name,
        config=_config_of(agent),
        task=task.model_dump(mode="json"),
        seed=seed,
        backend=backend.name,
        model=backend.model,
        experiment_id=experiment_id,
        run_id=run_id,
        budget=None if budget is None else budget.model_dump(mode="json", exclude_none=True) or None,
        forked_from=forked_from,
        env=env_record,
    )
    limits = Limits(budget)
    state = _RunState(limits=limits, drive=_drive_child)
    ctx = RunContext(
        backend=backend, recorder=rec, state=state, tools=tools, seed=seed, tool_replay=tool_replay, env=env
    )
    try:
        return await drive(agent, task, ctx, rec, evaluator, limits=limits)
    finally:
        store.optimize()
