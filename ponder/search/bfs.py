"""Breadth-first search (ToT's BFS): expand the whole frontier at once, keep the best `breadth` per level."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from ponder.search.base import EnvReward, SearchResult, SearchSettings, best_answer, rank
from ponder.search.config import SearchConfig
from ponder.search.frontier import expand_levels
from ponder.search.graph import Node, SearchGraph


class BFS:
    """Breadth-first: expand the whole frontier, keep the best `breadth` states, for `depth` levels.

    answer_first: choose, among the last frontier, a state that gives an answer before a higher-valued
        one that does not (ponder's default); False takes the top-valued state, as the paper does.
    """

    def __init__(self, breadth: int, depth: int, *, answer_first: bool = True) -> None:
        self.breadth = breadth
        self.depth = depth
        self.answer_first = answer_first

    def select(self, candidates: list[Node], level: int) -> tuple[list[Node], str]:
        """The best `breadth` of a level's candidates, and why the others are pruned."""
        kept = sorted(candidates, key=rank)[: self.breadth]
        return kept, f"not among the best {self.breadth} at depth {kept[0].depth}"

    async def run(self, graph: SearchGraph, config: SearchConfig) -> SearchResult:
        """The chosen final state (None if no level produced a valid one) and the last frontier."""
        frontier = await expand_levels(graph, config, self.depth, self.select)
        finalists = [n for n in frontier if n is not graph.root]
        if not self.answer_first:
            return SearchResult(finalists[0] if finalists else None, finalists)
        return SearchResult(best_answer(graph, finalists), finalists)


class BFSSettings(SearchSettings):
    """`search=bfs`: breadth (states kept per level, the paper's n_select_sample) and depth (levels)."""

    algorithm: Literal["bfs"] = "bfs"
    breadth: int = Field(default=3, ge=1)
    depth: int = Field(default=3, ge=1)
    description: ClassVar[str] = "breadth-first, the best `breadth` states per level"

    def build(self, *, env_reward: EnvReward | None = None) -> BFS:
        return BFS(self.breadth, self.depth)
