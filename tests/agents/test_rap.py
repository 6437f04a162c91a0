"""RAP on Blocksworld: the model is the world model; MCTS with RAP's rewards finds a plan the validator accepts."""

from __future__ import annotations

import pytest

from ponder.agents.rap.agent import RAP
from ponder.agents.rap.bw_text import ChangeError, apply_change, generate_all_actions
from ponder.backends.scripted import ScriptedBackend
from ponder.envs.blocksworld.domain import parse_action
from ponder.envs.blocksworld.env import BlocksworldEnv
from ponder.errors import ConfigError
from ponder.replay.rerun import areplay
from ponder.runtime.runner import run_agent
from ponder.traces.store import TraceStore
from tests.agents._bw_model import bw_model


def _task(steps: int = 2, i: int = 0):
    env = BlocksworldEnv(steps=steps)  # type: ignore[arg-type]
    task = list(env.tasks())[i]
    gold = [a.text() for a in (parse_action(line) for line in str(task.expected).splitlines()) if a is not None]
    return env, task, gold


@pytest.mark.parametrize("steps", [2, 4])
async def test_rap_finds_a_plan_the_validator_accepts(store: TraceStore, steps: int) -> None:
    env, task, gold = _task(steps)
    agent = RAP(n_iters=6, depth_limit=steps + 2)
    result = await run_agent(agent, task, backend=ScriptedBackend(bw_model(gold)), store=store, env=env)
    assert result.correct is True, result.answer
    run = store.get_run(result.run_id)
    assert run.metrics and run.metrics["goals_met"] == 1.0
    events = list(store.iter_events(result.run_id, with_data=True))
    rewards = [e for e in events if e.kind == "rap_reward"]
    assert rewards and all(e.data["how"] == "logprob" for e in rewards)
    assert any(e.kind == "backup" for e in events)
    assert (await areplay(store, result.run_id)).identical


async def test_without_logprobs_the_reward_says_it_used_sample_frequency(store: TraceStore) -> None:
    env, task, gold = _task(2)
    backend = ScriptedBackend(bw_model(gold, logprobs=False))
    result = await run_agent(RAP(n_iters=4, depth_limit=4), task, backend=backend, store=store, env=env)
    hows = {e.data["how"] for e in store.iter_events(result.run_id, with_data=True) if e.kind == "rap_reward"}
    assert hows == {"frequency"}
    assert result.correct is True


async def test_a_world_model_that_talks_nonsense_is_recorded_not_a_crash(store: TraceStore) -> None:
    env, task, _ = _task(2)
    backend = ScriptedBackend(lambda req: "I do not know.")
    result = await run_agent(RAP(n_iters=3, depth_limit=3), task, backend=backend, store=store, env=env)
    assert result.correct is not True
    assert result.status in ("ok", "error")


async def test_rap_needs_the_blocksworld_env(store: TraceStore) -> None:
    with pytest.raises(ConfigError, match="rap plans in Blocksworld"):
        await run_agent(RAP(), "stack things", backend=ScriptedBackend(["x"]), store=store)


def test_official_state_text_helpers() -> None:
    state = (
        "the blue block is clear, the hand is empty, the blue block is on top of the red block "
        "and the red block is on the table."
    )
    assert generate_all_actions(state) == ["unstack the blue block from on top of the red block"]
    after = apply_change(
        "The hand was empty and is now holding the blue block, the blue block was on top of the red block and is "
        "now in the hand, the blue block is no longer clear, and the red block is now clear.",
        state,
    )
    assert "the hand is holding the blue block" in after and "the red block is clear" in after
    with pytest.raises(ChangeError):
        apply_change("The green block melts.", state)
