"""Helpers that treat a trace database as a cassette: what replay reads, what a recording ships."""

from __future__ import annotations

import shutil
from pathlib import Path

from ponder.traces.events import MemoryRecord
from ponder.traces.store import TraceStore


def memory_before(store: TraceStore, t: float) -> list[MemoryRecord]:
    """Every memory entry written before time `t`, oldest first (what a run started with)."""
    store.flush()
    rows = store.db.query("select * from memory where created_at < ? order by id", [t])
    return [MemoryRecord(**r) for r in rows]


def finalize_recording(store: TraceStore) -> None:
    """Make a store fit to ship as a test recording, then close it.

    Drops what says where it was made (pid, host), leaves WAL mode so the file stands
    alone (no -wal/-shm beside it), and vacuums it with small pages so it weighs KBs.
    """
    store.flush()
    with store.conn:
        store.conn.execute("update runs set pid = null, host = null")
    store.conn.execute("pragma wal_checkpoint(truncate)")
    store.conn.execute("pragma journal_mode = delete")
    store.conn.execute("pragma page_size = 1024")
    store.conn.execute("vacuum")
    store.close()


def remove_database(path: Path) -> None:
    """Delete a database file and its WAL companions, if they exist."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def copy_database(src: Path, dst: Path) -> Path:
    """Copy a (non-WAL, finalized) database file so it can be opened without touching the original."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst
