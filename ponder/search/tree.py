"""The search tree: a `networkx.DiGraph` of states, recorded through a hook.

The tree holds the states; which of them become events, and with what data, is the hook's
business (`TreeHook`). `NodeEvents`, the default, writes one `node` event per state when it
is added and its final status, value and reason when the search ends — the shape Tree-of-
Thoughts has always recorded. An algorithm that visits many states it does not keep (MCTS
rollouts) simply never adds them to the tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ponder.runtime.context import RunContext
from ponder.search.problem import ThoughtProblem

if TYPE_CHECKING:
    import networkx as nx


@dataclass
class Node:
    """One state: `y` is the text of the steps so far, `line` the step (the action) that made it.

    value: the search config's value of the state (None until valued, or when valuing failed).
    visits / value_sum: MCTS statistics (N and the sum of backed-up rewards); `q` is their mean.
    status: kept / pruned / chosen / invalid / error, written when the search ends.
    """

    id: int
    y: str
    depth: int
    seq: int
    parent: int | None = None
    line: str = ""
    value: float | None = None
    error: str | None = None
    status: str = "kept"
    reason: str = ""
    eval: dict[str, Any] = field(default_factory=dict)
    visits: int = 0
    value_sum: float = 0.0

    @property
    def q(self) -> float:
        """The mean backed-up reward Q (0 before the first visit)."""
        return self.value_sum / self.visits if self.visits else 0.0


class TreeHook(Protocol):
    """Decides how the tree's states are recorded."""

    def added(self, tree: SearchTree, node: Node) -> int:
        """Record `node` (just added under its parent); the seq of its event."""
        ...

    def finished(self, tree: SearchTree, chosen: Node | None) -> None:
        """Record every state's final status once the search is over."""
        ...


class NodeEvents:
    """The default hook: a `node` event per state, its final status, value and reason at the end."""

    def added(self, tree: SearchTree, node: Node) -> int:
        parent = tree.node(node.parent) if node.parent is not None else None
        return tree.ctx.event(
            "node",
            f"d{node.depth}",
            node.line or "(empty reply)",
            parent=parent.seq if parent is not None else None,
            status="invalid" if node.error else "ok",
            data={"id": node.id, "depth": node.depth, "y": node.y, "step": node.line, "error": node.error},
        )

    def node_data(self, node: Node) -> dict[str, Any]:
        """The data a node's event ends with."""
        data: dict[str, Any] = {
            "id": node.id,
            "depth": node.depth,
            "y": node.y,
            "step": node.line,
            "error": node.error,
            "value": node.value,
        }
        if node.reason:
            data["reason"] = node.reason
        return data

    def finished(self, tree: SearchTree, chosen: Node | None) -> None:
        for nid in sorted(tree.graph.nodes):
            if nid == 0:
                continue
            n = tree.node(nid)
            tree.ctx.update(n.seq, status=n.status, score=n.value, data=self.node_data(n))
        tree.ctx.update(tree.root.seq, status="chosen" if chosen is not None else "ok")


class SearchTree:
    """The states searched so far (a `networkx.DiGraph` of `Node`s) and their recording."""

    def __init__(self, problem: ThoughtProblem, ctx: RunContext, question: str, hook: TreeHook | None = None) -> None:
        self.problem = problem
        self.ctx = ctx
        self.hook: TreeHook = hook if hook is not None else NodeEvents()
        import networkx  # imported here: `import ponder` stays fast (networkx takes ~150 ms)

        self.graph: nx.DiGraph = networkx.DiGraph()
        seq = ctx.event("node", "root", question, data={"id": 0, "depth": 0, "y": ""})
        self.root = Node(id=0, y="", depth=0, seq=seq, status="chosen")
        self.graph.add_node(0, node=self.root)
        self.expansions = 0
        self.invalid = 0
        self.errors = 0

    def node(self, nid: int) -> Node:
        """The state with id `nid`."""
        n: Node = self.graph.nodes[nid]["node"]
        return n

    def children(self, node: Node) -> list[Node]:
        """The states added under `node`, in the order they were added."""
        return [self.node(i) for i in sorted(self.graph.successors(node.id))]

    def add(self, parent: Node, line: str, error: str | None) -> Node:
        """Add the state that step `line` makes from `parent` (invalid when `error`), and record it."""
        nid = self.graph.number_of_nodes()
        node = Node(id=nid, y=parent.y + line + "\n", depth=parent.depth + 1, seq=0, parent=parent.id, line=line)
        node.error = error
        self.graph.add_node(nid, node=node)
        self.graph.add_edge(parent.id, nid)
        node.seq = self.hook.added(self, node)
        if error:
            node.status, node.reason = "invalid", error
            self.invalid += 1
        return node

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
        """The nodes from the root to `node`."""
        import networkx

        return [self.node(i) for i in networkx.shortest_path(self.graph, 0, node.id)]

    def finish(self, chosen: Node | None) -> None:
        """Mark the path to `chosen` and let the hook write every node's final status."""
        if chosen is not None:
            for n in self.path(chosen):
                n.status = "chosen"
        self.hook.finished(self, chosen)
