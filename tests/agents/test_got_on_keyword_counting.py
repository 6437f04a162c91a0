"""`got` on keyword counting: the paper's seven graphs run end to end, merges are validated and improved,
every run records the official error count and replays identically."""

from __future__ import annotations

import json

import pytest

from ponder.agents.got.agent import GraphOfThoughts
from ponder.backends.scripted import ScriptedBackend
from ponder.envs.got_tasks.keyword_counting_env import KeywordCountingEnv
from ponder.errors import ConfigError
from ponder.replay.rerun import areplay
from ponder.runtime.runner import run_agent
from ponder.traces.store import TraceStore
from tests.agents._got_counter import counter

ENV = KeywordCountingEnv()
TASK = next(ENV.tasks())


@pytest.mark.parametrize(
    ("preset", "errors", "calls"),
    [
        ("io", 1.0, 1),  # one reply, one country counted once too few
        ("cot", 1.0, 1),
        ("tot", 0.0, 4),  # 20 replies a level: the best is right
        ("tot2", 0.0, 6),
        ("got4", 0.0, 1 + 4 + 3 + 3),  # split, count 4 parts, 3 merges, each merge's first reply improved once
        ("got8", 0.0, 1 + 8 + 7 + 7),
    ],
)
async def test_every_preset_runs_and_records_the_official_error_count(
    store: TraceStore, preset: str, errors: float, calls: int
) -> None:
    backend = ScriptedBackend(counter())
    result = await run_agent(GraphOfThoughts(graph=preset), TASK, backend=backend, store=store, env=ENV)
    run = store.get_run(result.run_id)
    assert run.metrics == {"errors": errors} and result.correct is (errors == 0)
    assert len(backend.requests) == calls


async def test_gotx_counts_sentence_by_sentence_and_merges_what_there_is(store: TraceStore) -> None:
    result = await run_agent(
        GraphOfThoughts(graph="gotx"), TASK, backend=ScriptedBackend(counter()), store=store, env=ENV
    )
    assert result.correct is True
    events = list(store.iter_events(result.run_id, with_data=True))
    parts = [e for e in events if e.kind == "got_thought" and e.data["state"].get("phase") == 1]
    assert len(parts) == len([s for s in str(TASK.input).split(". ") if s])  # one thought per sentence
    ops = [e for e in events if e.kind == "got_op"]
    assert len(ops) == 254  # every operation recorded, the 32 sentence slots' empty ones too


async def test_an_invalid_merge_is_improved_and_recorded(store: TraceStore) -> None:
    result = await run_agent(
        GraphOfThoughts(graph="got4"), TASK, backend=ScriptedBackend(counter()), store=store, env=ENV
    )
    thoughts = [e for e in store.iter_events(result.run_id, with_data=True) if e.kind == "got_thought"]
    merged = [e for e in thoughts if len(e.data["parents"]) == 2]
    assert len(merged) == 3 * 3  # three merges, three replies each, each naming both parts
    invalid = [e for e in thoughts if e.data.get("valid") is False]
    improved = [e for e in thoughts if ".op" in e.data["id"] and e.data.get("valid") is True]
    assert len(invalid) == 3 and len(improved) == 3


async def test_replies_without_a_dict_are_scored_as_the_official_code_scores_them(store: TraceStore) -> None:
    backend = ScriptedBackend(lambda req: "I would rather not count.")
    # the official parser reads such a reply as {}: every country of the passage missing
    result = await run_agent(GraphOfThoughts(graph="io"), TASK, backend=backend, store=store, env=ENV)
    total = sum(json.loads(str(TASK.expected)).values())
    assert result.answer == "{}" and store.get_run(result.run_id).metrics == {"errors": float(total)}
    # a split that does not parse leaves the graph no thought: no answer, the unparseable score
    result = await run_agent(GraphOfThoughts(graph="got4"), TASK, backend=backend, store=store, env=ENV)
    assert result.answer is None and store.get_run(result.run_id).metrics == {"errors": 100.0}


async def test_a_wrong_graph_name_is_one_line(store: TraceStore) -> None:
    with pytest.raises(ConfigError, match=r"unknown graph 'got'.*io, cot, tot, tot2, got4, got8, gotx"):
        await run_agent(GraphOfThoughts(graph="got"), TASK, backend=ScriptedBackend(counter()), store=store, env=ENV)


async def test_got8_run_replays_identically(store: TraceStore) -> None:
    result = await run_agent(
        GraphOfThoughts(graph="got8"), TASK, backend=ScriptedBackend(counter()), store=store, env=ENV
    )
    report = await areplay(store, result.run_id)
    assert report.identical, report.render()
