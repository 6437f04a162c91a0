"""Monte-Carlo tree search over a world model's states (UCT), after llm-reasoners' `MCTS` and RAP.

One iteration: **select** a leaf from the root by UCT (an unvisited child first, then the
argmax of Q + c·sqrt(ln N / n)); **expand** it through the search config (its children are
generated and valued, each a recorded `node`); **simulate** from its best new child for up to
`rollout_depth` steps (a `rollout` event, its states never added to the graph); **back up**
the rewards along the path (a `backup` event): each node's return is the sum of the rewards
from it down to the leaf (llm-reasoners' `cum_reward=sum`), and its N and Q are updated.

`parallel` selections run at once: each round selects up to `parallel` leaves one after the
other, a virtual loss on every selected path steering the next selection elsewhere; the
round's leaves are expanded together (one frontier: children recorded in a stable order),
their rollouts run concurrently, each in its own branch, and the backups are applied in
selection order — so the requests, and the graph, are the same on every replay.

Extension points (LATS builds on these):

- `reward(graph, node)`: the reward of reaching a state (default: its value, plus the env's
  reward at a terminal state when `reward` is `env` or `both`); pass `reward_fn` to combine
  a model score and an env reward your own way;
- `on_terminal(graph, node, reward)`: awaited after a rollout or selection ends in a terminal
  state (e.g. write a reflection on a failed trajectory to memory); default: nothing;
- the world model and the config decide what states and actions are (an interactive env's
  observations and tool calls are states and actions like any other).
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import ClassVar, Literal

from pydantic import Field

from ponder.runtime.context import RunContext
from ponder.search.base import EnvReward, SearchResult, SearchSettings, rank
from ponder.search.config import SearchConfig
from ponder.search.graph import Node, SearchGraph

RewardFn = Callable[[SearchGraph, Node], float]
Output = Literal["best_terminal", "aggregate", "max_reward", "follow_max", "max_visit"]
TerminalHook = Callable[[SearchGraph, Node, float], Awaitable[None]]


def uct(node: Node, parent_visits: int, c: float, q: float | None = None) -> float:
    """Q + c·sqrt(ln N / n); an unvisited node is +inf (visited first). `q`: the node's Q if not its mean."""
    if node.visits == 0:
        return math.inf
    return (node.q if q is None else q) + c * math.sqrt(math.log(max(parent_visits, 1)) / node.visits)


class MCTS:
    """UCT search: `n_iterations` select / expand / simulate / back-up iterations, `parallel` at a time.

    depth: the deepest state expanded. c: the exploration constant. rollout_depth: steps
    simulated past the expanded node (0: its value is the reward). virtual_loss: the reward
    subtracted (and a visit added) on a selected path until its backup lands.
    reward: `value` (the search config's value), `env` (the env's reward at a terminal state),
    or `both` (their sum). output: `best_terminal` (the highest-valued terminal state with an
    answer), `aggregate` (the answer with the most terminal reward, llm-reasoners' MCTSAggregation),
    or llm-reasoners' output strategies: `max_reward` (the terminal path with the largest
    cumulative reward), `follow_max` (from the root, the child with the largest Q each step),
    `max_visit` (the most visited child each step).
    cum_reward: how a path's rewards make a node's return (`sum`: the sum from it down; `mean`).
    calc_q: a node's Q from its returns (`mean`; `max`: the best return seen).
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
        output: Output = "best_terminal",
        cum_reward: Literal["sum", "mean"] = "sum",
        calc_q: Literal["mean", "max"] = "mean",
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
        self.cum_reward = cum_reward
        self.calc_q = calc_q
        self.returns: dict[int, list[float]] = defaultdict(list)
        self.env_reward = env_reward
        self.reward_fn = reward_fn
        self.on_terminal = on_terminal
        self.expanded: set[int] = set()
        self.rounds = 0
        # terminal states that rollouts reached with an answer: (the graph node it started from, the state)
        self.rollout_ends: list[tuple[Node, Node]] = []

    # -- the pieces -------------------------------------------------------------------------

    def terminal(self, graph: SearchGraph, node: Node) -> bool:
        """Whether `node` is not expanded further: an end state, or at the depth limit."""
        return node.depth >= self.depth or graph.world.is_terminal(node.state)

    def reward(self, graph: SearchGraph, node: Node) -> float:
        """The reward of reaching `node` (see the class docstring)."""
        if self.reward_fn is not None:
            return self.reward_fn(graph, node)
        value = node.value or 0.0
        if self.reward_mode == "value":
            return value
        env = 0.0
        if self.env_reward is not None and self.terminal(graph, node):
            env = self.env_reward(node.state) or 0.0
        return env if self.reward_mode == "env" else value + env

    def select(self, graph: SearchGraph, claimed: set[int]) -> list[Node] | None:
        """The path from the root to a leaf by UCT, skipping leaves another selection of this round
        claimed; None when every way down is claimed."""
        path = [graph.root]
        node = graph.root
        while node.id in self.expanded and not self.terminal(graph, node):
            valid = [ch for ch in graph.children(node) if ch.status not in ("invalid", "error")]
            if not valid:
                return path  # expanded to nothing valid: a dead end, backed up with its own reward
            open_ = [ch for ch in valid if not (ch.id in claimed and ch.id not in self.expanded)]
            if not open_:
                return None
            # unvisited children first, the one with the best fast reward (where the config gives one) first
            parent = node
            node = max(
                open_, key=lambda ch: (uct(ch, parent.visits, self.c, self.q(ch)), ch.fast_reward or 0.0, -ch.id)
            )
            path.append(node)
        if node.id in claimed and node.id not in self.expanded and not self.terminal(graph, node):
            return None
        return path

    def q(self, node: Node) -> float:
        """A node's Q: the mean of its returns (with any virtual loss in flight), or the best of them (`calc_q=max`)."""
        if self.calc_q == "max":
            seen = self.returns.get(node.id)
            return max(seen) if seen else 0.0
        return node.q

    def _apply(self, path: list[Node], visits: int, value: float) -> None:
        for n in path:
            n.visits += visits
            n.value_sum += value

    async def simulate(self, graph: SearchGraph, config: SearchConfig, start: Node, ctx: RunContext) -> Node:
        """Roll out from `start` for up to `rollout_depth` steps (first valid action each time); the state
        reached, valued. Its states are not added to the graph: one `rollout` event stands for them."""
        if self.rollout_depth == 0 or self.terminal(graph, start):
            return start
        seq = graph.event("rollout", f"rollout from #{start.id}", "", parent=start.seq, status="running", ctx=ctx)
        branch = ctx.within(seq)
        node = Node(id=-1, state=start.state, depth=start.depth, seq=seq, parents=(start.id,), value=start.value)
        lines: list[str] = []
        for step in range(self.rollout_depth):
            if self.terminal(graph, node):
                break
            here = branch.branch(f"g{step}")
            valid = [s for s in await config.generator.actions(graph.world, node, here) if s.error is None]
            if not valid:
                break
            first = valid[0]
            state = first.state if first.stepped else await graph.world.step(node.state, first.action, here)
            lines.append(first.line)
            node = Node(id=-1, state=state, depth=node.depth + 1, seq=seq, parents=(start.id,))
        if lines:
            await config.reward(graph, [node], branch)
        ctx.update(
            seq,
            status="error" if node.status == "error" else "ok",
            summary=" / ".join(lines) or "(no valid step)",
            score=node.value,
            data={"start": start.id, "steps": lines, "depth": node.depth, "value": node.value},
        )
        return node

    async def _iterate(
        self, graph: SearchGraph, config: SearchConfig, path: list[Node], ctx: RunContext
    ) -> tuple[Node, Node]:
        """Simulate from the leaf of `path` (expanded already): (the node backed up to, the state reached)."""
        leaf = path[-1]
        kids = [ch for ch in graph.children(leaf) if ch.status not in ("invalid", "error")]
        start = min(kids, key=rank) if kids and leaf.id in self.expanded and not self.terminal(graph, leaf) else leaf
        end = await self.simulate(graph, config, start, ctx)
        return start, end

    def backup(self, graph: SearchGraph, path: list[Node], end: Node, iteration: int) -> float:
        """Add the returns along `path` (each node: the sum of the rewards from it down), one visit each;
        record a `backup` event. The return at the root."""
        rewards = [0.0] + [self.reward(graph, n) for n in path[1:]]
        if end is not path[-1]:
            rewards[-1] = self.reward(graph, end)  # a rollout's end stands for the leaf it started from
        returns: list[float] = []
        total = 0.0
        for k, r in enumerate(reversed(rewards), start=1):
            total += r
            returns.append(total if self.cum_reward == "sum" else total / k)
        returns.reverse()
        for n, g in zip(path, returns, strict=True):
            n.visits += 1
            n.value_sum += g
            self.returns[n.id].append(g)
        graph.event(
            "backup",
            f"iteration {iteration}",
            " → ".join(f"#{n.id}" for n in path) + f": {returns[0]:g}",
            parent=graph.root.seq,
            score=returns[0],
            data={"iteration": iteration, "path": [n.id for n in path], "rewards": rewards, "returns": returns},
        )
        return returns[0]

    # -- the search -------------------------------------------------------------------------

    async def run(self, graph: SearchGraph, config: SearchConfig) -> SearchResult:
        """Run the iterations; the chosen terminal state (None when none gives an answer)."""
        done = 0
        while done < self.n_iterations:
            self.rounds += 1
            want = min(self.parallel, self.n_iterations - done)
            claimed: set[int] = set()
            paths: list[list[Node]] = []
            for _ in range(want):
                path = self.select(graph, claimed)
                if path is None:
                    break
                paths.append(path)
                claimed.add(path[-1].id)
                self._apply(path, 1, -self.virtual_loss)  # virtual loss until this path's backup
            if not paths:
                break
            leaves = [p[-1] for p in paths if p[-1].id not in self.expanded and not self.terminal(graph, p[-1])]
            leaves = list({n.id: n for n in leaves}.values())
            if leaves:
                await config.expand(graph, leaves)
                self.expanded.update(n.id for n in leaves)
            ends = await asyncio.gather(
                *(self._iterate(graph, config, p, graph.ctx.branch(f"i{done + k}")) for k, p in enumerate(paths))
            )
            for k, (path, (start, end)) in enumerate(zip(paths, ends, strict=True)):
                self._apply(path, -1, self.virtual_loss)
                if end is not start and self.terminal(graph, end) and graph.world.answer(end.state) is not None:
                    self.rollout_ends.append((start, end))
                full = path if start is path[-1] else [*path, start]
                self.backup(graph, full, end, done + k)
                if self.on_terminal is not None and self.terminal(graph, end):
                    await self.on_terminal(graph, end, self.reward(graph, end))
            done += len(paths)
        return self.result(graph)

    def terminals(self, graph: SearchGraph) -> list[Node]:
        """The terminal states in the graph that give an answer, best first."""
        found = [
            graph.node(i)
            for i in sorted(graph.graph.nodes)
            if i != 0
            and graph.node(i).status not in ("invalid", "error")
            and self.terminal(graph, graph.node(i))
            and graph.world.answer(graph.node(i).state) is not None
        ]
        return sorted(found, key=lambda n: (-self.reward(graph, n), -n.q, n.id))

    def result(self, graph: SearchGraph) -> SearchResult:
        """The answer: the best terminal state (in the graph, or reached by a rollout), or the answer
        whose terminal states gather the most reward (`aggregate`); else the most visited leaf.
        Every node's N and Q go to its `stats` (recorded with its final status)."""
        for nid in graph.graph.nodes:
            n = graph.node(nid)
            n.stats = {"visits": n.visits, "q": round(self.q(n), 6)}
        if self.output in ("follow_max", "max_visit"):
            return self._follow(graph)
        if self.output == "max_reward":
            return self._max_reward(graph)
        in_graph = self.terminals(graph)
        # (reward, the graph node to mark, the state that gives the answer), best first, earliest on ties
        found = [(self.reward(graph, n), n, n) for n in in_graph]
        found += [(self.reward(graph, end), start, end) for start, end in self.rollout_ends]
        found.sort(key=lambda f: (-f[0], f[1].id))
        if not found:
            return SearchResult(self._most_visited_leaf(graph), [])
        if self.output == "aggregate":
            weight: dict[str, float] = defaultdict(float)
            for r, _, state in found:
                weight[str(graph.world.answer(state.state))] += r
            best = max(weight.values())
            found = [f for f in found if weight[str(graph.world.answer(f[2].state))] == best]
        _, node, state = found[0]
        return SearchResult(node, in_graph, state=None if state is node else state.state)

    def _path_reward(self, graph: SearchGraph, node: Node) -> float:
        path = graph.path(node)[1:]
        rewards = [self.reward(graph, n) for n in path]
        if not rewards:
            return -math.inf
        return sum(rewards) if self.cum_reward == "sum" else sum(rewards) / len(rewards)

    def _max_reward(self, graph: SearchGraph) -> SearchResult:
        """llm-reasoners' `max_reward`: the terminal state (with an answer) whose path has the largest
        cumulative reward — in the graph, or reached by a rollout (its path: the rollout's start's, then
        the end's reward); the earliest on ties."""
        found = self.terminals(graph)
        cands = [(self._path_reward(graph, n), n.id, n, None) for n in found]
        for start, end in self.rollout_ends:
            rewards = [self.reward(graph, n) for n in graph.path(start)[1:]] + [self.reward(graph, end)]
            total = sum(rewards) if self.cum_reward == "sum" else sum(rewards) / len(rewards)
            cands.append((total, start.id, start, end.state))
        if not cands:
            return SearchResult(self._most_visited_leaf(graph), [])
        _, _, node, state = min(cands, key=lambda c: (-c[0], c[1]))
        return SearchResult(node, found, state=state)

    def _follow(self, graph: SearchGraph) -> SearchResult:
        """llm-reasoners' `follow_max` (largest Q) / `max_visit` (most visits): walk down from the root."""
        node = graph.root
        while True:
            kids = [ch for ch in graph.children(node) if ch.visits > 0 and ch.status not in ("invalid", "error")]
            if not kids:
                break
            if self.output == "follow_max":
                node = max(kids, key=lambda ch: (self.q(ch), ch.visits, -ch.id))
            else:
                node = max(kids, key=lambda ch: (ch.visits, self.q(ch), -ch.id))
        return SearchResult(None if node is graph.root else node, [])

    def _most_visited_leaf(self, graph: SearchGraph) -> Node | None:
        # no terminal answer: follow the most visited children down (the problem may ask for a final answer)
        node = graph.root
        while True:
            kids = [ch for ch in graph.children(node) if ch.visits > 0]
            if not kids:
                return None if node is graph.root else node
            node = max(kids, key=lambda ch: (ch.visits, ch.q, -ch.id))


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
    output: Output = "best_terminal"
    cum_reward: Literal["sum", "mean"] = "sum"
    calc_q: Literal["mean", "max"] = "mean"
    description: ClassVar[str] = "Monte-Carlo graph search (UCT), `parallel` selections with virtual loss"

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
            cum_reward=self.cum_reward,
            calc_q=self.calc_q,
            env_reward=env_reward,
        )
