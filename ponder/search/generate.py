"""Action generators: `propose` (one prompt proposing several next steps) and `sample` (i.i.d. steps)."""

from __future__ import annotations

from collections.abc import Callable

from ponder.runtime.context import RunContext
from ponder.search.problem import ThoughtProblem
from ponder.search.tree import Node
from ponder.types import CompletionRequest

RequestFactory = Callable[[str], CompletionRequest]


class Proposer:
    """One request per state; every line of the reply is a candidate next step (the paper's `propose`)."""

    def __init__(self, request: RequestFactory) -> None:
        self.request = request

    async def generate(self, problem: ThoughtProblem, node: Node, ctx: RunContext) -> list[tuple[str, str | None]]:
        """The lines of one propose reply, each checked by the problem."""
        if problem.is_terminal(node.y):
            return []
        c = await ctx.complete(self.request(problem.propose_prompt(node.y)), label="propose")
        return problem.parse_steps(node.y, c.text)


class Sampler:
    """`n_generate_sample` i.i.d. continuations of the state, one step each (the paper's `sample`)."""

    def __init__(self, request: RequestFactory, n_generate_sample: int) -> None:
        self.request = request
        self.n = n_generate_sample

    async def generate(self, problem: ThoughtProblem, node: Node, ctx: RunContext) -> list[tuple[str, str | None]]:
        """The first line of each of the `n_generate_sample` samples, each checked by the problem."""
        if problem.is_terminal(node.y):
            return []
        texts = await ctx.sample(self.request(problem.sample_prompt(node.y)), self.n, label="sample")
        out: list[tuple[str, str | None]] = []
        for t in texts:
            out.extend(problem.parse_steps(node.y, t, first_only=True))
        return out
