"""Every composite strategy (self-consistency, best-of-N, Reflexion, plan_execute's executor over
every built-in agent and a plugin agent; LATS) replays identical at concurrency 1 and 8: nothing
recorded depends on how concurrent branches were scheduled.

Live, the scripted model answers after a random delay (so branches finish in a different order on
every run); in replay the recording answers at once (so each branch runs to its end before the next
starts). Any event number, timing or order of completion that leaked into the recorded data would
show up as a divergence.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, ClassVar

import pytest

from ponder import registry
from ponder.backends.scripted import ScriptedBackend
from ponder.envs.base import Env
from ponder.envs.blocksworld.env import BlocksworldEnv
from ponder.envs.got_tasks.sorting_env import SortingEnv
from ponder.errors import PonderError
from ponder.replay.rerun import areplay
from ponder.runtime.base import BaseAgent
from ponder.runtime.context import RunContext
from ponder.runtime.runner import run_agent
from ponder.traces.store import TraceStore, new_id
from ponder.types import CompletionRequest, Message, Result, Task
from tests.agents._bw_model import bw_model
from tests.agents._got_sorter import sorter
from tests.agents._gsm_model import BAKER_PLAN, BAKER_WRONG, gsm_model
from tests.recordings.record_scripted import BAKER_TASK, BW_GOLD, BW_TASK

TASK = Task(id="t", input="What is 6 * 7?", expected="42")
BUILT_IN = [
    "cot",
    "react",
    "tot",
    "mcts",
    "beam",
    "reflexion",
    "plan_execute",
    "lats",
    "self_consistency",
    "got",
    "best_of_n",
    "rap",
    "rap_gsm8k",
    "llm_compiler",
]
PLUGIN = "fanout_plugin"
# each agent small, so the whole grid runs in seconds
SMALL: dict[str, dict[str, Any]] = {
    "cot": {},
    "react": {"max_steps": 3},
    "tot": {"breadth": 2, "depth": 1},
    "mcts": {"n_iterations": 2, "depth": 1},
    "beam": {"width": 2, "depth": 1},
    "reflexion": {"inner": "cot", "max_trials": 2},
    "plan_execute": {"executor": "cot", "max_steps": 4, "max_replans": 1},
    "lats": {"n_iterations": 2, "n_generate": 2, "max_depth": 2},
    "self_consistency": {"k": 3, "use_n": False},
    "got": {"graph": "got"},
    "best_of_n": {"n": 2, "select": "self_score"},
    "rap": {"n_iters": 2, "depth_limit": 2},
    "rap_gsm8k": {"n_iters": 2, "depth_limit": 2, "n_actions": 2, "n_confidence": 2},
    "llm_compiler": {"max_replans": 1},
    PLUGIN: {"width": 3},
}
# the option that sets how much of an agent runs at once
CONCURRENCY = {
    "self_consistency": "concurrency",
    "plan_execute": "parallel",
    "mcts": "parallel",
    "lats": "parallel",
    "llm_compiler": "parallel",
}


class FanOut(BaseAgent):
    """A plugin strategy as a user writes one: `width` concurrent branches, one call each."""

    name: ClassVar[str] = PLUGIN
    width: int = 3
    temperature: float = 0.0

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        async def one(i: int) -> str:
            branch = ctx.branch(i)
            req = CompletionRequest(messages=(Message.user(f"{task.input}\n(part {i})"),), temperature=self.temperature)
            c = await branch.complete(req, label=f"part {i}")
            branch.event("thought", f"part {i}", c.text, data={"text": c.text})
            return c.text

        texts = await asyncio.gather(*(one(i) for i in range(self.width)))
        answers = [t.rsplit("Answer:", 1)[-1].strip() for t in texts]
        return Result(answer=max(sorted(answers), key=answers.count))


def model(seed: int, task_model: Callable[[CompletionRequest], Any] | None = None) -> ScriptedBackend:
    """Answers every strategy's prompts plausibly (wrong until a reflection says how), after a random delay.

    task_model: answers the prompts of the task itself (Graph of Thoughts' sorting prompts).
    """
    rng = random.Random(seed)

    async def answer(req: CompletionRequest) -> Any:
        await asyncio.sleep(rng.random() / 500)
        first, last = req.messages[0].content, req.messages[-1].content
        if first.startswith("You plan how to reach an objective"):
            return "1. Work out 6 times 7.\n2. Work out 7 times 6.\n3. Say the product. (after 1, 2)"
        if first.startswith("You check progress on a plan"):
            return "FINISH: 42" if "Step 3" in last else "CONTINUE"
        if first.startswith("Given a question, create a plan"):  # LLMCompiler's planner, then its joiner
            return '1. calculator("6 * 7")\n2. calculator("$1 - 1 + 1")\n3. join()'
        if first.startswith("Answer the question from the results"):
            return "Action: Finish(42)"
        if first.startswith("You give the final answer"):
            return "Answer: 42"
        if first.startswith("You are an advanced reasoning agent"):
            return "I answered 41, one short. Next time I should multiply carefully."
        if "Proposed answer:" in last:  # best-of-N's self-score
            return "Score: 7"
        if task_model is not None:
            return task_model(req)
        if "evaluate" in last.lower() or "score" in last.lower():
            return "likely\nScore: 7"
        v = "42" if any("multiply carefully" in m.content for m in req.messages) else "41"
        return f"Thought: 6 times 7.\nAction: finish[{v}]\nThe answer is {v}.\nAnswer: {v}"

    return ScriptedBackend(answer, supports_n=False)


def at(name: str, config: dict[str, Any], concurrency: int) -> dict[str, Any]:
    key = CONCURRENCY.get(name)
    return {**config, key: concurrency} if key else dict(config)


def composites(concurrency: int) -> list[tuple[str, dict[str, Any]]]:
    """(agent, config) of SC∘X, best-of-N∘X, Reflexion∘X and plan_execute with executor X for every X, and LATS."""
    grid = []
    for inner in [*BUILT_IN, PLUGIN]:
        cfg = at(inner, SMALL[inner], concurrency)
        if inner != "self_consistency":
            sc = {"k": 3, "inner": inner, "inner_config": cfg, "use_n": False}
            grid.append(("self_consistency", at("self_consistency", sc, concurrency)))
        if inner not in ("best_of_n", "self_consistency"):  # best-of-N samples through self-consistency
            grid.append(("best_of_n", {"n": 3, "select": "self_score", "inner": inner, "inner_config": cfg}))
        if inner != "reflexion":
            grid.append(("reflexion", {"inner": inner, "inner_config": cfg, "max_trials": 2}))
        if inner != "plan_execute":
            pe = {"executor": inner, "executor_config": cfg, "max_steps": 4, "max_replans": 1}
            grid.append(("plan_execute", at("plan_execute", pe, concurrency)))
    grid.append(("lats", at("lats", SMALL["lats"], concurrency)))
    return grid


@pytest.fixture(autouse=True)
def _plugin_registered() -> None:
    registry.register("agents", PLUGIN, FanOut)


@pytest.mark.parametrize("concurrency", [1, 8])
async def test_every_composite_replays_identical(concurrency: int, store: TraceStore) -> None:
    diverged = []
    sorting = SortingEnv(size=32)  # type: ignore[arg-type]
    blocks = BlocksworldEnv(steps=2)  # type: ignore[arg-type]
    for i, (name, config) in enumerate(composites(concurrency)):
        agent = registry.build("agents", name, config)
        # Graph of Thoughts needs its env (sorting) and a model that sorts
        on_got = "got" in (config.get("inner"), config.get("executor"))
        on_rap = "rap" in (config.get("inner"), config.get("executor"))
        on_gsm = "rap_gsm8k" in (config.get("inner"), config.get("executor"))
        env: Env | None = sorting if on_got else blocks if on_rap else None
        task = next(sorting.tasks()) if on_got else BW_TASK if on_rap else BAKER_TASK if on_gsm else TASK
        task_model = sorter() if on_got else bw_model(BW_GOLD) if on_rap else None
        backend = model(seed=i, task_model=gsm_model(BAKER_PLAN, wrong=BAKER_WRONG) if on_gsm else task_model)
        run_id = new_id()
        # a run that fails (plan_execute's executor `got` gets no env) must replay its failure identically
        with contextlib.suppress(PonderError, ExceptionGroup):
            await run_agent(agent, task, backend=backend, store=store, env=env, run_id=run_id)
        report = await areplay(store, run_id)
        inner = config.get("inner", config.get("executor", ""))
        if not report.identical:
            diverged.append(f"{name}∘{inner}: {report.render()}")
    assert not diverged, f"{len(diverged)} diverged:\n" + "\n\n".join(diverged)


def test_the_grid_covers_every_built_in_agent() -> None:
    assert set(BUILT_IN) == {ep.name for ep in entry_points(group="ponder.agents")}  # ponder's own
    assert len(composites(1)) == 4 * (len(BUILT_IN) + 1) - 5 + 1
