"""best_of_n: n candidates, each scored (the env's verifier or the model's own score), the best kept."""

from __future__ import annotations

import pytest

from ponder.agents.best_of_n import BestOfN, parse_score
from ponder.backends.scripted import ScriptedBackend
from ponder.envs.game24 import Game24Env
from ponder.envs.got_tasks.sorting_env import SortingEnv
from ponder.errors import ConfigError
from ponder.replay.rerun import areplay
from ponder.runtime.runner import run_agent
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest, Task

PUZZLE = Task(id="p", input="4 9 10 13", metadata={"numbers": [4, 9, 10, 13]})


async def test_the_verifier_picks_the_one_answer_that_holds(store: TraceStore) -> None:
    replies = ["Answer: (4 + 9) + 10 + 13", "Answer: (13 - 9) * (10 - 4)", "Answer: 4 * 9 - 10 - 13"]
    backend = ScriptedBackend([replies], supports_n=True)
    result = await run_agent(BestOfN(n=3), PUZZLE, backend=backend, store=store, env=Game24Env())
    assert result.answer == "(13 - 9) * (10 - 4)" and result.correct is True
    events = list(store.iter_events(result.run_id, with_data=True))
    cands = [e for e in events if e.kind == "candidate"]
    assert [e.score for e in cands] == [0.0, 1.0, 0.0]
    (select,) = [e for e in events if e.kind == "select"]
    assert select.data["chosen"] == 1 and select.data["how"] == "verifier"
    assert (await areplay(store, result.run_id)).identical


async def test_ties_go_to_the_first_candidate_and_sorting_verifies_by_error_count(store: TraceStore) -> None:
    env = SortingEnv()
    task = next(env.tasks())
    good = "Output: " + str(task.expected)
    short = "Output: " + str(task.expected)[:-4] + "]"
    backend = ScriptedBackend([[short, good, good]], supports_n=True)
    result = await run_agent(BestOfN(n=3), task, backend=backend, store=store, env=env)
    assert result.correct is True
    sel = next(e for e in store.iter_events(result.run_id, with_data=True) if e.kind == "select")
    assert sel.data["chosen"] == 1


async def test_self_score_asks_the_model_for_each_candidate(store: TraceStore) -> None:
    def model(req: CompletionRequest) -> str | list[str]:
        text = req.messages[-1].content
        if "Proposed answer" in text:
            return "Score: 9" if "391" in text else "Score: 2/10"
        return ["The answer is 381.", "The answer is 391.", "no idea"][: req.n]

    result = await run_agent(
        BestOfN(n=3, select="self_score"), "What is 17 * 23?", backend=ScriptedBackend(model), store=store
    )
    assert result.answer == "391"
    cands = [e for e in store.iter_events(result.run_id, with_data=True) if e.kind == "candidate"]
    assert [e.status for e in cands] == ["ok", "ok", "invalid"]
    assert (await areplay(store, result.run_id)).identical


async def test_verifier_without_one_is_one_line(store: TraceStore) -> None:
    with pytest.raises(ConfigError, match="select=verifier needs an env that verifies"):
        await run_agent(BestOfN(), "What is 2+2?", backend=ScriptedBackend(["4"]), store=store)


def test_scores_are_read_from_real_replies() -> None:
    assert parse_score("Score: 10") == 1.0
    assert parse_score("I think... **Score: 1**") == 0.0
    assert parse_score("Score: 7/10") == pytest.approx(6 / 9)
    assert parse_score("no score here") is None
    assert parse_score("Score: 42") is None
    # Qwen2.5-Coder-0.5B answers the score prompt with the bare number (tests/recordings/best_of_n_arithmetic.db)
    assert parse_score("1") == 0.0 and parse_score(" 8/10.\n") == pytest.approx(7 / 9)
    assert parse_score("**7**") == pytest.approx(6 / 9)
    assert parse_score("0") is None and parse_score("11") is None and parse_score("1 or 2") is None
