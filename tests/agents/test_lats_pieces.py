"""LATS's pieces on the search layer, with ScriptedBackend: actions taken in the world, values that
combine the model's score and the env's reward, and reflections on failed trajectories that later
expansions see."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import pytest

from ponder.agents.lats.problem import REFLECT_SYSTEM, VALUE_SYSTEM, LatsProblem, parse_score
from ponder.agents.lats.search import TrajectorySampler, TrajectoryValue
from ponder.agents.lats.world import CodeWorld, EnvWorld
from ponder.backends.scripted import ScriptedBackend
from ponder.envs.code import CodeEnv
from ponder.envs.household import HouseholdEnv, make_task
from ponder.runtime.context import RunContext
from ponder.runtime.runner import run_agent
from ponder.search.config import SearchConfig
from ponder.search.graph import Node, SearchGraph
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest
from tests._probe import Probe

TASK = make_task(0, 1)  # put a tomato in countertop 1
PLAN = HouseholdEnv().solve(TASK)


def role(req: CompletionRequest) -> str:
    system = req.messages[0].content
    return {VALUE_SYSTEM: "value", REFLECT_SYSTEM: "reflect"}.get(system, "act")


def household(max_depth: int = 6) -> LatsProblem:
    return LatsProblem(EnvWorld(HouseholdEnv, TASK), max_depth=max_depth)


def config(n_generate: int = 2, weight: float = 0.5) -> SearchConfig:
    return SearchConfig(
        TrajectorySampler(n_generate, temperature=1.0, max_tokens=128),
        TrajectoryValue(1, weight=weight, temperature=0.0, max_tokens=128),
    )


async def within_run(backend: ScriptedBackend, store: TraceStore, body: Callable[[RunContext], Awaitable[Any]]) -> Any:
    probe = Probe(body)
    await run_agent(probe, TASK, backend=backend, store=store, evaluator=None)
    return probe.out


def test_parse_score() -> None:
    assert parse_score("The thief went the right way.\nScore: 7") == 0.7
    assert parse_score("Thus the correctness score is 10") == 1.0
    assert parse_score("score: 8/10, then Score: 3") == 0.3
    assert parse_score("Score: 42") == 1.0 and parse_score("no idea") is None


async def test_expansion_takes_each_distinct_action_in_the_world(store: TraceStore) -> None:
    replies = iter(
        [
            "Thought: The tomato may be on a countertop.\nAction: env[go to countertop 2]",
            "Thought: Try the countertop.\nAction: go to countertop 2",  # the same action: one child
            "Thought: Hmm.",  # no action: an invalid child
        ]
    )

    def model(req: CompletionRequest) -> str:
        return next(replies) if role(req) == "act" else "Looks right.\nScore: 8"

    async def body(ctx: RunContext) -> tuple[SearchGraph, list[Node]]:
        tree = SearchGraph(household(), ctx, TASK.input)
        kids = await config(n_generate=3).expand(tree, [tree.root])
        return tree, kids

    tree, kids = await within_run(ScriptedBackend(model, supports_n=False), store, body)
    assert len(kids) == 1 and len(tree.children(tree.root)) == 2
    (kid,) = kids
    assert "Observation: You arrive at countertop 2. On the countertop 2, you see a tomato 1" in kid.action
    assert kid.state.actions == ("go to countertop 2",)
    assert kid.value == pytest.approx(0.5 * 0.8 + 0.5 * 0.0)  # weight × score + (1 − weight) × reward
    invalid = tree.children(tree.root)[1]
    assert invalid.status == "invalid" and "no 'Action:' line" in invalid.reason


async def test_a_solved_trajectory_is_worth_one_and_answers_with_its_actions(store: TraceStore) -> None:
    def model(req: CompletionRequest) -> str:
        if role(req) != "act":
            return "Score: 9"
        done = req.messages[-1].content.count("\nAction: ")
        return f"Thought: Next.\nAction: env[{PLAN[done]}]"

    async def body(ctx: RunContext) -> tuple[SearchGraph, Node]:
        tree = SearchGraph(household(), ctx, TASK.input)
        cfg, node = config(n_generate=1), tree.root
        while not tree.world.is_terminal(node.state):
            (node,) = await cfg.expand(tree, [node])
        return tree, node

    tree, last = await within_run(ScriptedBackend(model), store, body)
    assert last.value == 1.0 and last.depth == len(PLAN)
    answer = tree.world.answer(last.state)
    assert answer == "\n".join(PLAN) and HouseholdEnv().evaluate(TASK, answer).correct


async def test_a_failed_trajectory_is_reflected_on_and_later_expansions_see_it(store: TraceStore) -> None:
    backend = ScriptedBackend(
        lambda req: {
            "act": "Thought: Look in the fridge.\nAction: env[go to fridge 1]",
            "reflect": "I went to the fridge, but the tomato was on countertop 2. Look at the countertops first.",
            "value": "Score: 2",
        }[role(req)]
    )

    async def body(ctx: RunContext) -> tuple[SearchGraph, list[Node]]:
        tree = SearchGraph(household(max_depth=1), ctx, TASK.input)
        cfg = config(n_generate=1)
        kids = await cfg.expand(tree, [tree.root])
        return tree, kids

    tree, (kid,) = await within_run(backend, store, body)
    assert kid.value == 0.0  # too long without success: a failed trajectory
    problem = tree.world
    assert isinstance(problem, LatsProblem)
    assert problem.reflections == [
        "I went to the fridge, but the tomato was on countertop 2. Look at the countertops first."
    ]
    (run,) = [r for r in store.list_runs() if r.agent == "probe"]
    kinds = [e.kind for e in store.events(run.id)]
    assert "reflection" in kinds
    reflect_req = next(r for r in backend.requests if role(r) == "reflect")
    assert "Action: env[go to fridge 1]" in reflect_req.messages[-1].content
    # a later expansion (of a new search over the same problem) is prompted with the lesson
    later = problem.messages("")[-1].content
    assert later.startswith("Earlier attempts at this task failed. Lessons from them:\n- I went to the fridge")


async def test_code_world_tests_are_the_feedback(store: TraceStore) -> None:
    task = next(iter(CodeEnv().tasks()))  # def add(a, b)
    wrong = "Thought: Subtract.\nAction: submit\n```python\ndef add(a: int, b: int) -> int:\n    return a - b\n```"
    right = "Thought: Add them.\nAction: submit\n```python\ndef add(a: int, b: int) -> int:\n    return a + b\n```"
    replies = iter([wrong, right])
    backend = ScriptedBackend(
        lambda req: {
            "act": lambda: next(replies),
            "reflect": lambda: "Use + instead of -.",
            "value": lambda: "Score: 3",
        }[role(req)](),
        supports_n=False,
    )

    async def body(ctx: RunContext) -> tuple[SearchGraph, Node, Node]:
        problem = LatsProblem(CodeWorld(CodeEnv(), task), max_depth=3)
        tree = SearchGraph(problem, ctx, task.input)
        cfg = config(n_generate=1)
        (first,) = await cfg.expand(tree, [tree.root])
        (second,) = await cfg.expand(tree, [first])
        return tree, first, second

    tree, first, second = await within_run(backend, store, body)
    assert first.value == pytest.approx(0.5 * 0.3) and "tests failed" in first.action  # scored, and built on
    assert tree.world.reflections == ["Use + instead of -."]  # type: ignore[attr-defined]
    second_prompt = [r for r in backend.requests if role(r) == "act"][1].messages[-1].content
    assert "Use + instead of -." in second_prompt and "tests failed" in second_prompt
    assert second.value == 1.0 and "all tests passed" in second.action
    assert CodeEnv().evaluate(task, tree.world.answer(second.state)).correct


class CountingHousehold(HouseholdEnv):
    """Household that counts the actions stepped on it and its copies."""

    steps: ClassVar[list[str]] = []

    def step(self, action: str) -> tuple[str, float, bool]:
        CountingHousehold.steps.append(action)
        return super().step(action)


async def test_a_child_is_one_env_step_from_its_parent_s_episode_never_a_replay(store: TraceStore) -> None:
    def model(req: CompletionRequest) -> str:
        if role(req) != "act":
            return "Score: 5"
        done = req.messages[-1].content.count("\nAction: ")
        return f"Thought: Next.\nAction: env[{PLAN[done]}]"

    async def body(ctx: RunContext) -> tuple[SearchGraph, Node]:
        problem = LatsProblem(EnvWorld(CountingHousehold, TASK), max_depth=6)
        graph = SearchGraph(problem, ctx, TASK.input)
        cfg, node = config(n_generate=1), graph.root
        while not problem.is_terminal(node.state):
            (node,) = await cfg.expand(graph, [node])
        return graph, node

    CountingHousehold.steps = []
    graph, last = await within_run(ScriptedBackend(model), store, body)
    assert last.value == 1.0 and last.depth == len(PLAN)
    assert CountingHousehold.steps == PLAN, "each action stepped once: no trajectory replayed from the start"
    root_env = graph.root.state.episode
    assert root_env is None  # the start is the world's own episode, which no step changed
    assert graph.world.answer(last.state) == "\n".join(PLAN)
