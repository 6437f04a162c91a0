"""Beam search over thought states, after llm-reasoners' `BeamSearch`.

Each step expands the whole beam at once (one frontier), scores every new state by its
path's values aggregated (`last`, `sum` or `mean` over the states from the root, root
excluded), and keeps `width` of them: the best (`greedy`), or drawn without replacement with
probability ∝ exp(score / beam_temperature) (`sample`) from the run's seeded RNG, so a replay
draws the same beam.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

from pydantic import Field

from ponder.search.base import EnvReward, SearchResult, SearchSettings
from ponder.search.config import SearchConfig
from ponder.search.frontier import expand_levels
from ponder.search.graph import Node, SearchGraph


class Beam:
    """Beam search: `width` states per step for `depth` steps, scored by their path's aggregated values."""

    def __init__(
        self,
        *,
        width: int,
        depth: int,
        sampling: Literal["greedy", "sample"] = "greedy",
        temperature: float = 1.0,
        aggregate: Literal["last", "sum", "mean"] = "last",
    ) -> None:
        self.width = width
        self.depth = depth
        self.sampling = sampling
        self.temperature = temperature
        self.aggregate = aggregate
        self.scores: dict[int, float] = {}

    def score(self, graph: SearchGraph, node: Node) -> float:
        """The path's values aggregated: the last one, their sum, or their mean (root excluded)."""
        if node.id not in self.scores:
            values = [n.value or 0.0 for n in graph.path(node)[1:]]
            if not values:
                self.scores[node.id] = 0.0
            elif self.aggregate == "last":
                self.scores[node.id] = values[-1]
            elif self.aggregate == "sum":
                self.scores[node.id] = sum(values)
            else:
                self.scores[node.id] = sum(values) / len(values)
        return self.scores[node.id]

    def keep(self, graph: SearchGraph, candidates: list[Node]) -> list[Node]:
        """The `width` states kept of `candidates` (greedy: the best; sample: drawn by softmax of the score)."""
        ranked = sorted(candidates, key=lambda n: (-self.score(graph, n), n.id))
        if self.sampling == "greedy" or len(ranked) <= self.width:
            return ranked[: self.width]
        pool = list(ranked)
        kept: list[Node] = []
        top = max(self.score(graph, n) for n in pool)
        while pool and len(kept) < self.width:
            weights = [math.exp((self.score(graph, n) - top) / max(self.temperature, 1e-6)) for n in pool]
            pick = graph.ctx.rng.random() * sum(weights)
            for i, w in enumerate(weights):
                pick -= w
                if pick <= 0 or i == len(pool) - 1:
                    kept.append(pool.pop(i))
                    break
        return sorted(kept, key=lambda n: (-self.score(graph, n), n.id))

    async def run(self, graph: SearchGraph, config: SearchConfig) -> SearchResult:
        """The best final state of the beam (a state giving an answer first) and the final beam."""
        world = graph.world

        def select(candidates: list[Node], level: int) -> tuple[list[Node], str]:
            return self.keep(graph, candidates), f"not kept in the beam of {self.width} at step {level + 1}"

        beam = await expand_levels(graph, config, self.depth, select)
        finals = [n for n in beam if n is not graph.root]
        chosen = min(finals, key=lambda n: (world.answer(n.state) is None, -self.score(graph, n), n.id), default=None)
        return SearchResult(chosen, finals)


class BeamSettings(SearchSettings):
    """`search=beam`: width, depth, sampling (greedy/sample), beam_temperature, aggregate (last/sum/mean)."""

    algorithm: Literal["beam"] = "beam"
    width: int = Field(default=3, ge=1)
    depth: int = Field(default=3, ge=1)
    sampling: Literal["greedy", "sample"] = "greedy"
    beam_temperature: float = Field(default=1.0, gt=0.0)
    aggregate: Literal["last", "sum", "mean"] = "last"
    description: ClassVar[str] = "beam search, `width` states per step by their path's aggregated values"

    def build(self, *, env_reward: EnvReward | None = None) -> Beam:
        return Beam(
            width=self.width,
            depth=self.depth,
            sampling=self.sampling,
            temperature=self.beam_temperature,
            aggregate=self.aggregate,
        )
