"""`got`: Graph of Thoughts — the run's env gives the task's prompter, parser and the paper's graphs.

`ponder run "[3, 1, ...]" --agent got --env sorting --set graph=got`, or
`ponder bench --agent got --env sorting --env-set size=64 --set graph=tot`. The graph presets are
the paper's (io, cot, tot, tot2, got, per task and size); the controller runs independent
operations concurrently. The answer is the best-scored thought of the graph's last operation.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from ponder.agents.got import kinds as _kinds  # noqa: F401  (declares got_op and got_thought)
from ponder.agents.got.controller import Controller
from ponder.agents.got.operations import Thought
from ponder.agents.got.problem import GoTProblem
from ponder.errors import ConfigError
from ponder.runtime.base import BaseAgent
from ponder.runtime.context import RunContext
from ponder.types import Result, Task

GOT_NO_ANSWER = "no answer: the graph's last operation kept no thought"


def _best(thoughts: list[Thought], higher_is_better: bool) -> Thought | None:
    scored = [t for t in thoughts if t.scored]
    pool = scored or thoughts
    if not pool:
        return None
    return sorted(pool, key=lambda t: t.score, reverse=higher_is_better)[0] if scored else pool[0]


class GraphOfThoughts(BaseAgent):
    """Graph of Thoughts over the run's env (sorting, …): runs the preset `graph` on the task's problem.

    graph: the paper's operation graph (io, cot, tot, tot2, got). temperature, max_tokens: every
        prompt's sampling (the official ChatGPT setting: 1.0 and 1536).
    """

    name: ClassVar[str] = "got"

    graph: str = "got"
    temperature: float = Field(default=1.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=1536, ge=1)

    def problem(self, task: Task, ctx: RunContext) -> GoTProblem:
        env = ctx.env
        problem = env.got_problem(task) if env is not None else None
        if problem is None:
            where = f"env {env.name!r} has" if env is not None else "the run has no env, so it has"
            raise ConfigError(f"got needs an env with Graph-of-Thoughts graphs (--env sorting); {where} none")
        if not isinstance(problem, GoTProblem):
            raise ConfigError(f"env {env.name if env else ''!r} gave got a {type(problem).__name__}, not a GoTProblem")
        if self.graph not in problem.presets:
            raise ConfigError(
                f"unknown graph {self.graph!r} for {problem.name}; its presets: {', '.join(problem.presets)}"
            )
        return problem

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        problem = self.problem(task, ctx)
        graph = problem.graph(self.graph)
        controller = Controller(graph, problem, temperature=self.temperature, max_tokens=self.max_tokens)
        final = await controller.run(ctx)
        best = _best(final, problem.higher_is_better)
        answer = problem.answer(best.state) if best is not None else None
        if best is not None and best.seq is not None:
            ctx.update(best.seq, status="chosen")
        return Result(
            answer=answer,
            error=None if answer is not None else GOT_NO_ANSWER,
            metadata={"thought": best.id if best else None, "operations": len(graph.operations)},
        )
