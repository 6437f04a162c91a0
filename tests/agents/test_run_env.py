"""`ctx.env`: the env a run was started on reaches every context of the run, and agents use it
when their own `env` option is not set."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

import pytest

from ponder import registry
from ponder.agents.cot import CoT
from ponder.agents.react import ReAct
from ponder.agents.self_consistency import SelfConsistency
from ponder.agents.tot import TreeOfThoughts
from ponder.backends.scripted import ScriptedBackend
from ponder.envs.base import Env, Evaluation, env_options
from ponder.envs.game24.env import Game24Env
from ponder.envs.household import HouseholdEnv, make_task
from ponder.errors import ConfigError
from ponder.experiments.bench import abench
from ponder.replay.fork import afork
from ponder.replay.rerun import areplay
from ponder.runtime.context import RunContext
from ponder.runtime.runner import run_agent
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest, Result, Task
from tests._toys import ToyEnv

PUZZLE = Task(id="4-9-10-13", input="4 9 10 13", metadata={"numbers": [4, 9, 10, 13]})


class EnvProbe:
    """Answers with the name of the env each of its contexts sees."""

    name: ClassVar[str] = "env_probe"

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        def seen(c: RunContext) -> str:
            return c.env.name if c.env is not None else "-"

        if task.id == "child":
            return Result(answer=seen(ctx))
        child = await ctx.run_child(EnvProbe(), Task(id="child", input="?"), "kid")
        places = [ctx, ctx.branch(1), ctx.within(None), ctx.with_tools({}), ctx.with_env(None)]
        return Result(answer=" ".join([*(seen(c) for c in places), f"child:{child.answer}"]))


@pytest.fixture(autouse=True)
def _registered() -> None:
    registry.register("agents", "env_probe", EnvProbe)
    registry.register("envs", "toy", ToyEnv)


async def test_the_run_env_reaches_branches_nested_contexts_and_child_runs(store: TraceStore) -> None:
    env = ToyEnv()
    r = await run_agent(EnvProbe(), "q", backend=ScriptedBackend([]), store=store, env=env)
    assert r.answer == "toy toy toy toy - child:toy"
    bare = await run_agent(EnvProbe(), "q", backend=ScriptedBackend([]), store=store)
    assert bare.answer == "- - - - - child:-"


async def test_bench_gives_its_env_and_replay_gives_it_back(store: TraceStore) -> None:
    exp = await abench("env_probe", "toy", backend=ScriptedBackend([]), store=store, n=1)
    (row,) = exp.results
    assert row.answer == "toy toy toy toy - child:toy"
    report = await areplay(store, row.run_id)
    assert report.identical, report.render()
    assert report.answer == row.answer


def oracle_react(env: HouseholdEnv, task: Task) -> ScriptedBackend:
    plan = env.solve(task)
    steps = iter(plan)
    return ScriptedBackend(lambda req: f"Thought: next.\nAction: {next(steps)}", supports_tools=False)


async def test_react_acts_in_a_copy_of_the_run_env_with_the_same_requests_as_its_option(store: TraceStore) -> None:
    task = make_task(3, 2)
    shared = HouseholdEnv()
    by_option = oracle_react(HouseholdEnv(), task)
    a = await run_agent(ReAct(env="household", max_steps=30), task, backend=by_option, store=store)
    by_ctx = oracle_react(HouseholdEnv(), task)
    b = await run_agent(ReAct(max_steps=30), task, backend=by_ctx, store=store, env=shared)
    assert a.correct is True and b.correct is True and b.answer == a.answer
    assert [r.key() for r in by_ctx.requests] == [r.key() for r in by_option.requests]
    assert shared.world is None, "the run's env is shared (a bench's tasks run concurrently): it is never stepped"


async def test_cot_and_self_consistency_take_the_run_env_prompt(store: TraceStore) -> None:
    env = Game24Env()
    cot = ScriptedBackend(["(13 - 9) * (10 - 4) = 24\nAnswer: (13 - 9) * (10 - 4) = 24"])
    r = await run_agent(CoT(), PUZZLE, backend=cot, store=store, env=env)
    assert cot.requests[0].messages[-1].content == env.cot_prompt(PUZZLE)
    assert r.answer is not None and r.answer == env.extract_answer("Answer: (13 - 9) * (10 - 4) = 24")
    sc = ScriptedBackend(lambda req: "Answer: (13 - 9) * (10 - 4) = 24")
    await run_agent(SelfConsistency(k=2, use_n=False), PUZZLE, backend=sc, store=store, env=env)
    assert {r.messages[-1].content for r in sc.requests} == {env.cot_prompt(PUZZLE)}
    # its own option wins over the run's env
    own = ScriptedBackend(["The answer is 24."])
    await run_agent(CoT(env=None, style="cot"), "What is 4 * 6?", backend=own, store=store, env=ToyEnv())
    assert "Game of 24" not in own.requests[0].messages[-1].content


async def test_tree_search_takes_the_run_envs_problem(store: TraceStore) -> None:
    settings = {"method_generate": "propose", "method_evaluate": "value", "n_evaluate": 1, "breadth": 1, "depth": 1}

    def model(req: CompletionRequest) -> str:
        return "sure" if "evaluate" in req.messages[-1].content.lower() else "4 + 9 = 13 (left: 10 13 13)"

    by_option, by_ctx = ScriptedBackend(model), ScriptedBackend(model)
    await run_agent(TreeOfThoughts(env="game24", **settings), PUZZLE, backend=by_option, store=store)
    await run_agent(TreeOfThoughts(**settings), PUZZLE, backend=by_ctx, store=store, env=Game24Env())
    assert [r.key() for r in by_ctx.requests] == [r.key() for r in by_option.requests]
    # an env with no tree-search problem leaves the generic prompts
    generic, plain = ScriptedBackend(model), ScriptedBackend(model)
    await run_agent(TreeOfThoughts(**settings), "What is 2+2?", backend=generic, store=store)
    await run_agent(TreeOfThoughts(**settings), "What is 2+2?", backend=plain, store=store, env=ToyEnv())
    assert [r.key() for r in plain.requests] == [r.key() for r in generic.requests]


async def test_the_run_env_is_recorded_and_replay_rebuilds_it(store: TraceStore) -> None:
    task = make_task(3, 2)
    r = await run_agent(ReAct(max_steps=30), task, backend=oracle_react(HouseholdEnv(), task), store=store,
                        env=HouseholdEnv())  # fmt: skip
    assert r.correct is True
    run = store.get_run(r.run_id)
    household = {"n_tasks": 6, "seed": 0, "difficulty": None}  # every option, defaults included
    assert run.env == {"name": "household", "config": household} and run.experiment_id is None
    report = await areplay(store, r.run_id)  # no env given: the recorded one is rebuilt
    assert report.identical, report.render()
    bare = await run_agent(ReAct(max_steps=1), "q", backend=ScriptedBackend(["Action: finish[1]"]), store=store)
    assert store.get_run(bare.run_id).env is None


async def test_an_env_run_is_scored_by_the_env_by_default(store: TraceStore) -> None:
    backend = ScriptedBackend(["Answer: (13 - 9) * (10 - 4) = 24"])
    r = await run_agent(CoT(), PUZZLE, backend=backend, store=store, env=Game24Env())
    assert r.correct is True and r.score == 1.0  # no expected answer: Game of 24 checks the expression


class Shifted(Env):
    """An env that is not a pydantic model: its options are its constructor's arguments."""

    name: ClassVar[str] = "shifted"

    def __init__(self, shift: int = 0, notes: str | os.PathLike[str] | None = None) -> None:
        self.shift = shift

    def evaluate(self, task: Task, answer: str | None) -> Evaluation:
        ok = answer is not None and task.expected is not None and answer == str(int(task.expected) + self.shift)
        return Evaluation(correct=ok, score=1.0 if ok else 0.0)


async def test_a_plain_envs_options_are_recorded_and_replay_and_fork_rebuild_it(store: TraceStore) -> None:
    registry.register("envs", "shifted", Shifted)
    task = Task(id="t", input="What is 2 + 2?", expected="4")
    r = await run_agent(CoT(), task, backend=ScriptedBackend(["The answer is 5."]), store=store,
                        env=Shifted(1, notes=Path("notes.txt")))  # fmt: skip
    assert r.correct is True  # 4 shifted by one
    assert store.get_run(r.run_id).env == {"name": "shifted", "config": {"shift": 1, "notes": "notes.txt"}}
    report = await areplay(store, r.run_id)  # rebuilt with shift=1, not the default 0
    assert report.identical, report.render()
    call = next(e for e in store.iter_events(r.run_id) if e.kind == "llm_call")
    fork = await afork(store, r.run_id, at=call.seq, edit="The answer is 4.", backend=ScriptedBackend([]))
    assert fork.answer == "4" and fork.correct is False  # judged with shift=1
    defaults = await run_agent(CoT(), task, backend=ScriptedBackend(["The answer is 4."]), store=store, env=Shifted())
    assert store.get_run(defaults.run_id).env == {"name": "shifted", "config": {"shift": 0, "notes": None}}


def test_options_that_are_not_plain_data_are_refused_when_recorded() -> None:
    with pytest.raises(ConfigError, match=r"env .shifted. option .notes. is a object, not plain data"):
        env_options(Shifted(notes=object()))  # type: ignore[arg-type]
