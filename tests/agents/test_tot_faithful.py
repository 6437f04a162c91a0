"""`faithful=true` for ToT on the Game of 24: the paper's algorithm exactly (every line kept and
valued, the paper's value parsing and sum, top-1 answer from the `Answer:` line only)."""

from __future__ import annotations

import pytest

from ponder.agents.tot import TreeOfThoughts
from ponder.backends.scripted import ScriptedBackend
from ponder.errors import ConfigError
from ponder.traces.events import EventRecord
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest
from tests._game24_model import gpt4_like

PUZZLE = "4 9 10 13"


def _events(store: TraceStore, run_id: str, kind: str) -> list[EventRecord]:
    return [e for e in store.events(run_id, with_data=True) if e.kind == kind]


def test_faithful_takes_the_papers_settings_and_only_its_setting() -> None:
    a = TreeOfThoughts.model_validate({"env": "game24", "faithful": "true"})
    assert (a.search.breadth, a.search.depth, a.n_evaluate, a.max_tokens, a.temperature) == (5, 4, 3, 1000, 0.7)
    assert TreeOfThoughts.model_validate({"env": "game24", "faithful": True, "breadth": 1}).search.breadth == 1
    with pytest.raises(ConfigError, match="use it with env=game24"):
        TreeOfThoughts.model_validate({"faithful": True})
    with pytest.raises(ConfigError, match="search=bfs"):
        TreeOfThoughts.model_validate({"env": "game24", "faithful": True, "search": "dfs"})


async def test_faithful_keeps_and_values_an_invalid_step(store: TraceStore) -> None:
    reply = "13 - 9 = 4 (left: 4 4 10)\n4 + 9 = 14 (left: 10 13 14)\n"  # wrong arithmetic, and a trailing newline
    asked: list[str] = []

    def model(req: CompletionRequest) -> str:
        p = req.messages[-1].content
        asked.append(p.rstrip().split("\n")[-1])
        if p.rstrip().endswith("Possible next steps:"):
            return reply
        return {"4 4 10": "(10 - 4) * 4 = 24\nsure", "10 13 14": "10 + 13 + 14 = 37\nimpossible"}.get(
            asked[-1], "likely"
        )

    agent = TreeOfThoughts(env="game24", faithful=True, depth=1, breadth=3)
    r = await agent.arun(PUZZLE, backend=ScriptedBackend(model), store=store)
    nodes = _events(store, r.run_id, "node")[1:]
    assert [n.summary for n in nodes] == ["13 - 9 = 4 (left: 4 4 10)", "4 + 9 = 14 (left: 10 13 14)", "(empty reply)"]
    assert all(n.status != "invalid" for n in nodes), "faithful keeps every line of the reply, the empty one too"
    assert "10 13 14" in asked, "the invalid step is valued by the model"
    assert [n.score for n in nodes][:2] == [60.0, pytest.approx(0.003)], "the sum of the 3 samples, as the paper"


async def test_faithful_answers_only_from_the_top_states_answer_line(store: TraceStore) -> None:
    def model(req: CompletionRequest) -> str:
        p = req.messages[-1].content
        if "Steps:" in p and not p.rstrip().endswith("Possible next steps:"):
            return "Answer: (13 - 9) * (10 - 4) + 1 = 24"  # 24 is left, but the model's answer is wrong
        if p.rstrip().endswith("Judge:"):
            return "sure"  # and the model judges it right
        return gpt4_like(req)

    r = await TreeOfThoughts(env="game24", faithful=True).arun(PUZZLE, backend=ScriptedBackend(model), store=store)
    assert r.answer == "(13 - 9) * (10 - 4) + 1" and r.correct is False, "no answer built from the steps"
    assert r.metadata["answer_source"] == "answer line"
    (fin,) = [e for e in _events(store, r.run_id, "evaluation") if e.label == "finalists"]
    assert fin.data is not None and len(fin.data["finalists"]) == 5
    assert fin.data["any_correct"] is False and fin.score == 0.0
    # the default mode builds the answer from the checked steps instead, and says so
    d = await TreeOfThoughts(env="game24").arun(PUZZLE, backend=ScriptedBackend(model), store=store)
    assert d.correct is True and d.metadata["answer_source"] == "steps"


async def test_faithful_on_a_gpt4_like_model_records_every_finalist(store: TraceStore) -> None:
    r = await TreeOfThoughts(env="game24", faithful=True).arun(PUZZLE, backend=ScriptedBackend(gpt4_like), store=store)
    assert r.correct is True
    (fin,) = [e for e in _events(store, r.run_id, "evaluation") if e.label == "finalists"]
    rows = fin.data["finalists"]  # type: ignore[index]
    assert len(rows) == 5 and rows[0]["answer"] == r.answer and rows[0]["correct"] is True
    values = [row["value"] for row in rows]
    assert values == sorted(values, reverse=True), "the finalists in the paper's order, best first"
