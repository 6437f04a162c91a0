"""The search config: how actions are generated from a state and how new states are valued.

llm-reasoners' `SearchConfig` (`get_actions`, `reward`): here a `Generator` (`propose` or
`sample`, in `generate`) and an `Evaluator` (`value` or `vote`, in `evaluate`), composed.
`expand` is the one step every algorithm builds on: the children of a frontier, generated
concurrently (one branch per state), recorded in a stable order, then valued.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from ponder.errors import BackendError
from ponder.runtime.context import RunContext
from ponder.search.problem import ThoughtProblem
from ponder.search.tree import Node, SearchTree


class Generator(Protocol):
    """Makes the next steps of a state: (line, None) for a step, (line, why) for an invalid one."""

    async def generate(self, problem: ThoughtProblem, node: Node, ctx: RunContext) -> list[tuple[str, str | None]]:
        """The candidate next steps of `node`, working through `ctx` (its own branch)."""
        ...


class Evaluator(Protocol):
    """Values new states: sets `value` on each, or marks a node `error` when its rating failed."""

    async def evaluate(self, tree: SearchTree, nodes: list[Node], ctx: RunContext) -> None:
        """Set `value` on every node of `nodes` (new states of one expansion)."""
        ...


class SearchConfig:
    """A generator and an evaluator: the actions of a state and the values of the states they make."""

    def __init__(self, generator: Generator, evaluator: Evaluator) -> None:
        self.generator = generator
        self.evaluator = evaluator

    async def _generate(self, tree: SearchTree, node: Node) -> list[tuple[str, str | None]] | None:
        try:
            return await self.generator.generate(tree.problem, node, tree.ctx.branch(f"n{node.id}", parent=node.seq))
        except BackendError as e:  # a failed proposal ends this branch, not the search
            tree.fail(node, f"generating its next steps failed: {e}")
            return None

    async def expand(self, tree: SearchTree, frontier: list[Node], ctx: RunContext | None = None) -> list[Node]:
        """Generate the children of `frontier` concurrently, record them, value the valid ones.

        Returns the valid children that were valued (a child whose rating failed is `error`).
        ctx: where the rating calls go (default the tree's context; MCTS gives each selection its own).
        """
        tree.expansions += len(frontier)
        found = await asyncio.gather(*(self._generate(tree, n) for n in frontier))
        children: list[Node] = []
        for parent, steps in zip(frontier, found, strict=True):
            for line, error in steps or ():
                child = tree.add(parent, line, error)
                if error is None:
                    children.append(child)
        if children:
            # a node's score is written with its final status (`finish`); its evaluation event has it now
            await self.evaluator.evaluate(tree, children, tree.ctx if ctx is None else ctx)
        return [c for c in children if c.status != "error"]
