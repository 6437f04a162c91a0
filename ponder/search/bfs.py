"""Breadth-first search (ToT's BFS): expand the whole frontier at once, keep the best `breadth` per level."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from ponder.search.base import EnvReward, SearchResult, SearchSettings, best_answer, rank
from ponder.search.config import SearchConfig
from ponder.search.tree import SearchTree


class BFS:
    """Breadth-first: expand the whole frontier, keep the best `breadth` states, for `depth` levels.

    answer_first: choose, among the last frontier, a state that gives an answer before a higher-valued
        one that does not (ponder's default); False takes the top-valued state, as the paper does.
    """

    def __init__(self, breadth: int, depth: int, *, answer_first: bool = True) -> None:
        self.breadth = breadth
        self.depth = depth
        self.answer_first = answer_first

    async def run(self, tree: SearchTree, config: SearchConfig) -> SearchResult:
        """The chosen final state (None if no level produced a valid one) and the last frontier."""
        problem = tree.problem
        frontier = [tree.root]
        for _level in range(self.depth):
            open_ = [n for n in frontier if not problem.is_terminal(n.y)]
            # a finished state (an answer already given) stays in the running against deeper ones
            done = [n for n in frontier if problem.is_terminal(n.y) and problem.answer(n.y) is not None]
            if not open_:
                break
            children = await config.expand(tree, open_)
            if not children and not done:
                break
            ranked = sorted(children + done, key=rank)
            frontier = ranked[: self.breadth]
            tree.prune(ranked[self.breadth :], f"not among the best {self.breadth} at depth {frontier[0].depth}")
        finalists = [n for n in frontier if n is not tree.root]
        if not self.answer_first:
            return SearchResult(finalists[0] if finalists else None, finalists)
        return SearchResult(best_answer(tree, finalists), finalists)


class BFSSettings(SearchSettings):
    """`search=bfs`: breadth (states kept per level, the paper's n_select_sample) and depth (levels)."""

    algorithm: Literal["bfs"] = "bfs"
    breadth: int = Field(default=3, ge=1)
    depth: int = Field(default=3, ge=1)
    description: ClassVar[str] = "breadth-first, the best `breadth` states per level"

    def build(self, *, env_reward: EnvReward | None = None) -> BFS:
        return BFS(self.breadth, self.depth)
