"""MCTS on the search layer: UCT selection, virtual loss, backpropagation, the recorded tree,
deterministic parallel rounds, bad settings refused."""

from __future__ import annotations

import math
from typing import Any

import pytest

from ponder import registry
from ponder.agents.mcts import MCTSAgent
from ponder.backends.scripted import ScriptedBackend
from ponder.envs.game24 import verify
from ponder.errors import ConfigError
from ponder.search.graph import Node, SearchGraph
from ponder.search.mcts import MCTS, uct
from ponder.search.problem import GenericThoughts
from ponder.traces.events import EventRecord
from ponder.traces.store import TraceStore
from tests._game24_model import gpt4_like

PUZZLE = "4 9 10 13"


class _Ctx:
    """Just enough of a RunContext for building a tree by hand: events get increasing seqs."""

    def __init__(self) -> None:
        self.seq = 0
        self.events: list[tuple[str, dict[str, Any]]] = []

    def event(self, kind: str, *args: Any, **kw: Any) -> int:
        self.seq += 1
        self.events.append((kind, kw.get("data") or {}))
        return self.seq


def _tree(shape: dict[str, list[str]]) -> tuple[SearchGraph, dict[str, Node]]:
    """A tree by hand: `shape` maps a node name ("" the root) to its children's names."""
    tree = SearchGraph(GenericThoughts("q"), _Ctx(), "q")  # type: ignore[arg-type]
    named = {"": tree.root}
    todo = [""]
    while todo:
        name = todo.pop(0)
        for child in shape.get(name, []):
            named[child] = tree.add(named[name], child, named[name].state + child + "\n")
            todo.append(child)
    return tree, named


def _stats(node: Node, visits: int, total: float) -> None:
    node.visits, node.value_sum = visits, total


def test_uct_picks_an_unvisited_child_first_then_the_argmax() -> None:
    tree, n = _tree({"": ["a", "b", "c"]})
    search = MCTS(n_iterations=1, depth=5, c=1.0)
    search.expanded.add(0)
    _stats(n[""], 3, 0.0)
    _stats(n["b"], 2, 2.0)  # Q = 1
    _stats(n["c"], 1, 0.5)  # Q = 0.5
    path = search.select(tree, set())
    assert path is not None and path[-1] is n["a"], "the unvisited child goes first"
    assert uct(n["a"], 3, 1.0) == math.inf
    _stats(n["a"], 1, 0.1)
    # c=1: b = 1 + sqrt(ln 3 / 2) = 1.74, c = 0.5 + sqrt(ln 3) = 1.55, a = 0.1 + 1.05 = 1.15
    assert uct(n["b"], 3, 1.0) == pytest.approx(1 + math.sqrt(math.log(3) / 2))
    assert search.select(tree, set())[-1] is n["b"]  # type: ignore[index]
    # more exploration favours the less visited c: b = 2.48, c = 2.60
    search.c = 2.0
    assert search.select(tree, set())[-1] is n["c"]  # type: ignore[index]


def test_virtual_loss_spreads_parallel_selections() -> None:
    def second_selection(virtual_loss: float) -> str:
        tree, n = _tree({"": ["a", "b"], "a": ["a1", "a2"], "b": ["b1", "b2"]})
        search = MCTS(n_iterations=2, depth=5, c=0.0, virtual_loss=virtual_loss)
        search.expanded.update({0, n["a"].id, n["b"].id})
        _stats(n[""], 2, 11.0)
        _stats(n["a"], 1, 10.0)  # Q = 10
        _stats(n["b"], 1, 1.0)  # Q = 1
        first = search.select(tree, set())
        assert first is not None and first[1] is n["a"]
        search._apply(first, 1, -virtual_loss)
        second = search.select(tree, {first[-1].id})
        assert second is not None
        return second[1].action

    assert second_selection(0.0) == "a", "without a virtual loss both selections go down the best branch"
    assert second_selection(10.0) == "b", "the virtual loss on a's path sends the next selection elsewhere"


def test_backpropagation_sums_the_rewards_along_the_path() -> None:
    tree, n = _tree({"": ["a"], "a": ["b"]})
    n["a"].value, n["b"].value = 1.0, 20.0
    search = MCTS(n_iterations=1, depth=5)
    ret = search.backup(tree, [n[""], n["a"], n["b"]], n["b"], 0)
    assert ret == 21.0
    assert [(x.visits, x.value_sum) for x in (n[""], n["a"], n["b"])] == [(1, 21.0), (1, 21.0), (1, 20.0)]
    kind, data = tree.ctx.events[-1]  # type: ignore[attr-defined]
    assert kind == "backup" and data["returns"] == [21.0, 21.0, 20.0] and data["rewards"] == [0.0, 1.0, 20.0]


def _events(store: TraceStore, run_id: str, kind: str) -> list[EventRecord]:
    return [e for e in store.events(run_id, with_data=True) if e.kind == kind]


async def test_mcts_solves_game24_and_records_n_q_and_the_chosen_path(store: TraceStore) -> None:
    agent = MCTSAgent.model_validate({"env": "game24", "n_iterations": 8, "rollout_depth": 3})
    backend = ScriptedBackend(gpt4_like)
    r = await agent.arun(PUZZLE, backend=backend, store=store)
    assert r.answer is not None and verify((4, 9, 10, 13), r.answer) and r.correct is True
    backups = _events(store, r.run_id, "backup")
    assert [b.data["iteration"] for b in backups] == list(range(8))  # type: ignore[index]
    nodes = _events(store, r.run_id, "node")[1:]
    assert all(n.data is not None and "visits" in n.data and "q" in n.data for n in nodes)
    chosen = [n for n in nodes if n.status == "chosen"]
    assert chosen and all(n.data["visits"] >= 1 for n in chosen[:-1])  # type: ignore[index]
    root_visits = sum(1 for b in backups)
    assert max(n.data["visits"] for n in nodes) <= root_visits  # type: ignore[index]
    # the rollouts are single events, their states not in the tree
    assert _events(store, r.run_id, "rollout") and all(not n.data["y"].count("Answer") > 1 for n in nodes)  # type: ignore[index]


async def test_parallel_selections_are_deterministic(store: TraceStore) -> None:
    async def one() -> list[tuple[str, str]]:
        agent = MCTSAgent.model_validate({"env": "game24", "n_iterations": 6, "parallel": 3})
        r = await agent.arun(PUZZLE, backend=ScriptedBackend(gpt4_like), store=store)
        branches = [e.branch for e in _events(store, r.run_id, "backup")]
        assert len(branches) == 6
        return sorted((c.branch, c.request_key) for c in store.llm_calls(r.run_id))

    first, second = await one(), await one()
    assert first == second, "the same completions make the same requests on the same branches"


def test_bad_settings_are_refused_clearly() -> None:
    with pytest.raises(ConfigError, match="n_iterations"):
        registry.build("agents", "mcts", {"n_iterations": 0})
    with pytest.raises(ConfigError, match="width is a setting of search=beam, not of search=mcts"):
        registry.build("agents", "mcts", {"width": 3})
    with pytest.raises(ConfigError, match="mcts always searches with mcts"):
        registry.build("agents", "mcts", {"search": "bfs"})
    with pytest.raises(ConfigError, match="no option 'widht'"):
        registry.build("agents", "mcts", {"widht": 3})
    a = registry.build("agents", "mcts", {"env": "game24", "c": "0.5", "parallel": "4"})
    assert (a.search.c, a.search.parallel, a.search.depth) == (0.5, 4, 4), "game24's depth applies"


async def test_env_reward_and_the_terminal_hook_are_extension_points(store: TraceStore) -> None:
    seen: list[tuple[int, float]] = []

    async def on_terminal(tree: SearchGraph, node: Node, reward: float) -> None:
        seen.append((node.depth, reward))

    agent = MCTSAgent.model_validate({"env": "game24", "n_iterations": 6, "rollout_depth": 3, "reward": "env"})

    class Hooked(MCTSAgent):
        def algorithm(self, env_reward: Any = None) -> Any:
            search = super().algorithm(env_reward)
            search.on_terminal = on_terminal
            return search

    hooked = Hooked.model_validate(agent.model_dump())
    r = await hooked.arun(PUZZLE, backend=ScriptedBackend(gpt4_like), store=store)
    assert r.correct is True
    assert seen and {rw for _, rw in seen} <= {0.0, 1.0} and 1.0 in {rw for _, rw in seen}, "the env's 0/1 reward"
    backups = _events(store, r.run_id, "backup")
    assert max(b.score or 0.0 for b in backups) == 1.0, "reward=env: only a right answer counts"
