"""The one way an env reaches an agent: `ctx.env`, resolved by `ponder.runtime.env.resolve_env` for every
run (the agent's own option, else the run's env, else the env the task names), and for an inner agent a
composite runs in its own run."""

from __future__ import annotations

from typing import ClassVar

import pytest

from ponder.agents.cot import CoT
from ponder.agents.self_consistency import SelfConsistency
from ponder.backends.scripted import ScriptedBackend
from ponder.envs.game24.env import Game24Env
from ponder.envs.household import HouseholdEnv, make_task
from ponder.errors import ConfigError
from ponder.runtime.context import RunContext
from ponder.runtime.env import episode_env, resolve_env
from ponder.runtime.runner import run_agent
from ponder.traces.store import TraceStore
from ponder.types import Result, Task

HOUSE = make_task(0, 1)  # names its env: metadata["env"] = "household"
PLAIN = Task(id="plain", input="?")


class Seen:
    """Answers with the name of the env its context has."""

    name: ClassVar[str] = "seen"

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        return Result(answer=ctx.env.name if ctx.env is not None else "-")


def test_precedence_own_option_then_run_env_then_the_task_s() -> None:
    run_env = Game24Env()
    assert resolve_env(CoT(env="household"), PLAIN, run_env).name == "household"  # type: ignore[union-attr]
    assert resolve_env(CoT(), PLAIN, run_env) is run_env
    assert resolve_env(CoT(), HOUSE, None).name == "household"  # type: ignore[union-attr]
    assert resolve_env(Seen(), HOUSE, run_env) is run_env  # an agent with no env option of its own
    assert resolve_env(Seen(), PLAIN, None) is None
    with pytest.raises(ConfigError, match="unknown env 'nowhere'"):
        resolve_env(CoT(env="nowhere"), PLAIN, None)


async def test_the_runner_resolves_ctx_env_for_every_run(store: TraceStore) -> None:
    backend = ScriptedBackend([])
    assert (await run_agent(Seen(), HOUSE, backend=backend, store=store)).answer == "household"
    assert (await run_agent(Seen(), PLAIN, backend=backend, store=store, env=Game24Env())).answer == "game24"
    assert (await run_agent(Seen(), PLAIN, backend=backend, store=store)).answer == "-"


async def test_a_composite_resolves_its_inner_agent_s_env(store: TraceStore) -> None:
    # SC's inner CoT named game24 in its own config: its paths get Game of 24's prompt, whatever the run's env
    sc = SelfConsistency(k=2, inner_config={"env": "game24"}, use_n=False)
    backend = ScriptedBackend(["(4 + 8) * (6 - 4) = 24\nAnswer: (4 + 8) * (6 - 4) = 24"] * 2)
    task = Task(id="p", input="4 4 6 8", metadata={"numbers": [4, 4, 6, 8]})
    result = await run_agent(sc, task, backend=backend, store=store, env=HouseholdEnv())
    assert "Input: 4 4 6 8" in backend.requests[0].messages[-1].content  # game24's own CoT prompt
    assert result.answer is not None


def test_an_interactive_env_is_stepped_on_a_copy() -> None:
    env = HouseholdEnv()
    env.reset(HOUSE)
    copy = episode_env(env)
    copy.step("go to countertop 1")
    assert copy.world is not env.world and env.world is not None and env.world.at is None


def test_abilities_are_declared_and_typed() -> None:
    from ponder.envs.abilities import as_interactive, as_searchable, as_test_runner, as_verifier
    from ponder.envs.code import CodeEnv

    house, game, code = HouseholdEnv(), Game24Env(), CodeEnv()
    assert as_interactive(house) is house and as_interactive(game) is None and as_interactive(None) is None
    assert as_searchable(game) is game and as_searchable(house) is None
    assert as_test_runner(code) is code and as_test_runner(game) is None
    assert as_verifier(game) is game and as_verifier(house) is None
