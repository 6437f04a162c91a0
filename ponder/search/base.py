"""The search algorithm: a `Search` protocol, its result, and the base of every algorithm's settings.

llm-reasoners' `SearchAlgorithm(world_model, search_config)`: here `Search.run(graph, config)` over
a `SearchGraph` (the world model and the states reached) and a `SearchConfig` (the actions of a
state and the values of the states they reach). Each algorithm has its own settings model, a
`SearchSettings` subclass registered under the `ponder.search` entry-point group (the built-ins
BFS, DFS, beam and MCTS are registered that way in pyproject.toml), so a plugin adds one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from ponder.search.config import SearchConfig
from ponder.search.graph import Node, SearchGraph

# the env's reward for the answer a state gives (1 right, 0 wrong), None when it gives none
EnvReward = Callable[[Any], float | None]


@dataclass
class SearchResult:
    """What a search found: the chosen node (None when none gives an answer) and the finalists
    (the states still in the running at the end: BFS's last frontier, say).

    state: the state whose answer to give when it is not `chosen`'s own — an MCTS rollout that
        reached an answer below `chosen` without adding its states to the graph.
    """

    chosen: Node | None
    finalists: list[Node] = field(default_factory=list)
    state: Any = None


class Search(Protocol):
    """A search algorithm: explores `graph` with `config` and chooses a state."""

    async def run(self, graph: SearchGraph, config: SearchConfig) -> SearchResult:
        """Search, leaving every state's status on its node (the graph writes them when finished)."""
        ...


class SearchSettings(BaseModel):
    """Settings of one algorithm; `algorithm` is the name it is registered under, `build()` makes it.

    Unknown keys are refused. A subclass declares `algorithm: Literal["name"] = "name"`, its own
    settings as fields, a one-line `description`, and `build`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    algorithm: str
    description: ClassVar[str] = ""

    def build(self, *, env_reward: EnvReward | None = None) -> Search:
        """The algorithm these settings describe.

        env_reward: the env's reward of a state, for the algorithms that use one (MCTS).
        """
        raise NotImplementedError


def rank(n: Node) -> tuple[float, int]:
    """Sort key: best value first; ties by id, which follows the stable generation order."""
    return (-(n.value if n.value is not None else 0.0), n.id)


def best_answer(graph: SearchGraph, nodes: list[Node]) -> Node | None:
    """The best of `nodes`: one that gives an answer first, then the highest value, then the earliest."""
    if not nodes:
        return None
    return min(nodes, key=lambda n: (graph.world.answer(n.state) is None, *rank(n)))
