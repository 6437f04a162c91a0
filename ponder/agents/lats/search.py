"""LATS's pieces on the search layer (Zhou et al. 2024): the problem (trajectories in a world), the
generator (ReAct-style actions sampled from the trajectory so far, each taken in the world), and
the evaluator (the model's score combined with the env's reward, and a reflection on every failed
trajectory that later expansions and valuations see).

The world model (`LatsProblem`, its prompts, `parse_score`) is `ponder.agents.lats.problem`. A state
is a `Trajectory` (its text: `Thought: … / Action: … / Observation: …` per step).
"""

from __future__ import annotations

import asyncio
from typing import Any

from ponder.agents.kinds import LatsValueData
from ponder.agents.lats.problem import (
    LatsProblem,
    Trajectory,
    parse_score,
    step_text,
)
from ponder.errors import BackendError
from ponder.runtime.context import RunContext
from ponder.search.graph import Node, SearchGraph
from ponder.search.world import Step, WorldModel
from ponder.types import CompletionRequest, Message


class TrajectorySampler:
    """LATS's expansion: `n_generate` ReAct-style replies to the trajectory so far; each distinct action is
    taken in the world (on a state rebuilt from the node's actions) and becomes a child."""

    def __init__(self, n_generate: int, *, temperature: float, max_tokens: int, stop_at_success: bool = True) -> None:
        self.n = n_generate
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.stop_at_success = stop_at_success

    async def actions(self, world: WorldModel[Any, Any], node: Node, ctx: RunContext) -> list[Step]:
        """The children's steps: each distinct valid action taken (its state with it), an invalid reply with why."""
        problem = world
        assert isinstance(problem, LatsProblem)
        state: Trajectory = node.state
        if problem.is_terminal(state) or (self.stop_at_success and problem.solved):
            return []
        req = CompletionRequest(
            messages=tuple(problem.messages(state.text)),
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            stop=("\nObservation",),
        )
        texts = await ctx.sample(req, self.n, label="expand")
        out: list[Step] = []
        seen: set[tuple[str | None, str]] = set()
        for text in texts:
            act = problem.world.parse(text)
            if act.error is not None:
                out.append(Step(act, act.error, step_text(act)))
                continue
            if (act.name, act.arg) in seen:  # the same action reaches the same state: one child
                continue
            seen.add((act.name, act.arg))
            line, reached = await problem.take(state, act, ctx)
            out.append(Step(act, None, line, reached))
        return out


class ReflectionSink:
    """Where reflections go besides the problem: the run's memory (Reflexion's table), recorded."""

    async def store(self, ctx: RunContext, text: str, parent: int) -> None:
        """Keep `text` (a reflection written under event `parent`)."""


class TrajectoryValue:
    """LATS's evaluation: success is 1, a failed trajectory 0 (and is reflected on), any other state
    `weight × model score + (1 − weight) × env reward`, the score averaged over `n_evaluate` ratings.

    Calls run concurrently, one branch per node (`v{id}`, `r{id}`); events and new reflections are
    recorded in node order, so a replay sees the same order whatever finished first. A state that is
    not in the tree (an MCTS rollout's end, id < 0) is valued at once, but what it teaches — its
    reflection, or that the task is solved — takes effect only in `publish`, which the search calls
    in a fixed order once its concurrent rollouts are all done.
    """

    def __init__(
        self,
        n_evaluate: int,
        *,
        weight: float,
        temperature: float,
        max_tokens: int,
        reflect: bool = True,
        sink: ReflectionSink | None = None,
    ) -> None:
        self.n = n_evaluate
        self.weight = weight
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.reflect = reflect
        self.sink = sink or ReflectionSink()
        self.failures = 0
        self._pending: dict[str, tuple[str, int]] = {}  # rollout state -> (its reflection, the event's seq)
        self._pending_success: set[str] = set()

    async def publish(self, graph: SearchGraph, node: Node, reward: float) -> None:
        """Let a rollout's end state take effect (MCTS's `on_terminal` hook): its reflection, or a success."""
        problem = graph.world
        assert isinstance(problem, LatsProblem)
        if node.state.text in self._pending_success:
            problem.solved = True
        pending = self._pending.pop(node.state.text, None)
        if pending is not None:
            text, seq = pending
            problem.reflections.append(text)
            await self.sink.store(graph.ctx, text, seq)

    def _request(self, messages: list[Message], temperature: float) -> CompletionRequest:
        return CompletionRequest(messages=tuple(messages), temperature=temperature, max_tokens=self.max_tokens)

    async def _score(self, problem: LatsProblem, node: Node, ctx: RunContext) -> tuple[float | None, list[str]] | str:
        try:
            req = self._request(problem.value_messages(node.state.text), self.temperature)
            texts = await ctx.branch(f"v{node.id}", parent=node.seq).sample(req, self.n, label="value")
        except BackendError as e:
            return str(e) or type(e).__name__
        scores = [parse_score(t) for t in texts]
        read = [s for s in scores if s is not None]
        return (sum(read) / len(read) if read else None), texts

    async def _reflection(self, problem: LatsProblem, node: Node, why: str, ctx: RunContext) -> str | None:
        info: Trajectory = node.state
        outcome = {
            "depth": f"the trajectory took {info.steps} actions without completing the task",
        }.get(why, f"failed: {info.observation}")
        req = self._request(problem.reflect_messages(info.text, outcome), 0.0)
        try:
            c = await ctx.branch(f"r{node.id}", parent=node.seq).complete(req, label="reflect")
        except BackendError as e:
            ctx.event("reflection", "reflection", f"reflecting failed: {e}", parent=node.seq, status="error")
            return None
        return c.text.strip() or None

    async def reward(self, graph: SearchGraph, nodes: list[Node], ctx: RunContext) -> None:
        """Value `nodes` (new states of one expansion) and reflect on the failed ones."""
        problem = graph.world
        assert isinstance(problem, LatsProblem)
        fails = {id(n): problem.failure(n.state) for n in nodes}
        # a state that ends its trajectory has its value from the env; any other is scored by the model
        scored = [n for n in nodes if not problem.is_terminal(n.state) or not problem.judged(n.state)]
        failed = [n for n in nodes if fails[id(n)] is not None]
        reflect = failed if self.reflect else []
        rated, written = await asyncio.gather(
            asyncio.gather(*(self._score(problem, n, ctx) for n in scored)),
            asyncio.gather(*(self._reflection(problem, n, fails[id(n)] or "", ctx) for n in reflect)),
        )
        scores = dict(zip([id(n) for n in scored], rated, strict=True))
        reflections = dict(zip([id(n) for n in reflect], written, strict=True))
        for node in nodes:
            info: Trajectory = node.state
            data = LatsValueData(reward=info.reward)
            if problem.success(info):
                node.value, data.outcome, summary = 1.0, "success", "success: reward 1"
                if node.id < 0:
                    self._pending_success.add(info.text)
                else:
                    problem.solved = True
            elif problem.is_terminal(info) and problem.judged(info):
                self.failures += 1
                node.value, data.outcome = 0.0, fails[id(node)]
                summary = "failed trajectory" if data.outcome == "failure" else "too long: a failed trajectory"
            else:
                outcome = scores[id(node)]
                if isinstance(outcome, str):
                    data.error = outcome
                    ctx.emit(data, "value", f"rating failed: {outcome}", parent=node.seq, status="error")
                    graph.fail(node, f"rating failed: {outcome}")
                    continue
                score, texts = outcome
                data.score, data.samples = score, texts
                if info.reward is None:  # an answer the env cannot judge: the model's score is its value
                    node.value = score or 0.0
                else:
                    node.value = self.weight * (score or 0.0) + (1 - self.weight) * info.reward
                shown = "unjudged" if info.reward is None else f"{info.reward:g}"
                summary = f"score {score:g}, reward {shown}" if score is not None else "unreadable score"
                if fails[id(node)] is not None:  # an attempt that failed but can be built on (code)
                    self.failures += 1
                    data.outcome = fails[id(node)]
            data.value = node.value
            ctx.emit(
                data,
                "value",
                summary,
                parent=node.seq,
                score=node.value,
                status="ok" if data.error is None and (data.samples is None or data.score is not None) else "invalid",
            )
            text = reflections.get(id(node))
            if text:
                seq = ctx.event("reflection", "reflection", text, parent=node.seq, data={"text": text})
                if node.id < 0:
                    self._pending[info.text] = (text, seq)
                else:
                    problem.reflections.append(text)
                    await self.sink.store(ctx, text, seq)


__all__ = ["ReflectionSink", "TrajectorySampler", "TrajectoryValue"]
