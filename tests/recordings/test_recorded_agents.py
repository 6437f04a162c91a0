"""Runs recorded from the real local model (Qwen2.5-Coder-0.5B-Instruct), replayed with no model.

Each test replays its recording and fails on any difference from it: another request (the
failure shows the diff), another event, another answer. Re-record them all (tests/recordings/README.md) with:

    python -m tests.recordings.record_real pytest
"""

from __future__ import annotations

from ponder.agents.cot import CoT, Exemplar
from ponder.types import Task


async def test_cot_17x23(ponder_replay) -> None:  # type: ignore[no-untyped-def]
    rec = ponder_replay("cot_17x23")
    result = await rec.run(CoT(max_tokens=192), Task(id="17x23", input="What is 17 * 23?", expected="391"))
    assert result.status == "ok" and result.calls == 1
    assert result.correct is not None


async def test_cot_few_shot(ponder_replay) -> None:  # type: ignore[no-untyped-def]
    rec = ponder_replay("cot_few_shot")
    agent = CoT(
        max_tokens=128,
        exemplars=[
            Exemplar(question="What is 12 + 30?", reasoning="12 + 30 = 42.", answer="42"),
            Exemplar(question="What is 9 * 3?", reasoning="9 * 3 = 27.", answer="27"),
        ],
    )
    result = await rec.run(agent, Task(id="8x7", input="What is 8 * 7?", expected="56"))
    assert result.status == "ok" and result.calls == 1


async def test_cot_word_problem_sampled(ponder_replay) -> None:  # type: ignore[no-untyped-def]
    rec = ponder_replay("cot_word_problem")
    task = Task(
        id="apples",
        input="Tom has 3 bags with 4 apples each. He eats 2 apples. How many apples are left?",
        expected="10",
    )
    result = await rec.run(CoT(max_tokens=192, temperature=0.8), task, seed=1)
    assert result.status == "ok" and result.calls == 1
    # the sample ends '"The answer is 10 apples."' then "This answer is based on the information ...": 10
    assert result.answer == "10"
