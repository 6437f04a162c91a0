"""ToT search algorithms over a `ThoughtTree`: BFS (best `breadth` per level) and DFS (threshold, backtracking)."""

from __future__ import annotations

from ponder.agents.tot_tree import Node, ThoughtTree


def _rank(n: Node) -> tuple[float, int]:
    # best value first; ties by id, which follows the stable generation order
    return (-(n.value if n.value is not None else 0.0), n.id)


def best_answer(tree: ThoughtTree, nodes: list[Node]) -> Node | None:
    """The best of `nodes`: one that gives an answer first, then the highest value, then the earliest."""
    if not nodes:
        return None
    return min(nodes, key=lambda n: (tree.problem.answer(n.y) is None, *_rank(n)))


class BFS:
    """Breadth-first: expand the whole frontier, keep the best `breadth` states, for `depth` levels."""

    def __init__(self, breadth: int, depth: int) -> None:
        self.breadth = breadth
        self.depth = depth

    async def run(self, tree: ThoughtTree) -> Node | None:
        """The chosen final state, or None if no level produced a valid one."""
        problem = tree.problem
        frontier = [tree.root]
        for _level in range(self.depth):
            open_ = [n for n in frontier if not problem.is_terminal(n.y)]
            # a finished state (an answer already given) stays in the running against deeper ones
            done = [n for n in frontier if problem.is_terminal(n.y) and problem.answer(n.y) is not None]
            if not open_:
                break
            children = await tree.expand(open_)
            if not children and not done:
                break
            ranked = sorted(children + done, key=_rank)
            frontier = ranked[: self.breadth]
            tree.prune(ranked[self.breadth :], f"not among the best {self.breadth} at depth {frontier[0].depth}")
        return best_answer(tree, [n for n in frontier if n is not tree.root])


class DFS:
    """Depth-first: visit children best first, prune those under `value_threshold`, backtrack on dead ends.

    max_steps: the most states expanded before the search gives up.
    """

    def __init__(self, depth: int, value_threshold: float, max_steps: int) -> None:
        self.depth = depth
        self.value_threshold = value_threshold
        self.max_steps = max_steps

    async def run(self, tree: ThoughtTree) -> Node | None:
        """The first state found that gives an answer, or None once every branch is pruned or the steps run out."""
        problem = tree.problem
        steps = 0

        async def visit(node: Node) -> Node | None:
            nonlocal steps
            at_end = node.depth >= self.depth or problem.is_terminal(node.y)
            if node is not tree.root and problem.answer(node.y) is not None and at_end:
                return node
            if at_end or steps >= self.max_steps:
                return None
            steps += 1
            children = sorted(await tree.expand([node]), key=_rank)
            below = [c for c in children if (c.value or 0.0) < self.value_threshold]
            tree.prune(below, f"value under the threshold {self.value_threshold:g}")
            for child in children:
                if child in below:
                    continue
                found = await visit(child)
                if found is not None:
                    return found
                tree.prune([child], "backtracked: no answer below it")
            return None

        return await visit(tree.root)
