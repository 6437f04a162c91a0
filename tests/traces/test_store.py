import sqlite3
import subprocess
import sys
import textwrap

import pytest

from ponder.errors import StoreError
from ponder.traces.migrations import known_migrations
from ponder.traces.recorder import Recorder
from ponder.traces.store import TraceStore


def test_schema_tables_and_wal(tmp_path):
    s = TraceStore(tmp_path / "t.db")
    names = set(s.db.table_names())
    assert {"runs", "events", "llm_calls", "tool_calls", "memory", "experiments", "_ponder_migrations"} <= names
    assert s.conn.execute("pragma journal_mode").fetchone()[0] == "wal"
    idx = {r[1] for r in s.conn.execute("pragma index_list(events)")}
    assert {"events_run_seq", "events_children"} <= idx
    applied = [r["name"] for r in s.db.query("select name from _ponder_migrations")]
    assert applied == known_migrations()


def test_reopen_does_not_reapply_migrations(tmp_path):
    TraceStore(tmp_path / "t.db").close()
    s = TraceStore(tmp_path / "t.db")
    assert s.db["_ponder_migrations"].count == len(known_migrations())


def test_newer_schema_is_refused(tmp_path):
    s = TraceStore(tmp_path / "t.db")
    s.db.execute("insert into _ponder_migrations values ('m999_future', 0)")
    s.close()
    with pytest.raises(StoreError, match="newer ponder"):
        TraceStore(tmp_path / "t.db")


def test_bad_paths(tmp_path):
    with pytest.raises(StoreError, match="is a directory"):
        TraceStore(tmp_path)
    bad = tmp_path / "notes.txt"
    bad.write_text("hello, not a database")
    with pytest.raises(StoreError, match="not a SQLite database"):
        TraceStore(bad)
    with pytest.raises(StoreError, match="does not exist"):
        TraceStore(tmp_path / "missing.db", create=False)
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    with pytest.raises(StoreError, match="corrupt"):
        TraceStore(corrupt)


def test_events_tree_paging_and_totals(store):
    rec = Recorder.start(store, agent="cot", task={"input": "q"})
    root = rec.event("node", "root")
    kids = [rec.event("node", f"child {i}", parent=root, score=float(i)) for i in range(5)]
    rec.event("node", "grandchild", parent=kids[0])
    rec.update(kids[2], status="pruned")
    rec.add_usage(10, 5, 1, None)
    rec.add_usage(1, 1, 1, 0.5)
    assert [e.seq for e in store.children(rec.run_id, root)] == kids
    assert store.children(rec.run_id, None)[0].n_children == 5
    assert store.event(rec.run_id, kids[2]).status == "pruned"
    assert store.event(rec.run_id, kids[0] + 5).depth == 2
    page1 = store.events(rec.run_id, limit=3)
    page2 = store.events(rec.run_id, after_seq=page1[-1].seq, limit=3)
    assert [e.seq for e in page1 + page2] == list(range(1, 7))
    run = store.get_run(rec.run_id)
    assert (run.prompt_tokens, run.completion_tokens, run.calls, run.cost_usd, run.last_seq) == (11, 6, 2, 0.5, 7)


def test_start_times_and_branches_are_read_alone_and_page_like_events(store):
    rec = Recorder.start(store, agent="sc", task={"input": "q"})
    other = Recorder.start(store, agent="sc", task={"input": "q"})  # another run's events are not read
    other.event("thought", "elsewhere", branch="x")
    for i in range(7):
        rec.event("thought", f"t{i}", branch=f"path{i % 3}" if i else "")
    rows = store.events(rec.run_id)
    starts: list[tuple[int, float]] = []
    after = 0
    while page := store.event_starts(rec.run_id, after_seq=after, limit=3):
        starts += page
        after = page[-1][0]
    assert starts == [(e.seq, e.started_at) for e in rows]
    assert store.event_branches(rec.run_id, after_seq=2, limit=4) == [(e.seq, e.branch) for e in rows[2:6]]
    assert store.event_branches(rec.run_id) == [(e.seq, e.branch) for e in rows]
    assert store.event_starts("no-such-run") == []


def test_run_id_prefix_resolution(store):
    a = store.create_run(agent="cot", run_id="abc123")
    store.create_run(agent="cot", run_id="abd456")
    assert store.resolve_run_id("abc") == a
    with pytest.raises(StoreError, match="ambiguous"):
        store.resolve_run_id("ab")
    with pytest.raises(StoreError, match="no run"):
        store.resolve_run_id("zz")


def test_list_runs_keyset_pages(store):
    for i in range(7):
        store.create_run(agent="cot" if i % 2 else "tot", task={"input": f"q{i}"})
    first = store.list_runs(limit=4)
    rest = store.list_runs(limit=4, before=(first[-1].started_at, first[-1].id))
    assert len(first) == 4 and len(rest) == 3
    assert not {r.id for r in first} & {r.id for r in rest}
    assert all(r.agent == "tot" for r in store.list_runs(agent="tot"))
    assert len(store.list_runs(text="q3")) == 1


def test_memory_persists_across_connections(tmp_path):
    a = TraceStore(tmp_path / "m.db")
    a.add_memory("task-1", "first lesson")
    a.add_memory("task-1", "second lesson")
    a.add_memory("other", "unrelated")
    b = TraceStore(tmp_path / "m.db")
    assert [m.content for m in b.recent_memory("task-1", 5)] == ["first lesson", "second lesson"]
    assert [m.content for m in b.recent_memory("task-1", 1)] == ["second lesson"]


WRITER = textwrap.dedent(
    """
    import sys, time
    from ponder.traces.store import TraceStore
    from ponder.traces.recorder import Recorder
    store = TraceStore(sys.argv[1])
    rec = Recorder.start(store, agent="cot", task={"input": "crash me"})
    parent = rec.event("node", "root")
    i = 0
    while True:
        rec.event("info", f"step {i}", parent=parent, data={"i": i, "pad": "x" * 200})
        i += 1
        if i == 200:
            rec.flush()
            print(rec.run_id, flush=True)
    """
)


def test_killed_writer_leaves_consistent_interrupted_trace(tmp_path):
    db = tmp_path / "crash.db"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    proc.kill()
    proc.wait()
    s = TraceStore(db)
    assert s.conn.execute("pragma integrity_check").fetchone()[0] == "ok"
    run = s.get_run(run_id)
    assert run.status == "interrupted"
    seqs = [e.seq for e in s.iter_events(run_id)]
    assert len(seqs) >= 201
    assert seqs == list(range(1, len(seqs) + 1))  # no gap, no torn event
    assert run.last_seq == seqs[-1]  # last_seq is committed with each group of events
    assert s.event(run_id, 1).n_children == len(seqs) - 1


def test_no_writes_outside_transactions_leak(tmp_path):
    s = TraceStore(tmp_path / "t.db")
    s.create_run(agent="cot", run_id="r1")
    raw = sqlite3.connect(tmp_path / "t.db")
    assert raw.execute("select count(*) from runs").fetchone()[0] == 1
