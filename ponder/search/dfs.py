"""Depth-first search (ToT's DFS): best child first, prune under a value threshold, backtrack."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from ponder.search.base import EnvReward, SearchResult, SearchSettings, rank
from ponder.search.config import SearchConfig
from ponder.search.graph import Node, SearchGraph


class DFS:
    """Depth-first: visit children best first, prune those under `value_threshold`, backtrack on dead ends.

    max_steps: the most states expanded before the search gives up.
    """

    def __init__(self, depth: int, value_threshold: float, max_steps: int) -> None:
        self.depth = depth
        self.value_threshold = value_threshold
        self.max_steps = max_steps

    async def run(self, graph: SearchGraph, config: SearchConfig) -> SearchResult:
        """The first state found that gives an answer, or None once every branch is pruned or the steps run out."""
        world = graph.world
        steps = 0

        async def visit(node: Node) -> Node | None:
            nonlocal steps
            at_end = node.depth >= self.depth or world.is_terminal(node.state)
            if node is not graph.root and world.answer(node.state) is not None and at_end:
                return node
            if at_end or steps >= self.max_steps:
                return None
            steps += 1
            children = sorted(await config.expand(graph, [node]), key=rank)
            below = [c for c in children if (c.value or 0.0) < self.value_threshold]
            graph.prune(below, f"value under the threshold {self.value_threshold:g}")
            for child in children:
                if child in below:
                    continue
                found = await visit(child)
                if found is not None:
                    return found
                graph.prune([child], "backtracked: no answer below it")
            return None

        chosen = await visit(graph.root)
        return SearchResult(chosen, [chosen] if chosen is not None else [])


class DFSSettings(SearchSettings):
    """`search=dfs`: depth, value_threshold (children valued under it are pruned), max_steps (expansions)."""

    algorithm: Literal["dfs"] = "dfs"
    depth: int = Field(default=3, ge=1)
    value_threshold: float = 1.0
    max_steps: int = Field(default=30, ge=1)
    description: ClassVar[str] = "depth-first, pruning under `value_threshold`, backtracking"

    def build(self, *, env_reward: EnvReward | None = None) -> DFS:
        return DFS(self.depth, self.value_threshold, self.max_steps)
