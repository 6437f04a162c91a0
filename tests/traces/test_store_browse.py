"""The TraceStore queries the TUI browses with: sorting, ancestors, paging siblings, change markers."""

from __future__ import annotations

import pytest

from ponder.errors import StoreError
from ponder.traces.recorder import Recorder
from ponder.traces.store import MAX_FILTER_CHARS, TraceStore


def _runs(store: TraceStore) -> None:
    for i, (agent, calls) in enumerate([("cot", 3), ("tot", 9), ("react", 1), ("cot", None)]):
        rid = store.create_run(agent=agent, task={"input": f"question {i}"}, run_id=f"r{i}")
        if calls is not None:
            store.add_usage(rid, calls * 10, calls, calls, None)
            store.finish_run(rid, status="ok", answer=str(i))


def test_list_runs_sorts_by_column_and_pages_by_offset(store: TraceStore) -> None:
    _runs(store)
    by_calls = [r.id for r in store.list_runs(sort="calls")]
    assert by_calls == ["r1", "r0", "r2", "r3"]
    assert [r.id for r in store.list_runs(sort="calls", descending=False)] == ["r3", "r2", "r0", "r1"]
    assert [r.id for r in store.list_runs(sort="calls", limit=2, offset=2)] == ["r2", "r3"]
    assert [r.id for r in store.list_runs(sort="task", descending=False)] == ["r0", "r1", "r2", "r3"]
    # a run without an end sorts last by wall time either way
    assert store.list_runs(sort="wall")[-1].id == "r3"
    assert store.list_runs(sort="wall", descending=False)[-1].id == "r3"
    with pytest.raises(StoreError, match="cannot sort runs by"):
        store.list_runs(sort="id; drop table runs")


def test_count_runs_top_level_and_change_marker(store: TraceStore) -> None:
    _runs(store)
    store.create_run(agent="cot", parent_id="r0", run_id="child")
    assert store.count_runs() == 5 and store.count_runs(top_level=True) == 4
    before = store.change_marker()
    assert store.change_marker() == before
    store.add_event("r3", 1, kind="thought", label="t")
    store.flush()  # events are group-committed; last_seq moves on commit
    grown = store.change_marker()
    assert grown != before
    store.finish_run("r3", status="ok")
    assert store.change_marker() != grown


def test_ancestors_and_children_before(store: TraceStore) -> None:
    rec = Recorder.start(store, agent="tot", run_id="t")
    a = rec.event("node", "a")
    b = rec.event("node", "b", parent=a)
    c = rec.event("node", "c", parent=b)
    for i in range(5):
        rec.event("thought", f"s{i}", parent=a)
    assert store.ancestors("t", c) == [a, b, c]
    assert store.ancestors("t", a) == [a]
    with pytest.raises(StoreError):
        store.ancestors("t", 999)
    kids = [e.seq for e in store.children("t", a)]
    assert kids == [2, 4, 5, 6, 7, 8]
    assert [e.seq for e in store.children_before("t", a, 7, limit=2)] == [5, 6]
    assert [e.seq for e in store.children_before("t", None, 2)] == [1]
    assert store.children_before("t", a, 2) == []
    assert [e.seq for e in store.events_by_seq("t", [c, a, 99])] == [a, c]
    assert store.events_by_seq("t", []) == []


def test_experiments_and_tool_calls_for_event(store: TraceStore) -> None:
    exp = store.create_experiment("sweep", exp_id="e1")
    store.create_run(agent="cot", experiment_id=exp, run_id="x")
    (row,) = store.list_experiments()
    assert (row["id"], row["name"], row["runs"]) == ("e1", "sweep", 1)
    store.add_tool_call("x", event_seq=3, tool="search", args={"q": "a"}, result="r", error=None, duration_ms=1.0)
    store.add_tool_call("x", event_seq=4, tool="lookup", args={"q": "b"}, result=None, error="e", duration_ms=1.0)
    (tc,) = store.tool_calls_for_event("x", 3)
    assert tc.tool == "search" and tc.args == {"q": "a"}
    assert store.tool_calls_for_event("x", 5) == []


def test_the_text_filter_matches_literally_in_the_task_text_not_its_json(store: TraceStore) -> None:
    tasks = {
        "pct": "a 100% sure thing",
        "snake": "use snake_case names",
        "x": "snakeXcaseXname and 100 sure",
        "quote": 'she said "hi" twice',
        "slash": "a back\\slash here",
    }
    for rid, text in tasks.items():
        store.create_run(agent="cot", task={"input": text, "metadata": {"input": "a JSON key"}}, run_id=rid)

    def found(text: str) -> set[str]:
        return {r.id for r in store.list_runs(text=text)}

    assert found("%") == {"pct"}
    assert found("_") == {"snake"}
    assert found("snake_case") == {"snake"}
    assert found('"hi"') == {"quote"}
    assert found("back\\slash") == {"slash"}
    assert found("\\") == {"slash"}
    assert found("input") == set()  # a key of the task's JSON, not its text
    assert found("metadata") == set()
    assert found("SNAKE_CASE") == {"snake"}  # case-insensitive, as before


def test_a_long_filter_is_one_clear_error_never_sqlite_s(store: TraceStore) -> None:
    store.create_run(agent="cot", task={"input": "x" * 600}, run_id="long")
    assert [r.id for r in store.list_runs(text="x" * MAX_FILTER_CHARS)] == ["long"]
    with pytest.raises(StoreError, match=f"at most {MAX_FILTER_CHARS}") as e:
        store.list_runs(text="%_" * 25_000)
    assert "\n" not in str(e.value) and "LIKE" not in str(e.value)


def test_a_task_json_that_is_not_json_is_passed_over_by_the_filter(store: TraceStore) -> None:
    store.create_run(agent="cot", task={"input": "fine"}, run_id="ok")
    store.create_run(agent="cot", run_id="bad")
    with store.lock:
        store.conn.execute("update runs set task_json = '{not json' where id = 'bad'")
    assert [r.id for r in store.list_runs(text="fine")] == ["ok"]
