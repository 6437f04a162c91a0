"""llm-reasoners' `MCTSAggregation`: the answer the whole search tree backs, not one path's.

After `reasoners/algorithm/mcts.py` (Apache-2.0). Every terminal state with an answer votes for it;
with `weight_policy`:

- `edge` — the terminal state's reward, plus, for each answer found below it, the reward of every
  state on the way down (a state adds its reward once per distinct answer beneath it);
- `edge_inverse_depth` — the same, each reward divided by the depth of the terminal state (for an
  inner state: the mean depth of the terminal states of that answer beneath it);
- `uniform` — one vote per terminal state.

The answer with the largest weight wins (the first found on ties). Terminal states reached by an
MCTS rollout count under the graph node the rollout started from (ponder does not keep a rollout's
inner states, so their rewards are not in the weights). Invalid and failed states do not vote.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Literal

from ponder.search.graph import Node, SearchGraph
from ponder.search.mcts import MCTS

WeightPolicy = Literal["edge", "edge_inverse_depth", "uniform"]


@dataclass(frozen=True)
class Aggregation:
    """The winning answer (None when no terminal state gives one) and every answer's weight, in the order found."""

    answer: str | None
    weights: dict[str, float] = field(default_factory=dict)


def aggregate(graph: SearchGraph, mcts: MCTS, policy: WeightPolicy = "edge") -> Aggregation:
    """The answer `mcts`'s tree in `graph` backs most (see the module docstring)."""
    weights: dict[str, float] = defaultdict(float)
    ends: dict[int, list[Node]] = defaultdict(list)
    for start, end in mcts.rollout_ends:
        ends[start.id].append(end)

    def terminal(node: Node) -> tuple[str, int] | None:
        if node.status in ("invalid", "error") or not graph.world.is_terminal(node.state):
            return None
        answer = graph.world.answer(node.state)
        if answer is None:
            return None
        r = mcts.reward(graph, node)
        weights[answer] += 1.0 if policy == "uniform" else r if policy == "edge" else r / max(node.depth, 1)
        return answer, node.depth

    def visit(node: Node) -> list[tuple[str, int]]:
        if node.status in ("invalid", "error"):
            return []
        if node.id != 0 and graph.world.is_terminal(node.state):
            found = terminal(node)
            return [found] if found is not None else []
        below: list[tuple[str, int]] = []
        for child in graph.children(node):
            below += visit(child)
        for end in ends.get(node.id, []):
            found = terminal(end)
            if found is not None:
                below.append(found)
        if policy != "uniform" and node.id != 0:
            depths: dict[str, list[int]] = defaultdict(list)
            for answer, depth in below:
                depths[answer].append(depth)
            r = mcts.reward(graph, node)
            for answer, ds in depths.items():
                weights[answer] += r if policy == "edge" else r / (sum(ds) / len(ds))
        return below

    visit(graph.root)
    if not weights:
        return Aggregation(None, {})
    best = max(weights.values())
    winner = next(a for a, w in weights.items() if w == best)
    return Aggregation(winner, {a: round(w, 6) for a, w in weights.items()})
