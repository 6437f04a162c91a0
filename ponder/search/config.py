"""The search config: which actions a state offers and what the states they reach are worth.

llm-reasoners' `SearchConfig` (`get_actions`, `fast_reward`, `reward`), composed of two operators:
a `Generator` (`actions`: propose or sample, in `generate`) and an `Evaluator` (`reward`: value or
vote, in `evaluate`), each applying its prompts to states. `expand` is the one step every algorithm
builds on: the actions of a frontier, generated concurrently (one branch per state), each valid one
stepped by the world model, the new states recorded in a stable order, then valued.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from ponder.errors import BackendError
from ponder.runtime.context import RunContext
from ponder.search.graph import Node, SearchGraph
from ponder.search.world import Step, WorldModel


class Generator(Protocol):
    """Proposes the actions of a state: each a `Step`, valid or invalid (with why)."""

    async def actions(self, world: WorldModel[Any, Any], node: Node, ctx: RunContext) -> list[Step]:
        """The candidate actions of `node`'s state, working through `ctx` (its own branch)."""
        ...


class Evaluator(Protocol):
    """Values new states: sets `value` on each, or marks a node `error` when its rating failed."""

    async def reward(self, graph: SearchGraph, nodes: list[Node], ctx: RunContext) -> None:
        """Set `value` on every node of `nodes` (new states of one expansion)."""
        ...


class SearchConfig:
    """A generator and an evaluator: the actions of a state and the values of the states they reach."""

    def __init__(self, generator: Generator, evaluator: Evaluator) -> None:
        self.generator = generator
        self.evaluator = evaluator

    async def actions(self, graph: SearchGraph, node: Node, ctx: RunContext) -> list[Step]:
        """The actions of `node`, each valid one with the state it reaches (stepped in `ctx`, in order)."""
        steps = await self.generator.actions(graph.world, node, ctx)
        out: list[Step] = []
        for s in steps:
            if s.error is None and not s.stepped:
                s = Step(s.action, None, s.line, await graph.world.step(node.state, s.action, ctx), s.fast_reward)
            out.append(s)
        return out

    async def reward(self, graph: SearchGraph, nodes: list[Node], ctx: RunContext) -> None:
        """Value `nodes` (new states of one expansion)."""
        await self.evaluator.reward(graph, nodes, ctx)

    async def _actions(self, graph: SearchGraph, node: Node) -> list[Step] | None:
        try:
            return await self.actions(graph, node, graph.ctx.branch(f"n{node.id}", parent=node.seq))
        except BackendError as e:  # a failed proposal ends this branch, not the search
            graph.fail(node, f"generating its next steps failed: {e}")
            return None

    async def expand(self, graph: SearchGraph, frontier: list[Node], ctx: RunContext | None = None) -> list[Node]:
        """Generate the children of `frontier` concurrently, record them, value the valid ones.

        Returns the valid children that were valued (a child whose rating failed is `error`).
        ctx: where the rating calls go (default the graph's context; MCTS gives each selection its own).
        """
        graph.expansions += len(frontier)
        found = await asyncio.gather(*(self._actions(graph, n) for n in frontier))
        children: list[Node] = []
        for parent, steps in zip(frontier, found, strict=True):
            for s in steps or ():
                child = graph.add(parent, s.line, s.state, error=s.error, fast_reward=s.fast_reward)
                if s.error is None:
                    children.append(child)
        if children:
            # a node's score is written with its final status (`finish`); its evaluation event has it now
            await self.reward(graph, children, graph.ctx if ctx is None else ctx)
        return [c for c in children if c.status != "error"]
