"""`ponder show` streams a run (Markdown and JSON) and pages it with --from/--limit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder.cli import app
from ponder.export.document import export_run, iter_json
from ponder.traces.recorder import Recorder
from ponder.traces.store import TraceStore

runner = CliRunner()


@pytest.fixture
def long_run(tmp_path: Path) -> tuple[Path, str]:
    db = tmp_path / "long.db"
    with TraceStore(db) as store:
        rec = Recorder.start(store, agent="react", task={"input": "long"}, run_id="long1")
        for i in range(1200):
            call = rec.event("llm_call", f"step {i}", f"Thought {i}")
            rec.llm_call(
                event_seq=call,
                request_key=f"k{i}",
                branch="",
                sample_index=0,
                request={"messages": [{"role": "user", "content": f"q{i}"}]},
                response={"choices": []},
                prompt_tokens=1,
                completion_tokens=1,
                latency_ms=1.0,
                origin="live",
            )
            rec.event("observation", "observation", f"seen {i}", parent=call)
        child = store.create_run(agent="cot", parent_id="long1", run_id="child1")
        Recorder(store, child).event("thought", "inside the trial")
        rec.finish(status="ok", answer="done")
    return db, "long1"


def test_show_json_streams_the_whole_run(long_run: tuple[Path, str]) -> None:
    db, rid = long_run
    with TraceStore(db, readonly=True) as store:
        chunks = list(iter_json(store, rid))
        whole = export_run(store, rid)
    assert len(chunks) > 2400 and max(len(c) for c in chunks) < 2000  # record by record, never the whole run
    assert json.loads("".join(chunks)) == whole
    res = runner.invoke(app, ["show", rid, "--db", str(db), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == whole
    assert [c["id"] for c in whole["children"]] == ["child1"]


def test_show_from_and_limit_page_the_events(long_run: tuple[Path, str]) -> None:
    db, rid = long_run
    res = runner.invoke(app, ["show", rid, "--db", str(db), "--format", "json", "--from", "101", "--limit", "10"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [e["seq"] for e in data["events"]] == list(range(101, 111))
    assert [c["event_seq"] for c in data["llm_calls"]] == [101, 103, 105, 107, 109]
    assert "children" not in data
    res = runner.invoke(app, ["show", rid, "--db", str(db), "--from", "2399", "--limit", "5"])
    assert res.exit_code == 0, res.output
    events = [line for line in res.stdout.splitlines() if line.lstrip().startswith("- 2")]
    assert [line.split(".")[0].strip() for line in events] == ["- 2399", "- 2400"]
    assert "inside the trial" not in res.stdout


def test_show_markdown_nests_the_whole_tree(long_run: tuple[Path, str]) -> None:
    db, rid = long_run
    res = runner.invoke(app, ["show", rid, "--db", str(db)])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    first = lines.index(next(line for line in lines if line.startswith("- 1. ")))
    assert lines[first + 1].startswith("  - 2. ")  # the observation under its call
    assert sum(1 for line in lines if line.lstrip().startswith("- ")) >= 2400
    assert "inside the trial" in res.stdout
