"""The search graph and the open layer's pieces: a node with several parents (an aggregation) and
its edges recorded, a world model whose states are not text searched by a registered algorithm
without a state ever changing, and one hook recording every algorithm."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ponder.backends.scripted import ScriptedBackend
from ponder.runtime.context import RunContext
from ponder.runtime.runner import run_agent
from ponder.search.config import SearchConfig
from ponder.search.graph import Node, SearchGraph
from ponder.search.problem import GenericThoughts
from ponder.search.settings import settings_class
from ponder.search.world import Step, WorldModel
from ponder.traces.store import TraceStore
from tests._probe import Probe


async def within_run(store: TraceStore, body: Callable[[RunContext], Awaitable[Any]]) -> tuple[Any, str]:
    probe = Probe(body)
    result = await run_agent(probe, "q", backend=ScriptedBackend([]), store=store, evaluator=None)
    return probe.out, result.run_id


async def test_a_node_with_several_parents_is_recorded_with_every_edge(store: TraceStore) -> None:
    async def body(ctx: RunContext) -> SearchGraph:
        graph = SearchGraph(GenericThoughts("q"), ctx, "q")
        a = graph.add(graph.root, "a", "a\n")
        b = graph.add(graph.root, "b", "b\n")
        deep = graph.add(b, "b2", "b\nb2\n")
        merged = graph.add([a, deep], "merge a with b2", "a + b2\n")
        graph.finish(merged)
        return graph

    graph, run_id = await within_run(store, body)
    merged = graph.node(4)
    assert merged.parents == (1, 3) and merged.depth == 3  # one deeper than its deepest parent
    assert sorted(graph.graph.predecessors(4)) == [1, 3] and graph.graph.has_edge(3, 4)
    assert [n.id for n in graph.path(merged)] == [0, 1, 4]  # through first parents
    events = {e.data["id"]: e for e in store.iter_events(run_id, with_data=True) if e.kind == "node" and e.data}
    assert events[4].data is not None and events[4].data["parents"] == [1, 3]
    assert events[4].parent_seq == events[1].seq  # nested under its first parent's event
    assert "parents" not in (events[3].data or {})  # one parent: the nesting says it
    assert events[4].status == "chosen" and events[1].status == "chosen" and events[3].status == "kept"


class Counting:
    """A world model whose states are tuples: an action appends a number; 10 or more ends the search."""

    def init_state(self) -> tuple[int, ...]:
        return ()

    async def step(self, state: tuple[int, ...], action: int, ctx: RunContext) -> tuple[int, ...]:
        return (*state, action)

    def is_terminal(self, state: tuple[int, ...]) -> bool:
        return sum(state) >= 10

    def answer(self, state: tuple[int, ...]) -> str | None:
        return str(sum(state)) if sum(state) >= 10 else None

    def describe(self, state: tuple[int, ...]) -> str:
        return " + ".join(map(str, state))


class Numbers:
    """Generator: the actions 1, 3 and 5, and one invalid action (0)."""

    async def actions(self, world: WorldModel[Any, Any], node: Node, ctx: RunContext) -> list[Step]:
        return [Step(n) for n in (1, 3, 5)] + [Step(0, "zero changes nothing", text="add 0")]


class Sum:
    """Evaluator: a state's value is its sum."""

    async def reward(self, graph: SearchGraph, nodes: list[Node], ctx: RunContext) -> None:
        for n in nodes:
            n.value = float(sum(n.state))


async def test_a_registered_algorithm_searches_a_world_model_of_any_states(store: TraceStore) -> None:
    world = Counting()
    assert isinstance(world, WorldModel)

    async def body(ctx: RunContext) -> tuple[SearchGraph, Any]:
        graph = SearchGraph(world, ctx, "reach 10")
        search = settings_class("beam").model_validate({"algorithm": "beam", "width": 2, "depth": 3}).build()
        found = await search.run(graph, SearchConfig(Numbers(), Sum()))
        graph.finish(found.chosen)
        return graph, found

    (graph, found), run_id = await within_run(store, body)
    assert graph.root.state == () and found.chosen is not None
    # beam keeps the best values: the finished 5 + 5 competes with deeper states, and 5 + 3 + 5 wins
    assert found.chosen.state == (5, 3, 5) and world.answer(found.chosen.state) == "13"
    invalid = [graph.node(i) for i in graph.graph.nodes if graph.node(i).status == "invalid"]
    assert invalid and all(n.state == graph.node(n.parent).state for n in invalid if n.parent is not None)
    nodes = {e.data["id"]: e.data for e in store.iter_events(run_id, with_data=True) if e.kind == "node" and e.data}
    assert nodes[found.chosen.id]["y"] == "5 + 3 + 5" and nodes[found.chosen.id]["step"] == "5"
    assert nodes[invalid[0].id]["y"].endswith("add 0\n")  # an invalid step: its parent's text and the step


async def test_mcts_statistics_go_through_the_same_hook(store: TraceStore) -> None:
    async def body(ctx: RunContext) -> SearchGraph:
        graph = SearchGraph(Counting(), ctx, "reach 10")
        settings = settings_class("mcts").model_validate({"algorithm": "mcts", "n_iterations": 4, "depth": 3})
        found = await settings.build().run(graph, SearchConfig(Numbers(), Sum()))
        graph.finish(found.chosen)
        return graph

    _, run_id = await within_run(store, body)
    data = [e.data for e in store.iter_events(run_id, with_data=True) if e.kind == "node" and e.data]
    kept = [d for d in data if d["id"] != 0]
    assert kept and all("visits" in d and "q" in d for d in kept)
    assert any(e.kind == "backup" for e in store.iter_events(run_id))
