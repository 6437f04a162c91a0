"""Store safety (issue 9 §1): shared connections, concurrent first use, foreign, read-only, corrupt and
locked files, and what a SIGKILL leaves behind. Multi-process cases run real subprocesses; the CLI's
answers to a bad file are read in-process (CliRunner), as the CLI tests do."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder.cli import app
from ponder.errors import StoreError
from ponder.traces import _open
from ponder.traces.recorder import Recorder
from ponder.traces.store import TraceStore

runner = CliRunner()
CLI = "import sys; from ponder.cli import main; sys.argv[0] = 'ponder'; main()"


def _ponder(*args: str, prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*(prefix or []), sys.executable, "-c", CLI, *args], capture_output=True, text=True, timeout=120
    )


def _count(path: Path, sql: str) -> int:
    """Count from another process, as a separate reader would."""
    code = f"import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute({sql!r}).fetchone()[0])"
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return int(out.stdout)


def test_stores_on_one_file_share_one_connection(tmp_path: Path) -> None:
    a = TraceStore(tmp_path / "t.db")
    b = TraceStore(str(tmp_path / "." / "t.db"))
    assert a.conn is b.conn
    b.close()
    a.create_run(agent="cot", run_id="still-open")  # b's close did not close a's connection
    a.close()


def test_a_second_store_and_another_process_do_not_lose_a_live_writers_commits(tmp_path: Path) -> None:
    """The TUI case: a live writer, a second store on the file in the same process, another process
    that opens and closes it; the writer's later commits must reach the file that others read."""
    db = tmp_path / "live.db"
    live = TraceStore(db)
    live.create_run(agent="cot", run_id="first")
    browser = TraceStore(db)  # was: a plain open()/close() of the file, dropping live's locks
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sqlite3; sqlite3.connect({str(db)!r}).execute('select count(*) from runs').fetchone()",
        ]
    )
    rec = Recorder(live, live.create_run(agent="cot", run_id="second"))
    rec.event("thought", "written after the other process left")
    rec.flush()
    assert _count(db, "select count(*) from runs") == 2
    assert _count(db, "select count(*) from events") == 1
    browser.close()
    live.close()


FIRST_USE = textwrap.dedent(
    """
    import sys
    from ponder.traces.store import TraceStore
    print("ready", flush=True)
    sys.stdin.readline()
    s = TraceStore(sys.argv[1])
    s.create_run(agent="cot", run_id=sys.argv[2])
    s.close()
    print("ok", flush=True)
    """
)


@pytest.mark.slow  # four real processes racing to create the schema
def test_four_processes_first_use_of_a_fresh_db(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", FIRST_USE, str(db), f"r{i}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    for p in procs:  # a barrier: all four are imported and waiting
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    results = [p.communicate(timeout=60) for p in procs]
    for p, (out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0 and out.strip() == "ok", err
    with TraceStore(db) as s:
        assert sorted(r.id for r in s.list_runs(limit=10)) == ["r0", "r1", "r2", "r3"]
        assert s.applied_migrations() == sorted(s.applied_migrations())


def test_a_foreign_sqlite_file_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    db = tmp_path / "notes.db"
    raw = sqlite3.connect(db)
    raw.execute("create table notes (id integer primary key, text text)")
    raw.execute("insert into notes (text) values ('mine')")
    raw.commit()
    raw.close()
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    with pytest.raises(StoreError, match="not a ponder trace file"):
        TraceStore(db)
    res = runner.invoke(app, ["runs", "--db", str(db)])
    assert res.exit_code == 2 and "not a ponder trace file" in res.stderr and "Traceback" not in res.stderr
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before  # no WAL switch, no migrations table
    assert not Path(f"{db}-wal").exists()
    raw = sqlite3.connect(db)
    assert raw.execute("pragma journal_mode").fetchone()[0] == "delete"
    assert [r[0] for r in raw.execute("select name from sqlite_master where type='table'")] == ["notes"]
    raw.close()


@pytest.fixture
def readonly_dir() -> Iterator[tuple[Path, list[str]]]:
    """A folder with a trace db, and a command prefix under which the folder is read-only."""
    d = Path(tempfile.mkdtemp(prefix="ponder-ro-"))
    with TraceStore(d / "t.db") as s:
        rec = Recorder.start(s, agent="cot", task={"input": "q"}, run_id="r1")
        rec.event("thought", "kept")
        rec.finish(status="ok", answer="42")
    assert not Path(f"{d}/t.db-wal").exists()
    prefix: list[str] = []
    if os.geteuid() == 0:  # root writes through file modes: make the folder a read-only mount instead
        unshare = shutil.which("unshare")
        probe = subprocess.run([unshare or "unshare", "-rm", "true"], capture_output=True) if unshare else None
        if probe is None or probe.returncode != 0:
            shutil.rmtree(d)
            pytest.skip("running as root and `unshare -rm` (util-linux) is not usable, so no read-only mount")
        prefix = ["unshare", "-rm", "sh", "-c", f'mount --bind -o ro "{d}" "{d}" && exec "$0" "$@"']
    else:
        (d / "t.db").chmod(0o444)
        d.chmod(0o555)
    yield d, prefix
    d.chmod(0o755)
    shutil.rmtree(d)


@pytest.mark.slow  # real CLI processes in a read-only mount namespace
def test_a_read_only_db_is_readable(readonly_dir: tuple[Path, list[str]]) -> None:
    d, prefix = readonly_dir
    res = _ponder("runs", "--db", str(d / "t.db"), "--json", prefix=prefix)
    assert res.returncode == 0, res.stderr
    assert '"id": "r1"' in res.stdout
    res = _ponder("show", "r1", "--db", str(d / "t.db"), prefix=prefix)
    assert res.returncode == 0 and "kept" in res.stdout, res.stderr
    # writing to it says what is wrong: read-only, not "corrupt"
    res = _ponder("run", "What is 1 + 1?", "--backend", "scripted", "--db", str(d / "t.db"), prefix=prefix)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "read-only" in res.stderr and "corrupt" not in res.stderr


def _corrupt(tmp_path: Path) -> Path:
    db = tmp_path / "broken.db"
    with TraceStore(db) as s:
        for i in range(300):
            rec = Recorder.start(s, agent="cot", task={"input": f"question {i} " + "x" * 300})
            rec.event("thought", "t" * 500)
            rec.finish(status="ok", answer=str(i))
    data = bytearray(db.read_bytes())
    page, n = 4096, len(data) // 4096
    for p in range(n // 2, n, 2):  # the schema opens fine; reading the rows hits the damage
        data[p * page : (p + 1) * page] = b"\x5a" * page
    db.write_bytes(bytes(data))
    return db


def test_a_corrupted_db_gives_one_clear_line(tmp_path: Path) -> None:
    db = _corrupt(tmp_path)
    for args in (
        ["runs", "--db", str(db)],
        ["show", "zz", "--db", str(db)],
        ["run", "hi", "--backend", "scripted", "--db", str(db)],
    ):
        res = runner.invoke(app, args)
        assert res.exit_code == 2, (args, res.stdout, res.stderr)
        assert "Traceback" not in res.stderr
        assert "is corrupted (" in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_a_locked_db_is_reported_as_locked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "busy.db"
    TraceStore(db).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1], isolation_level=None);"
            " c.execute('begin immediate'); print('holding', flush=True); sys.stdin.readline()",
            str(db),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        monkeypatch.setattr(_open, "BUSY_TIMEOUT_MS", 100)
        s = TraceStore(db)
        with pytest.raises(StoreError, match="locked by another process") as info:
            s.create_run(agent="cot")
        assert "corrupt" not in str(info.value)
        s.close()
    finally:
        holder.communicate("done\n", timeout=30)


KILLED_MID_CALL = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from ponder.runtime.base import BaseAgent
    from ponder.runtime.runner import run_agent
    from ponder.backends.scripted import ScriptedBackend
    from ponder.traces.store import TraceStore
    from ponder.types import CompletionRequest, Message, Result

    class ManyCalls(BaseAgent):
        name = "many_calls"

        async def solve(self, task, ctx):
            for i in range(8):
                await ctx.complete(CompletionRequest(messages=[Message(role="user", content=f"call {i}")]))
            return Result(answer="done")

    store = TraceStore(sys.argv[1])
    kill_after = int(sys.argv[2])
    seen = {"calls": 0}

    def trace(sql):
        # SIGKILL right after the k-th llm_calls row is written, whatever comes next
        if sql.lstrip().lower().startswith("insert into llm_calls"):
            seen["calls"] += 1
        elif seen["calls"] >= kill_after:
            os.kill(os.getpid(), signal.SIGKILL)

    store.conn.set_trace_callback(trace)
    asyncio.run(run_agent(ManyCalls(), "count", backend=ScriptedBackend(lambda req: "ok"), store=store))
    """
)


@pytest.mark.parametrize("kill_after", [3])
def test_a_sigkill_leaves_every_completed_call_whole(tmp_path: Path, kill_after: int) -> None:
    db = tmp_path / "killed.db"
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_MID_CALL, str(db), str(kill_after)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == -9, proc.stderr
    with TraceStore(db, readonly=True) as s:
        run = s.list_runs(limit=1)[0]
        calls = s.llm_calls(run.id)
        # every recorded call is counted on the run and its event is closed: a call lands whole or not at all
        assert run.calls == len(calls)
        assert [s.event(run.id, c.event_seq).status for c in calls if c.event_seq is not None] == ["ok"] * len(calls)
        assert len(calls) >= kill_after - 1
