"""Best-of-N: sample n answers, score each with a verifier or the model's own judgement, keep the best.

The baseline every search method is compared with at equal compute (OpenR #95 found MCTS no better
than best-of-N at the same budget). Candidates are drawn exactly as self-consistency draws its
paths (one `n` request for CoT where the backend can, else one branch per sample); then

- `select=verifier`: the env's label-free check (`Env.verify`: Game of 24's arithmetic, sorting's
  order and counts, a code env's visible examples) scores each answer in [0, 1];
- `select=self_score`: the model rates each candidate 1–10 (`SCORE_PROMPT`), one call per candidate.

The best score wins; ties go to the candidate drawn first. Every score is recorded (`candidate`
events) and the choice is one `select` event.
"""

from __future__ import annotations

import asyncio
import re
from string import Template
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from ponder.agents.kinds import CandidateData, SelectData
from ponder.agents.self_consistency import SampledPath, SelfConsistency
from ponder.envs.abilities import as_verifier
from ponder.errors import ConfigError
from ponder.runtime.base import BaseAgent
from ponder.runtime.context import RunContext
from ponder.runtime.env import resolve_env
from ponder.types import CompletionRequest, Message, Result, Task

SCORE_PROMPT = Template(
    "Question:\n$question\n\nProposed answer:\n$answer\n\n"
    "How likely is the proposed answer to be correct? Reply with one line: Score: followed by a whole "
    "number from 1 (surely wrong) to 10 (surely right)."
)
_SCORE = re.compile(r"score\s*[:=]?\s*\**\s*(\d{1,2})(?:\s*/\s*10)?", re.IGNORECASE)
# a reply that is only the number (a real small model's "1" for "Score: 1")
_BARE_SCORE = re.compile(r"\W*(\d{1,2})(?:\s*/\s*10)?\W*")


def parse_score(text: str) -> float | None:
    """The 1–10 score a reply states (the last one), or that is the whole reply, scaled to [0, 1];
    None when it states none."""
    found = [int(m.group(1)) for m in _SCORE.finditer(text)]
    bare = _BARE_SCORE.fullmatch(text.strip())
    if not found and bare is not None:
        found = [int(bare.group(1))]
    found = [s for s in found if 1 <= s <= 10]
    return (found[-1] - 1) / 9 if found else None


class BestOfN(BaseAgent):
    """Best-of-N: `n` samples of an inner agent (CoT by default), the best by `select` kept.

    select: `verifier` (the env's label-free check; envs without one refuse) or `self_score`
        (the model rates each candidate). inner / inner_config / env / temperature: as self-consistency's.
    """

    name: ClassVar[str] = "best_of_n"

    n: int = Field(default=5, ge=1)
    select: Literal["verifier", "self_score"] = "verifier"
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    inner: str = "cot"
    inner_config: dict[str, Any] = Field(default_factory=dict)
    env: str | None = None
    score_max_tokens: int = Field(default=16, ge=1)

    @model_validator(mode="after")
    def _check_inner(self) -> BestOfN:
        self._sampler()  # an unknown inner agent or option is refused with the settings (and on replay)
        return self

    def _sampler(self) -> SelfConsistency:
        return SelfConsistency(
            k=self.n, temperature=self.temperature, inner=self.inner, inner_config=self.inner_config, env=self.env
        )

    async def _score(self, task: Task, ctx: RunContext, p: SampledPath) -> float | None:
        if p.answer is None:
            return None
        if self.select == "verifier":
            verifier = as_verifier(ctx.env)
            assert verifier is not None  # `solve` refused a run without one
            return verifier.verify(task, p.answer)
        req = CompletionRequest(
            messages=(Message.user(SCORE_PROMPT.substitute(question=task.input, answer=p.answer)),),
            temperature=0.0,
            max_tokens=self.score_max_tokens,
        )
        c = await ctx.branch(f"score{p.index}").complete(req, label="score")
        return parse_score(c.text)

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        if self.select == "verifier" and as_verifier(ctx.env) is None:
            what = f"env {ctx.env.name!r}" if ctx.env is not None else "this run (no env)"
            raise ConfigError(
                f"best_of_n select=verifier needs an env that verifies answers; {what} has none "
                "(use --set select=self_score, or an env such as game24 or sorting)"
            )
        sampler = self._sampler()
        agent = sampler.inner_agent()
        paths = await sampler._draw(agent, task, ctx.with_env(resolve_env(agent, task, ctx.env)), 0, self.n, None)
        scores = await asyncio.gather(*(self._score(task, ctx, p) for p in paths))
        for p, s in zip(paths, scores, strict=True):
            ctx.emit(
                CandidateData(index=p.index, answer=p.answer, score=s, how=self.select),
                f"candidate {p.index}",
                p.answer if p.answer is not None else "(no answer)",
                status="ok" if s is not None else "invalid",
                score=s,
            )
        ranked = [(s, -p.index, p) for p, s in zip(paths, scores, strict=True) if s is not None]
        best = max(ranked, key=lambda t: (t[0], t[1]))[2] if ranked else None
        answer = best.answer if best is not None else None
        ctx.emit(
            SelectData(scores=list(scores), chosen=best.index if best else None, answer=answer, how=self.select),
            "select",
            f"{answer} (candidate {best.index})" if best is not None else "no candidate could be scored",
            status="ok" if best is not None else "invalid",
            score=max(s for s, _, _ in ranked) if ranked else None,
        )
        error = None if answer is not None else f"no answer: none of the {len(paths)} candidates could be scored"
        return Result(
            answer=answer, error=error, metadata={"scores": list(scores), "chosen": best.index if best else None}
        )
