"""Self-consistency (Wang et al. 2022): sample k reasoning paths, vote on their normalized answers."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any, ClassVar

from pydantic import Field, model_validator

from ponder import registry
from ponder.agents.cot import CoT
from ponder.errors import BudgetExceeded, ConfigError, PonderError
from ponder.parsing import normalize_answer
from ponder.runtime.base import BaseAgent
from ponder.runtime.context import Agent, RunContext
from ponder.runtime.env import resolve_env
from ponder.runtime.sampling import limited, sample_choices
from ponder.types import Result, Task


class SampledPath:
    """One sampled path: its index (sampling order), answer and normalized answer, or why it failed."""

    def __init__(self, index: int, answer: str | None, seq: int, error: str | None = None) -> None:
        self.index = index
        self.answer = answer
        self.key = normalize_answer(answer) if answer is not None else None
        self.seq = seq
        self.error = error


def tally(paths: list[SampledPath]) -> tuple[Counter[str], str | None]:
    """Votes per normalized answer and the winner: most votes, ties to the answer sampled first."""
    votes: Counter[str] = Counter()
    first: dict[str, int] = {}
    for p in sorted(paths, key=lambda p: p.index):
        if p.key is None or p.key == "":
            continue
        votes[p.key] += 1
        first.setdefault(p.key, p.index)
    if not votes:
        return votes, None
    return votes, min(votes, key=lambda a: (-votes[a], first[a]))


def decided(votes: Counter[str], remaining: int, drawn: int, confidence: float | None) -> bool:
    """Whether more samples cannot change the winner (or the leader's share reaches `confidence`)."""
    top = votes.most_common(2)
    if not top:
        return remaining == 0
    lead = top[0][1]
    second = top[1][1] if len(top) > 1 else 0
    if lead > second + remaining:
        return True
    return confidence is not None and drawn > 0 and lead / drawn >= confidence


class SelfConsistency(BaseAgent):
    """Self-consistency: k sampled paths of an inner agent, majority vote over normalized answers.

    inner / inner_config: the agent sampled (registered name, its config), CoT by default.
    concurrency: the most inner runs in flight (None: all k).
    adaptive: draw `batch` samples at a time and stop once the leader cannot be overtaken
        (or its share of the votes reaches `confidence`).
    use_n: for a CoT inner on a backend that supports `n`, one request with `n=k`.
    min_successes: with separate samples, how many must succeed (not fail with an error) for
        the vote to go on over them (None: a majority of the k samples); failed paths are closed
        as `error` and counted in the vote's `failed`.
    env: an env whose prompts and answer format the inner agent should use (e.g. game24).
    """

    name: ClassVar[str] = "self_consistency"

    k: int = Field(default=5, ge=1)
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    inner: str = "cot"
    inner_config: dict[str, Any] = Field(default_factory=dict)
    env: str | None = None
    concurrency: int | None = Field(default=None, ge=1)
    adaptive: bool = False
    batch: int = Field(default=4, ge=1)
    confidence: float | None = Field(default=None, gt=0.0, le=1.0)
    use_n: bool = True
    min_successes: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _check_inner(self) -> SelfConsistency:
        if self.inner == self.name:
            raise ConfigError("self_consistency cannot sample itself; choose another inner agent")
        if self.min_successes is not None and self.min_successes > self.k:
            raise ConfigError(f"min_successes={self.min_successes} is more than k={self.k} samples")
        self.inner_agent()  # an unknown inner agent or option is refused with the settings (and on replay), not mid-run
        return self

    def inner_agent(self) -> Agent:
        """The inner agent, built from `inner` and `inner_config` through the registry."""
        config = dict(self.inner_config)
        options = registry.options("agents", self.inner)
        if self.env is not None and "env" in options and "env" not in config:
            config["env"] = self.env  # the env's own prompts and answer format (Game of 24's CoT, say)
        if "temperature" in options and "temperature" not in config:
            config["temperature"] = self.temperature  # sampling needs a temperature; greedy paths would all agree
        agent: Agent = registry.build("agents", self.inner, config, "self_consistency inner_config: agent")
        return agent

    async def _draw(
        self, agent: Agent, task: Task, ctx: RunContext, start: int, count: int, sem: asyncio.Semaphore | None
    ) -> list[SampledPath]:
        """Sample paths start..start+count-1: one `n=count` request for CoT where possible, else branches.

        ctx: the inner agent's context (its env, `ctx.env`, resolved for it).
        """
        if isinstance(agent, CoT) and self.use_n and ctx.backend.capabilities.n:
            req = agent.request(task, ctx.env, temperature=self.temperature, n=count)
            label = f"paths {start}-{start + count - 1}"
            choices = await sample_choices(ctx, req, count, label=label, sem=sem)
            paths = []
            for j, choice in enumerate(choices):
                i = start + j
                seq = ctx.event("path", f"path {i}", "", data={"index": i})
                answer = agent.answer_of(choice.text, ctx.env, cut=choice.cut)
                paths.append(self._close(ctx, seq, i, answer, choice.text))
            return paths

        async def one(i: int) -> SampledPath:
            seq = ctx.event("path", f"path {i}", "", status="running", data={"index": i})
            branch = ctx.branch(i, parent=seq)
            try:
                if isinstance(agent, CoT):
                    # the sampling temperature goes on the request, whatever the inner config says; the
                    # path event carries the reasoning (no separate thought event: fewer writes per path)
                    req = agent.request(task, ctx.env, temperature=self.temperature)
                    c = await limited(sem, branch.complete(req, label="cot"))
                    answer = agent.answer_of(c.text, ctx.env, cut=c.choices[0].cut)
                    return self._close(ctx, seq, i, answer, c.text)
                answer = (await limited(sem, agent.solve(task, branch))).answer
            except BudgetExceeded as e:  # the run's budget is spent: no vote can go on
                self._fail(ctx, seq, i, f"{type(e).__name__}: {e}")
                raise
            except Exception as e:  # one bad sample (a server error, say) does not sink the vote
                return self._fail(ctx, seq, i, f"{type(e).__name__}: {e}")
            return self._close(ctx, seq, i, answer, None)

        return list(await asyncio.gather(*(one(start + j) for j in range(count))))

    def _fail(self, ctx: RunContext, seq: int, i: int, error: str) -> SampledPath:
        ctx.update(seq, status="error", summary=error, data={"index": i, "answer": None, "error": error})
        return SampledPath(i, None, seq, error)

    def _close(self, ctx: RunContext, seq: int, i: int, answer: str | None, text: str | None) -> SampledPath:
        p = SampledPath(i, answer, seq)
        data: dict[str, Any] = {"index": i, "answer": answer, "normalized": p.key}
        if text is not None:
            data["text"] = text
        ctx.update(
            seq,
            status="ok" if answer is not None else "invalid",
            summary=answer if answer is not None else "(no answer)",
            data=data,
        )
        return p

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        """Draw the paths (in batches when adaptive), then record the vote and return the winner."""
        agent = self.inner_agent()
        ctx = ctx.with_env(resolve_env(agent, task, ctx.env))  # the inner agent's env, as a run of its own would get
        sem = asyncio.Semaphore(self.concurrency) if self.concurrency else None
        paths: list[SampledPath] = []
        step = self.batch if self.adaptive else self.k
        while len(paths) < self.k:
            count = min(step, self.k - len(paths))
            paths += await self._draw(agent, task, ctx, len(paths), count, sem)
            if self.adaptive:
                votes, _ = tally(paths)
                if decided(votes, self.k - len(paths), len(paths), self.confidence):
                    break
        failed = [p for p in paths if p.error is not None]
        # a majority of the samples drawn (all k, unless adaptive sampling stopped early)
        need = min(self.min_successes, len(paths)) if self.min_successes is not None else len(paths) // 2 + 1
        votes, winner = tally(paths)
        saved = self.k - len(paths)
        answer = next((p.answer for p in sorted(paths, key=lambda p: p.index) if p.key == winner), None)
        ordered = dict(sorted(votes.items(), key=lambda kv: (-kv[1], kv[0])))
        data: dict[str, Any] = {
            "tally": ordered,
            "winner": winner,
            "answer": answer,
            "samples": len(paths),
            "saved": saved,
            "invalid": sum(1 for p in paths if p.key is None and p.error is None),
        }
        if failed:
            data["failed"] = len(failed)
        if failed and len(paths) - len(failed) < need:
            first = min(failed, key=lambda p: p.index)
            msg = (
                f"only {len(paths) - len(failed)} of {len(paths)} samples succeeded, fewer than "
                f"min_successes={need}; path {first.index} failed with {first.error}"
            )
            ctx.event("vote", "vote", msg, status="error", data={**data, "tally": {}, "winner": None, "answer": None})
            raise PonderError(msg)
        share = votes[winner] / len(paths) if winner is not None and paths else None
        summary = ", ".join(f"{a}: {n}" for a, n in ordered.items()) or "no answers"
        if failed:
            summary += f" ({len(failed)} of {len(paths)} samples failed)"
        ctx.event(
            "vote", "vote", f"{summary} -> {winner}", status="ok" if winner else "invalid", score=share, data=data
        )
        meta = {k: data[k] for k in ("tally", "winner", "samples", "saved")}
        if failed:
            meta["failed"] = len(failed)
        error = None if answer is not None else f"no answer: none of the {len(paths)} paths gave an answer to vote on"
        return Result(answer=answer, status="ok", error=error, metadata=meta)
