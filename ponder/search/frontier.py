"""Level-by-level frontier expansion, shared by BFS and beam search.

Each level expands every open state of the frontier at once (one `config.expand`, so the
level's model calls run concurrently and are recorded in a stable order); the new states and
the finished ones still in the running (a terminal state that gives an answer) are the level's
candidates; the algorithm's `select` keeps some, and the rest are pruned with its reason.
"""

from __future__ import annotations

from collections.abc import Callable

from ponder.search.config import SearchConfig
from ponder.search.graph import Node, SearchGraph

# (the level's candidates: new states first, then finished ones; the level, from 0) -> (kept, why the rest go)
Select = Callable[[list[Node], int], tuple[list[Node], str]]


async def expand_levels(graph: SearchGraph, config: SearchConfig, depth: int, select: Select) -> list[Node]:
    """Expand the frontier for up to `depth` levels, keeping what `select` keeps; the last frontier.

    Stops early when no state of the frontier is open, or a level produced nothing and nothing
    finished is left (the frontier is then the last one kept).
    """
    world = graph.world
    frontier = [graph.root]
    for level in range(depth):
        open_ = [n for n in frontier if not world.is_terminal(n.state)]
        # a finished state (an answer already given) stays in the running against deeper ones
        done = [n for n in frontier if world.is_terminal(n.state) and world.answer(n.state) is not None]
        if not open_:
            break
        children = await config.expand(graph, open_)
        if not children and not done:
            break
        candidates = children + done
        frontier, why = select(candidates, level)
        kept = {n.id for n in frontier}
        graph.prune([n for n in candidates if n.id not in kept], why)
    return frontier
