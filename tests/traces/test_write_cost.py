"""What one recorded model call costs the store: its statements and commits, and failed writes undone exactly.

The per-call overhead benchmark (`benchmarks/overhead.py`) times this path; these tests hold its
shape, which timing on a shared machine cannot: a regression that adds statements fails here.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from ponder import CoT, ScriptedBackend, Task
from ponder._util.secrets import REDACTED, redact
from ponder.runtime.runner import run_agent
from ponder.traces.store import TraceStore


def _statements_of_one_cot_run(store: TraceStore) -> list[str]:
    backend = ScriptedBackend(lambda req: "17*23 = 391. The answer is 391.")
    task = Task.from_question("What is 17 * 23?")
    asyncio.run(run_agent(CoT(), task, backend=backend, store=store))  # the first run pays for upkeep
    seen: list[str] = []
    store.conn.set_trace_callback(lambda sql: seen.append(" ".join(sql.split()).lower()[:60]))
    try:
        asyncio.run(run_agent(CoT(), task, backend=backend, store=store))
    finally:
        store.conn.set_trace_callback(None)
    return seen


def test_one_cot_run_is_four_commits_and_few_statements(tmp_path: Path) -> None:
    with TraceStore(tmp_path / "t.db") as store:
        seen = _statements_of_one_cot_run(store)
    # the run row, the events before the call, the call itself, the run's end: each committed as
    # docs/durability.md says, and nothing else (no savepoint with nothing pending, no upkeep per run)
    assert sum(s == "commit" for s in seen) == 4, seen
    assert not [s for s in seen if s.startswith("pragma")], seen
    assert len(seen) <= 28, seen


def test_a_failed_write_with_nothing_pending_is_undone_and_leaves_no_transaction(tmp_path: Path) -> None:
    with TraceStore(tmp_path / "t.db") as store:
        rid = store.create_run(agent="a")
        with pytest.raises(sqlite3.IntegrityError):
            store.create_run(agent="a", run_id=rid)  # the same id twice
        assert not store.conn.in_transaction
        assert store.conn.execute("select count(*) from runs").fetchone()[0] == 1


def test_a_failed_write_keeps_the_pending_events_of_other_runs(tmp_path: Path) -> None:
    with TraceStore(tmp_path / "t.db", flush_interval=60) as store:
        rid = store.create_run(agent="a")
        store.add_event(rid, 1, kind="thought", label="pending")
        with pytest.raises(sqlite3.IntegrityError):
            store.create_run(agent="a", run_id=rid)
        store.flush()
        assert [e.label for e in store.iter_events(rid)] == ["pending"]


def test_a_surrogate_is_stored_as_a_replacement_character(tmp_path: Path) -> None:
    with TraceStore(tmp_path / "t.db") as store:
        rid = store.create_run(agent="a", task={"input": "bad \ud800 byte"})
        assert store.get_run(rid).task["input"] == "bad \ufffd byte"


@pytest.mark.parametrize(
    "text",
    [
        "AUTHORIZATION: Bearer abc123",
        "Proxy-Authorization: Basic Zm9v",
        "OpenAI_API-Key=sk-zzzz",
        "naïve text, then Authorization: Bearer abc123",  # non-ASCII text takes the full scan
        "api-\u212aey: abc123",  # a Kelvin sign matches k case-insensitively
    ],
)
def test_header_values_are_redacted_in_any_case_and_script(text: str) -> None:
    assert redact(text).endswith(REDACTED)
