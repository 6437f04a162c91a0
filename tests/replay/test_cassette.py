"""Recordings as files: finalized SQLite, and the JSONL form that diffs in review."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.agents.cot import CoT
from ponder.backends.scripted import ScriptedBackend
from ponder.errors import StoreError
from ponder.replay.cassette import dump_jsonl, finalize_recording, load_jsonl
from ponder.replay.rerun import areplay
from ponder.runtime.runner import run_agent
from ponder.traces.store import TraceStore


async def test_jsonl_round_trip_replays_identically(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "rec.db")
    result = await run_agent(CoT(), "What is 2 + 2?", backend=ScriptedBackend(["The answer is 4."]), store=store)
    path = dump_jsonl(store, tmp_path / "rec.jsonl")
    loaded = load_jsonl(path)
    assert loaded.get_run(result.run_id).answer == "4"
    assert loaded.get_run(result.run_id).model_dump(exclude={"status"}) == store.get_run(result.run_id).model_dump(
        exclude={"status"}
    )
    assert [e.summary for e in loaded.events(result.run_id)] == [e.summary for e in store.events(result.run_id)]
    report = await areplay(loaded, result.run_id)
    assert report.identical, report.render()
    assert '"host": null' in path.read_text()


def test_bad_jsonl_files_are_clear_errors(tmp_path: Path) -> None:
    not_one = tmp_path / "x.jsonl"
    not_one.write_text('{"hello": 1}\n')
    with pytest.raises(StoreError, match="not a ponder recording"):
        load_jsonl(not_one)
    future = tmp_path / "f.jsonl"
    future.write_text('{"format": "ponder-recording", "schema": ["m001_initial", "m999_future"]}\n')
    with pytest.raises(StoreError, match="newer ponder"):
        load_jsonl(future)
    broken = tmp_path / "b.jsonl"
    broken.write_text('{"format": "ponder-recording", "schema": []}\n{"table": "runs"\n')
    with pytest.raises(StoreError, match=r"b.jsonl:2: not a recording line"):
        load_jsonl(broken)


async def test_finalized_recording_stands_alone_and_is_small(tmp_path: Path) -> None:
    path = tmp_path / "rec.db"
    store = TraceStore(path)
    await run_agent(CoT(), "What is 2 + 2?", backend=ScriptedBackend(["The answer is 4."]), store=store)
    finalize_recording(store)
    assert not Path(f"{path}-wal").exists() and not Path(f"{path}-shm").exists()
    assert path.stat().st_size < 40_000
    again = TraceStore(path, create=False)
    assert again.list_runs()[0].answer == "4"
    again.close()
