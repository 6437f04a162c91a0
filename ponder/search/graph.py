"""The search graph: a `networkx.DiGraph` of states, recorded through one hook.

A node is a state the search reached, with the action that reached it; an edge goes from each
state it was reached from. Most algorithms build a tree (one parent), but a node may have several
parents: Graph-of-Thoughts' Aggregate merges states into one. The graph holds the states; how they
become events is the hook's business (`SearchHook`), one hook for every algorithm: `NodeEvents`, the
default, writes one `node` event per state when it is added (nested under its first parent's event;
`parents` names every parent when there are several) and its final status, value, reason and the
algorithm's statistics (`Node.stats`: MCTS's visits and Q) when the search ends. An algorithm's own
events (MCTS's backups and rollouts) go through the same hook (`SearchHook.event`). States an
algorithm visits without keeping (MCTS rollouts) are simply never added.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ponder.runtime.context import RunContext
from ponder.search.world import WorldModel

if TYPE_CHECKING:
    import networkx as nx

_TOP_LEVEL_STATS = frozenset({"visits", "q"})


@dataclass
class Node:
    """One state the search reached: `state` (what the world model made), `action` the step that reached it.

    parents: the ids of the states it was reached from (several: an aggregation); the root has none.
    value: the search config's value of the state (None until valued, or when valuing failed).
    visits / value_sum: MCTS statistics (N and the sum of backed-up rewards); `q` is their mean.
    stats: what the algorithm records about the node when the search ends (MCTS: visits and Q).
    status: kept / pruned / chosen / invalid / error, written when the search ends.
    """

    id: int
    state: Any
    depth: int
    seq: int
    parents: tuple[int, ...] = ()
    action: str = ""
    value: float | None = None
    error: str | None = None
    status: str = "kept"
    reason: str = ""
    visits: int = 0
    value_sum: float = 0.0
    fast_reward: float | None = None
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def parent(self) -> int | None:
        """The first parent's id (None for the root)."""
        return self.parents[0] if self.parents else None

    @property
    def q(self) -> float:
        """The mean backed-up reward Q (0 before the first visit)."""
        return self.value_sum / self.visits if self.visits else 0.0


class SearchHook(Protocol):
    """How a search is recorded: its states, its edges, and the algorithm's own events."""

    def added(self, graph: SearchGraph, node: Node) -> int:
        """Record `node` (just added with its edges from its parents); the seq of its event."""
        ...

    def event(
        self,
        graph: SearchGraph,
        kind: str,
        label: str,
        summary: str,
        *,
        parent: int | None,
        status: str = "ok",
        score: float | None = None,
        data: dict[str, Any] | None = None,
        ctx: RunContext | None = None,
    ) -> int:
        """Record one event of the algorithm's own (an MCTS backup or rollout) under event `parent`, in
        `ctx`'s branch (default the graph's); its seq."""
        ...

    def finished(self, graph: SearchGraph, chosen: Node | None) -> None:
        """Record every state's final status once the search is over."""
        ...


class NodeEvents:
    """The hook every algorithm records through: a `node` event per state, its final status, value,
    reason and statistics at the end; the algorithm's own events as they come."""

    def added(self, graph: SearchGraph, node: Node) -> int:
        parent = graph.node(node.parent) if node.parent is not None else None
        return graph.ctx.event(
            "node",
            f"d{node.depth}",
            node.action or "(empty reply)",
            parent=parent.seq if parent is not None else None,
            status="invalid" if node.error else "ok",
            data=self._edges(node, {"id": node.id, "depth": node.depth, "y": graph.text(node), "step": node.action})
            | {"error": node.error},
        )

    def _edges(self, node: Node, data: dict[str, Any]) -> dict[str, Any]:
        if len(node.parents) > 1:
            data["parents"] = list(node.parents)
        if node.fast_reward is not None:
            data["fast_reward"] = node.fast_reward
        return data

    def event(
        self,
        graph: SearchGraph,
        kind: str,
        label: str,
        summary: str,
        *,
        parent: int | None,
        status: str = "ok",
        score: float | None = None,
        data: dict[str, Any] | None = None,
        ctx: RunContext | None = None,
    ) -> int:
        where = graph.ctx if ctx is None else ctx
        return where.event(kind, label, summary, parent=parent, status=status, score=score, data=data)

    def node_data(self, graph: SearchGraph, node: Node) -> dict[str, Any]:
        """The data a node's event ends with."""
        data = self._edges(node, {"id": node.id, "depth": node.depth, "y": graph.text(node), "step": node.action})
        data |= {"error": node.error, "value": node.value}
        if node.reason:
            data["reason"] = node.reason
        # MCTS's N and Q sit beside the rest (as recordings have them); any other statistic under `stats`
        data |= {k: v for k, v in node.stats.items() if k in _TOP_LEVEL_STATS}
        others = {k: v for k, v in node.stats.items() if k not in _TOP_LEVEL_STATS}
        if others:
            data["stats"] = others
        return data

    def finished(self, graph: SearchGraph, chosen: Node | None) -> None:
        for nid in sorted(graph.graph.nodes):
            if nid == 0:
                continue
            n = graph.node(nid)
            graph.ctx.update(n.seq, status=n.status, score=n.value, data=self.node_data(graph, n))
        graph.ctx.update(graph.root.seq, status="chosen" if chosen is not None else "ok")


class SearchGraph:
    """The states searched so far (a `networkx.DiGraph` of `Node`s, edges from parent to child) and
    their recording.

    world: the world model whose states these are; question: the root event's summary.
    """

    def __init__(self, world: WorldModel[Any, Any], ctx: RunContext, question: str, hook: SearchHook | None = None):
        self.world = world
        self.ctx = ctx
        self.hook: SearchHook = hook if hook is not None else NodeEvents()
        import networkx  # imported here: `import ponder` stays fast (networkx takes ~150 ms)

        self.graph: nx.DiGraph = networkx.DiGraph()
        state = world.init_state()
        seq = ctx.event("node", "root", question, data={"id": 0, "depth": 0, "y": world.describe(state)})
        self.root = Node(id=0, state=state, depth=0, seq=seq, status="chosen")
        self.graph.add_node(0, node=self.root)
        self._texts: dict[int, str] = {0: world.describe(state)}
        self.expansions = 0
        self.invalid = 0
        self.errors = 0

    def node(self, nid: int) -> Node:
        """The state with id `nid`."""
        n: Node = self.graph.nodes[nid]["node"]
        return n

    def text(self, node: Node) -> str:
        """How `node`'s state is recorded (an invalid step's: its parent's text and the step refused)."""
        return self._texts[node.id] if node.id in self._texts else self.world.describe(node.state)

    def children(self, node: Node) -> list[Node]:
        """The states reached from `node`, in the order they were added."""
        return [self.node(i) for i in sorted(self.graph.successors(node.id))]

    def add(
        self,
        parents: Node | Sequence[Node],
        action: str,
        state: Any,
        *,
        error: str | None = None,
        fast_reward: float | None = None,
    ) -> Node:
        """Add the state `action` reached from `parents` (several: an aggregation of them), and record it.

        error: why the action is invalid; the node keeps its first parent's state and is recorded
        with the step refused.
        """
        ps = [parents] if isinstance(parents, Node) else list(parents)
        if not ps:
            raise ValueError("a node is reached from at least one parent")
        nid = self.graph.number_of_nodes()
        node = Node(
            id=nid,
            state=ps[0].state if error else state,
            depth=max(p.depth for p in ps) + 1,
            seq=0,
            parents=tuple(p.id for p in ps),
            action=action,
            error=error,
            fast_reward=fast_reward,
        )
        if error:
            self._texts[nid] = self.text(ps[0]) + action + "\n"
        self.graph.add_node(nid, node=node)
        for p in ps:
            self.graph.add_edge(p.id, nid)
        node.seq = self.hook.added(self, node)
        if error:
            node.status, node.reason = "invalid", error
            self.invalid += 1
        return node

    def event(self, kind: str, label: str, summary: str, *, parent: int | None, **kw: Any) -> int:
        """Record one of the algorithm's own events through the hook (`SearchHook.event`'s options); its seq."""
        return self.hook.event(self, kind, label, summary, parent=parent, **kw)

    def fail(self, node: Node, reason: str) -> None:
        """Mark `node` `error`: a call it needed failed (recorded; the search goes on without it)."""
        node.status, node.reason, node.value = "error", reason, None
        self.errors += 1

    def prune(self, nodes: list[Node], reason: str) -> None:
        """Mark `nodes` pruned (written to the trace by `finish`)."""
        for n in nodes:
            if n.status != "error":
                n.status, n.reason = "pruned", reason

    def path(self, node: Node) -> list[Node]:
        """The nodes from the root to `node`, through first parents."""
        out = [node]
        while (pid := out[-1].parent) is not None:
            out.append(self.node(pid))
        return out[::-1]

    def finish(self, chosen: Node | None) -> None:
        """Mark the path to `chosen` and let the hook write every node's final status."""
        if chosen is not None:
            for n in self.path(chosen):
                n.status = "chosen"
        self.hook.finished(self, chosen)
