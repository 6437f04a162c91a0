"""Action generators: `propose` (one prompt proposing several next steps) and `sample` (i.i.d. steps).

Each applies a problem's prompts (`ThoughtPrompts`) to a text state; the world model (a `TextSteps`
problem) then steps each valid action.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ponder.runtime.context import RunContext
from ponder.search.graph import Node
from ponder.search.problem import ThoughtPrompts
from ponder.search.world import Step, WorldModel
from ponder.types import CompletionRequest

RequestFactory = Callable[[str], CompletionRequest]


def _steps(parsed: list[tuple[str, str | None]]) -> list[Step]:
    return [Step(line, error) for line, error in parsed]


class Proposer:
    """One request per state; every line of the reply is a candidate next step (the paper's `propose`)."""

    def __init__(self, request: RequestFactory, prompts: ThoughtPrompts) -> None:
        self.request = request
        self.prompts = prompts

    async def actions(self, world: WorldModel[Any, Any], node: Node, ctx: RunContext) -> list[Step]:
        """The lines of one propose reply, each checked by the problem."""
        if world.is_terminal(node.state):
            return []
        c = await ctx.complete(self.request(self.prompts.propose_prompt(node.state)), label="propose")
        return _steps(self.prompts.parse_steps(node.state, c.text))


class Sampler:
    """`n_generate_sample` i.i.d. continuations of the state, one step each (the paper's `sample`)."""

    def __init__(self, request: RequestFactory, prompts: ThoughtPrompts, n_generate_sample: int) -> None:
        self.request = request
        self.prompts = prompts
        self.n = n_generate_sample

    async def actions(self, world: WorldModel[Any, Any], node: Node, ctx: RunContext) -> list[Step]:
        """The first line of each of the `n_generate_sample` samples, each checked by the problem."""
        if world.is_terminal(node.state):
            return []
        texts = await ctx.sample(self.request(self.prompts.sample_prompt(node.state)), self.n, label="sample")
        out: list[Step] = []
        for t in texts:
            out.extend(_steps(self.prompts.parse_steps(node.state, t, first_only=True)))
        return out
