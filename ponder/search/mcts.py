"""Monte-Carlo tree search over thought states (UCT), after llm-reasoners' `MCTS` and RAP.

One iteration: **select** a leaf from the root by UCT (an unvisited child first, then the
argmax of Q + c·sqrt(ln N / n)); **expand** it through the search config (its children are
generated and valued, each a recorded `node`); **simulate** from its best new child for up to
`rollout_depth` steps (a `rollout` event, its states never added to the tree); **back up**
the rewards along the path (a `backup` event): each node's return is the sum of the rewards
from it down to the leaf (llm-reasoners' `cum_reward=sum`), and its N and Q are updated.

`parallel` selections run at once: each round selects up to `parallel` leaves one after the
other, a virtual loss on every selected path steering the next selection elsewhere; the
round's leaves are expanded together (one frontier: children recorded in a stable order),
their rollouts run concurrently, each in its own branch, and the backups are applied in
selection order — so the requests, and the tree, are the same on every replay.

Extension points (LATS builds on these):

- `reward(tree, node)`: the reward of reaching a state (default: its value, plus the env's
  reward at a terminal state when `reward` is `env` or `both`); pass `reward_fn` to combine
  a model score and an env reward your own way;
- `on_terminal(tree, node, reward)`: awaited after a rollout or selection ends in a terminal
  state (e.g. write a reflection on a failed trajectory to memory); default: nothing;
- the problem and config decide what states and actions are (an interactive env's
  observations and tool calls are states and actions like any other).
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Literal

from pydantic import Field

from ponder.runtime.context import RunContext
from ponder.search.base import EnvReward, SearchResult, SearchSettings, rank
from ponder.search.config import SearchConfig
from ponder.search.tree import Node, NodeEvents, SearchTree

RewardFn = Callable[[SearchTree, Node], float]
TerminalHook = Callable[[SearchTree, Node, float], Awaitable[None]]


def uct(node: Node, parent_visits: int, c: float) -> float:
    """Q + c·sqrt(ln N / n); an unvisited node is +inf (visited first)."""
    if node.visits == 0:
        return math.inf
    return node.q + c * math.sqrt(math.log(max(parent_visits, 1)) / node.visits)


class MCTS:
    """UCT search: `n_iterations` select / expand / simulate / back-up iterations, `parallel` at a time.

    depth: the deepest state expanded. c: the exploration constant. rollout_depth: steps
    simulated past the expanded node (0: its value is the reward). virtual_loss: the reward
    subtracted (and a visit added) on a selected path until its backup lands.
    reward: `value` (the search config's value), `env` (the env's reward at a terminal state),
    or `both` (their sum). output: `best_terminal` (the highest-valued terminal state with an
    answer) or `aggregate` (the answer with the most terminal reward, llm-reasoners' MCTSAggregation).
    """

    def __init__(
        self,
        *,
        n_iterations: int,
        depth: int,
        c: float = 1.0,
        rollout_depth: int = 0,
        parallel: int = 1,
        virtual_loss: float = 1.0,
        reward: Literal["value", "env", "both"] = "value",
        output: Literal["best_terminal", "aggregate"] = "best_terminal",
        env_reward: EnvReward | None = None,
        reward_fn: RewardFn | None = None,
        on_terminal: TerminalHook | None = None,
    ) -> None:
        self.n_iterations = n_iterations
        self.depth = depth
        self.c = c
        self.rollout_depth = rollout_depth
        self.parallel = parallel
        self.virtual_loss = virtual_loss
        self.reward_mode = reward
        self.output = output
        self.env_reward = env_reward
        self.reward_fn = reward_fn
        self.on_terminal = on_terminal
        self.expanded: set[int] = set()
        self.rounds = 0
        # terminal states that rollouts reached with an answer: (the tree node it started from, the state)
        self.rollout_ends: list[tuple[Node, Node]] = []

    # -- the pieces -------------------------------------------------------------------------

    def terminal(self, tree: SearchTree, node: Node) -> bool:
        """Whether `node` is not expanded further: an end state, or at the depth limit."""
        return node.depth >= self.depth or tree.problem.is_terminal(node.y)

    def reward(self, tree: SearchTree, node: Node) -> float:
        """The reward of reaching `node` (see the class docstring)."""
        if self.reward_fn is not None:
            return self.reward_fn(tree, node)
        value = node.value or 0.0
        if self.reward_mode == "value":
            return value
        env = 0.0
        if self.env_reward is not None and self.terminal(tree, node):
            env = self.env_reward(node.y) or 0.0
        return env if self.reward_mode == "env" else value + env

    def select(self, tree: SearchTree, claimed: set[int]) -> list[Node] | None:
        """The path from the root to a leaf by UCT, skipping leaves another selection of this round
        claimed; None when every way down is claimed."""
        path = [tree.root]
        node = tree.root
        while node.id in self.expanded and not self.terminal(tree, node):
            valid = [ch for ch in tree.children(node) if ch.status not in ("invalid", "error")]
            if not valid:
                return path  # expanded to nothing valid: a dead end, backed up with its own reward
            open_ = [ch for ch in valid if not (ch.id in claimed and ch.id not in self.expanded)]
            if not open_:
                return None
            node = max(open_, key=lambda ch: (uct(ch, node.visits, self.c), -ch.id))
            path.append(node)
        if node.id in claimed and node.id not in self.expanded and not self.terminal(tree, node):
            return None
        return path

    def _apply(self, path: list[Node], visits: int, value: float) -> None:
        for n in path:
            n.visits += visits
            n.value_sum += value

    async def simulate(self, tree: SearchTree, config: SearchConfig, start: Node, ctx: RunContext) -> Node:
        """Roll out from `start` for up to `rollout_depth` steps (first valid step each time); the state
        reached, valued. Its states are not added to the tree: one `rollout` event stands for them."""
        if self.rollout_depth == 0 or self.terminal(tree, start):
            return start
        seq = ctx.event("rollout", f"rollout from #{start.id}", "", parent=start.seq, status="running")
        branch = ctx.within(seq)
        node = Node(id=-1, y=start.y, depth=start.depth, seq=seq, parent=start.id, value=start.value)
        lines: list[str] = []
        for step in range(self.rollout_depth):
            if self.terminal(tree, node):
                break
            steps = await config.generator.generate(tree.problem, node, branch.branch(f"g{step}"))
            valid = [line for line, error in steps if error is None]
            if not valid:
                break
            lines.append(valid[0])
            node = Node(id=-1, y=node.y + valid[0] + "\n", depth=node.depth + 1, seq=seq, parent=start.id)
        if lines:
            await config.evaluator.evaluate(tree, [node], branch)
        ctx.update(
            seq,
            status="error" if node.status == "error" else "ok",
            summary=" / ".join(lines) or "(no valid step)",
            score=node.value,
            data={"start": start.id, "steps": lines, "depth": node.depth, "value": node.value},
        )
        return node

    async def _iterate(
        self, tree: SearchTree, config: SearchConfig, path: list[Node], ctx: RunContext
    ) -> tuple[Node, Node]:
        """Simulate from the leaf of `path` (expanded already): (the node backed up to, the state reached)."""
        leaf = path[-1]
        kids = [ch for ch in tree.children(leaf) if ch.status not in ("invalid", "error")]
        start = min(kids, key=rank) if kids and leaf.id in self.expanded and not self.terminal(tree, leaf) else leaf
        end = await self.simulate(tree, config, start, ctx)
        return start, end

    def backup(self, tree: SearchTree, path: list[Node], end: Node, iteration: int) -> float:
        """Add the returns along `path` (each node: the sum of the rewards from it down), one visit each;
        record a `backup` event. The return at the root."""
        rewards = [0.0] + [self.reward(tree, n) for n in path[1:]]
        if end is not path[-1]:
            rewards[-1] = self.reward(tree, end)  # a rollout's end stands for the leaf it started from
        returns: list[float] = []
        total = 0.0
        for r in reversed(rewards):
            total += r
            returns.append(total)
        returns.reverse()
        for n, g in zip(path, returns, strict=True):
            n.visits += 1
            n.value_sum += g
        tree.ctx.event(
            "backup",
            f"iteration {iteration}",
            " → ".join(f"#{n.id}" for n in path) + f": {returns[0]:g}",
            parent=tree.root.seq,
            score=returns[0],
            data={"iteration": iteration, "path": [n.id for n in path], "rewards": rewards, "returns": returns},
        )
        return returns[0]

    # -- the search -------------------------------------------------------------------------

    async def run(self, tree: SearchTree, config: SearchConfig) -> SearchResult:
        """Run the iterations; the chosen terminal state (None when none gives an answer)."""
        done = 0
        while done < self.n_iterations:
            self.rounds += 1
            want = min(self.parallel, self.n_iterations - done)
            claimed: set[int] = set()
            paths: list[list[Node]] = []
            for _ in range(want):
                path = self.select(tree, claimed)
                if path is None:
                    break
                paths.append(path)
                claimed.add(path[-1].id)
                self._apply(path, 1, -self.virtual_loss)  # virtual loss until this path's backup
            if not paths:
                break
            leaves = [p[-1] for p in paths if p[-1].id not in self.expanded and not self.terminal(tree, p[-1])]
            leaves = list({n.id: n for n in leaves}.values())
            if leaves:
                await config.expand(tree, leaves)
                self.expanded.update(n.id for n in leaves)
            ends = await asyncio.gather(
                *(self._iterate(tree, config, p, tree.ctx.branch(f"i{done + k}")) for k, p in enumerate(paths))
            )
            for k, (path, (start, end)) in enumerate(zip(paths, ends, strict=True)):
                self._apply(path, -1, self.virtual_loss)
                if end is not start and self.terminal(tree, end) and tree.problem.answer(end.y) is not None:
                    self.rollout_ends.append((start, end))
                full = path if start is path[-1] else [*path, start]
                self.backup(tree, full, end, done + k)
                if self.on_terminal is not None and self.terminal(tree, end):
                    await self.on_terminal(tree, end, self.reward(tree, end))
            done += len(paths)
        return self.result(tree)

    def terminals(self, tree: SearchTree) -> list[Node]:
        """The terminal states in the tree that give an answer, best first."""
        found = [
            tree.node(i)
            for i in sorted(tree.graph.nodes)
            if i != 0
            and tree.node(i).status not in ("invalid", "error")
            and self.terminal(tree, tree.node(i))
            and tree.problem.answer(tree.node(i).y) is not None
        ]
        return sorted(found, key=lambda n: (-self.reward(tree, n), -n.q, n.id))

    def result(self, tree: SearchTree) -> SearchResult:
        """The answer: the best terminal state (in the tree, or reached by a rollout), or the answer
        whose terminal states gather the most reward (`aggregate`); else the most visited leaf."""
        in_tree = self.terminals(tree)
        # (reward, the tree node to mark, the state that gives the answer), best first, earliest on ties
        found = [(self.reward(tree, n), n, n) for n in in_tree]
        found += [(self.reward(tree, end), start, end) for start, end in self.rollout_ends]
        found.sort(key=lambda f: (-f[0], f[1].id))
        if not found:
            return SearchResult(self._most_visited_leaf(tree), [])
        if self.output == "aggregate":
            weight: dict[str, float] = defaultdict(float)
            for r, _, state in found:
                weight[str(tree.problem.answer(state.y))] += r
            best = max(weight.values())
            found = [f for f in found if weight[str(tree.problem.answer(f[2].y))] == best]
        _, node, state = found[0]
        return SearchResult(node, in_tree, y=None if state is node else state.y)

    def _most_visited_leaf(self, tree: SearchTree) -> Node | None:
        # no terminal answer: follow the most visited children down (the problem may ask for a final answer)
        node = tree.root
        while True:
            kids = [ch for ch in tree.children(node) if ch.visits > 0]
            if not kids:
                return None if node is tree.root else node
            node = max(kids, key=lambda ch: (ch.visits, ch.q, -ch.id))


class MCTSNodeEvents(NodeEvents):
    """MCTS's recording: each state's event ends with its visits N and value Q (the chosen path marked)."""

    def node_data(self, node: Node) -> dict[str, Any]:
        data = super().node_data(node)
        data["visits"] = node.visits
        data["q"] = round(node.q, 6)
        return data


class MCTSSettings(SearchSettings):
    """`search=mcts`: n_iterations, depth, c, rollout_depth, parallel, virtual_loss, reward, output."""

    algorithm: Literal["mcts"] = "mcts"
    n_iterations: int = Field(default=10, ge=1)
    depth: int = Field(default=4, ge=1)
    c: float = Field(default=1.0, ge=0.0)
    rollout_depth: int = Field(default=0, ge=0)
    parallel: int = Field(default=1, ge=1)
    virtual_loss: float = Field(default=1.0, ge=0.0)
    reward: Literal["value", "env", "both"] = "value"
    output: Literal["best_terminal", "aggregate"] = "best_terminal"
    description: ClassVar[str] = "Monte-Carlo tree search (UCT), `parallel` selections with virtual loss"

    def hook(self) -> MCTSNodeEvents:
        return MCTSNodeEvents()

    def build(self, *, env_reward: EnvReward | None = None) -> MCTS:
        return MCTS(
            n_iterations=self.n_iterations,
            depth=self.depth,
            c=self.c,
            rollout_depth=self.rollout_depth,
            parallel=self.parallel,
            virtual_loss=self.virtual_loss,
            reward=self.reward,
            output=self.output,
            env_reward=env_reward,
        )
