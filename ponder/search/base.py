"""The search algorithm: a `Search` protocol, its result, and the base of every algorithm's settings.

llm-reasoners' `SearchAlgorithm(world_model, search_config)`: here `Search.run(tree, config)`
over a `SearchTree` (the problem and its recorded states) and a `SearchConfig` (how actions
are generated and states valued). Each algorithm has its own settings model (`BFSSettings`,
`DFSSettings`, …), gathered in `settings.AnySearch`, a union keyed by `algorithm`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from ponder.search.config import SearchConfig
from ponder.search.tree import Node, NodeEvents, SearchTree, TreeHook

# the env's reward for the answer a state gives (1 right, 0 wrong), None when it gives none
EnvReward = Callable[[str], float | None]


@dataclass
class SearchResult:
    """What a search found: the chosen state (None when none gives an answer) and the finalists
    (the states still in the running at the end: BFS's last frontier, say).

    y: the state whose answer to give when it is not `chosen`'s own — an MCTS rollout that
        reached an answer below `chosen` without adding its states to the tree.
    """

    chosen: Node | None
    finalists: list[Node] = field(default_factory=list)
    y: str | None = None


class Search(Protocol):
    """A search algorithm: explores `tree` with `config` and chooses a state."""

    async def run(self, tree: SearchTree, config: SearchConfig) -> SearchResult:
        """Search, leaving every state's status on its node (the tree writes them when finished)."""
        ...


class SearchSettings(BaseModel):
    """Settings of one algorithm; `algorithm` names it, `build()` makes it. Unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    algorithm: str
    description: ClassVar[str] = ""

    def build(self, *, env_reward: EnvReward | None = None) -> Search:
        """The algorithm these settings describe.

        env_reward: the env's reward of a state, for the algorithms that use one (MCTS).
        """
        raise NotImplementedError

    def hook(self) -> TreeHook:
        """How this algorithm's tree is recorded (default: a `node` event per state)."""
        return NodeEvents()


def rank(n: Node) -> tuple[float, int]:
    """Sort key: best value first; ties by id, which follows the stable generation order."""
    return (-(n.value if n.value is not None else 0.0), n.id)


def best_answer(tree: SearchTree, nodes: list[Node]) -> Node | None:
    """The best of `nodes`: one that gives an answer first, then the highest value, then the earliest."""
    if not nodes:
        return None
    return min(nodes, key=lambda n: (tree.problem.answer(n.y) is None, *rank(n)))
