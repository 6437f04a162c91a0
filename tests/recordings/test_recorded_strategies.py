"""Runs of self-consistency, Tree-of-Thoughts, ReAct and Reflexion recorded from the real local
model (Qwen2.5-Coder-0.5B-Instruct), replayed with no model; each test skips where its strategy is
not installed. Re-record them all (tests/recordings/README.md) with:

    python -m tests.recordings.record_real pytest
"""

from __future__ import annotations

from typing import Any

import pytest

from ponder.types import Task

Q17 = Task(id="17x23", input="What is 17 * 23?", expected="391")


def strategy(module: str, name: str) -> Any:
    return getattr(pytest.importorskip(module), name)


async def test_self_consistency_one_request(ponder_replay) -> None:  # type: ignore[no-untyped-def]
    sc = strategy("ponder.agents.self_consistency", "SelfConsistency")
    rec = ponder_replay("sc_k3_n")
    result = await rec.run(sc(k=3, inner_config={"max_tokens": 128}), Q17)
    assert result.status == "ok" and result.calls == 1  # the local backend answers n=3 at once


async def test_self_consistency_concurrent_paths(ponder_replay) -> None:  # type: ignore[no-untyped-def]
    sc = strategy("ponder.agents.self_consistency", "SelfConsistency")
    rec = ponder_replay("sc_k3_paths")
    result = await rec.run(sc(k=3, use_n=False, inner_config={"max_tokens": 128}), Q17)
    assert result.status == "ok" and result.calls == 3


async def test_tot_game24(ponder_replay) -> None:  # type: ignore[no-untyped-def]
    tot = strategy("ponder.agents.tot", "TreeOfThoughts")
    rec = ponder_replay("tot_game24")
    task = Task(id="4-9-10-13", input="4 9 10 13", metadata={"numbers": [4, 9, 10, 13]})
    result = await rec.run(tot(env="game24", breadth=2, depth=2, n_evaluate=2, max_tokens=128), task)
    # every step the 0.5B proposes lists the wrong numbers left: all invalid, no 24 reached
    assert result.status == "error" and result.answer is None and result.calls == 1
    assert result.error == "no answer: the tot search reached no state with an answer"


async def test_tot_generic_bfs_vote(ponder_replay) -> None:  # type: ignore[no-untyped-def]
    tot = strategy("ponder.agents.tot", "TreeOfThoughts")
    rec = ponder_replay("tot_generic_vote")
    agent = tot(breadth=2, depth=3, n_propose=2, method_evaluate="vote", n_vote=2, max_tokens=64)
    result = await rec.run(agent, Q17)
    # the 0.5B's first proposal is "Answer: 411": one candidate, so no vote call and no frontier
    assert result.status == "ok" and result.calls == 1 and result.answer == "411"


async def test_react_calculator(ponder_replay) -> None:  # type: ignore[no-untyped-def]
    react = strategy("ponder.agents.react", "ReAct")
    rec = ponder_replay("react_calculator")
    task = Task(id="1234x5678", input="What is 1234 * 5678?", expected="7006652")
    result = await rec.run(react(tools=["calculator"], max_steps=3, max_tokens=96), task)
    # the 0.5B calls the calculator, then copies the prompt's example ("Rounded down, that is ...") with
    # no action, then calls it again: no finish[...] within 3 steps
    assert result.status == "error" and result.answer is None and result.correct is False
    assert result.error == "no answer: ReAct stopped after 3 steps without finish[answer]"


async def test_react_search(ponder_replay) -> None:  # type: ignore[no-untyped-def]
    react = strategy("ponder.agents.react", "ReAct")
    rec = ponder_replay("react_search")
    task = Task(id="byron", input="Who was the father of Ada Lovelace?", expected="Lord Byron")
    result = await rec.run(react(tools=["search", "lookup"], max_steps=3, max_tokens=96), task)
    # the 0.5B looks up, then searches for "Ada Lovelace's father" twice: no finish[...] within 3 steps
    assert result.status == "error" and result.answer is None
    assert result.error == "no answer: ReAct stopped after 3 steps without finish[answer]"


async def test_reflexion_household(ponder_replay) -> None:  # type: ignore[no-untyped-def]
    reflexion = strategy("ponder.agents.reflexion", "Reflexion")
    household = pytest.importorskip("ponder.envs.household")
    rec = ponder_replay("reflexion_household")
    agent = reflexion(env="household", max_trials=2, max_tokens=64, inner_config={"max_steps": 2, "max_tokens": 64})
    result = await rec.run(agent, household.make_task(0, 1))
    assert result.status == "ok"
