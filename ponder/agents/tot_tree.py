"""The thought tree: a `networkx.DiGraph` of states, each also a `node` event in the trace.

`expand(frontier)` generates the children of every frontier node concurrently (one branch
`ctx.branch("n<id>")` per node), records them in a stable order, then evaluates the valid ones
concurrently: wall time follows the depth of the tree, not its size.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ponder.agents.context import RunContext
from ponder.agents.tot_problem import ThoughtProblem

if TYPE_CHECKING:
    import networkx as nx


@dataclass
class Node:
    """One thought state: `y` is the text of the steps so far, `line` the step that made it."""

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


class Generator(Protocol):
    """Makes the next steps of a state: (line, None) for a step, (line, why) for an invalid one."""

    async def generate(self, problem: ThoughtProblem, node: Node, ctx: RunContext) -> list[tuple[str, str | None]]:
        """The candidate next steps of `node`, working through `ctx` (its own branch)."""
        ...


class Evaluator(Protocol):
    """Scores new states: sets `node.value` on each (a value, or votes)."""

    async def evaluate(self, tree: ThoughtTree, nodes: list[Node], ctx: RunContext) -> None:
        """Set `value` on every node of `nodes` (new states of one expansion)."""
        ...


class ThoughtTree:
    """The states searched so far, their events, and one step of expansion."""

    def __init__(
        self, problem: ThoughtProblem, ctx: RunContext, generator: Generator, evaluator: Evaluator, question: str
    ) -> None:
        self.problem = problem
        self.ctx = ctx
        self.generator = generator
        self.evaluator = evaluator
        import networkx  # imported here: `import ponder` stays fast (networkx takes ~150 ms)

        self.graph: nx.DiGraph = networkx.DiGraph()
        seq = ctx.event("node", "root", question, data={"id": 0, "depth": 0, "y": ""})
        self.root = Node(id=0, y="", depth=0, seq=seq, status="chosen")
        self.graph.add_node(0, node=self.root)
        self.expansions = 0
        self.invalid = 0

    def node(self, nid: int) -> Node:
        """The state with id `nid`."""
        n: Node = self.graph.nodes[nid]["node"]
        return n

    def _add(self, parent: Node, line: str, error: str | None) -> Node:
        nid = self.graph.number_of_nodes()
        y = parent.y + line + "\n"
        seq = self.ctx.event(
            "node",
            f"d{parent.depth + 1}",
            line or "(empty reply)",
            parent=parent.seq,
            status="invalid" if error else "ok",
            data={"id": nid, "depth": parent.depth + 1, "y": y, "step": line, "error": error},
        )
        node = Node(id=nid, y=y, depth=parent.depth + 1, seq=seq, parent=parent.id, line=line, error=error)
        if error:
            node.status, node.reason = "invalid", error
            self.invalid += 1
        self.graph.add_node(nid, node=node)
        self.graph.add_edge(parent.id, nid)
        return node

    async def expand(self, frontier: list[Node]) -> list[Node]:
        """Generate the children of `frontier` concurrently, record them, evaluate the valid ones."""
        self.expansions += len(frontier)
        steps = await asyncio.gather(
            *(self.generator.generate(self.problem, n, self.ctx.branch(f"n{n.id}", parent=n.seq)) for n in frontier)
        )
        children: list[Node] = []
        for parent, found in zip(frontier, steps, strict=True):
            for line, error in found:
                child = self._add(parent, line, error)
                if error is None:
                    children.append(child)
        if children:
            # a node's score is written with its final status (`finish`); its evaluation event has it now
            await self.evaluator.evaluate(self, children, self.ctx)
        return children

    def prune(self, nodes: list[Node], reason: str) -> None:
        """Mark `nodes` pruned (written to the trace by `finish`)."""
        for n in nodes:
            n.status, n.reason = "pruned", reason

    def path(self, node: Node) -> list[Node]:
        """The nodes from the root to `node`."""
        import networkx

        return [self.node(i) for i in networkx.shortest_path(self.graph, 0, node.id)]

    def finish(self, chosen: Node | None) -> None:
        """Write every node's final status: chosen (the path to the answer), kept, pruned or invalid."""
        if chosen is not None:
            for n in self.path(chosen):
                n.status = "chosen"
        for nid in sorted(self.graph.nodes):
            n = self.node(nid)
            if nid == 0:
                continue
            data = {"id": n.id, "depth": n.depth, "y": n.y, "step": n.line, "error": n.error, "value": n.value}
            if n.reason:
                data["reason"] = n.reason
            self.ctx.update(n.seq, status=n.status, score=n.value, data=data)
        self.ctx.update(self.root.seq, status="chosen" if chosen is not None else "ok")
