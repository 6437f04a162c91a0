"""Helpers that treat a trace database as a cassette: what replay reads, what a recording ships."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from ponder.errors import StoreError
from ponder.traces.events import MemoryRecord
from ponder.traces.migrations import SCHEMA_VERSION_TABLE, known_migrations
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


RECORDING_TABLES = ("experiments", "runs", "events", "llm_calls", "tool_calls", "memory")
JSONL_FORMAT = "ponder-recording"


def dump_jsonl(store: TraceStore, path: Path) -> Path:
    """Write every row of a (recording) store as JSON lines: a header, then one line per row.

    Text that diffs well in review, independent of SQLite versions; `load_jsonl` reads it back.
    """
    store.flush()
    lines = [json.dumps({"format": JSONL_FORMAT, "schema": applied_migrations(store)})]
    for table in RECORDING_TABLES:
        for row in store.db.query(f"select * from {table} order by rowid"):
            if table == "runs":
                row = {**row, "pid": None, "host": None}
            lines.append(json.dumps({"table": table, "row": row}, ensure_ascii=False, sort_keys=True))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load_jsonl(path: Path) -> TraceStore:
    """An in-memory store holding a recording written by `dump_jsonl` (older schemas are migrated)."""
    try:
        text = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise StoreError(f"{path} does not exist; give the path of a .jsonl recording") from None
    except UnicodeDecodeError:
        raise StoreError(f"{path} is not a ponder recording (not UTF-8 text)") from None
    except OSError as e:
        raise StoreError(f"{path} cannot be read ({e.strerror or e})") from None
    try:
        header = json.loads(text[0]) if text else {}
    except json.JSONDecodeError:
        header = {}
    if not isinstance(header, dict) or header.get("format") != JSONL_FORMAT:
        raise StoreError(f"{path} is not a ponder recording (its first line should be a {JSONL_FORMAT} header)")
    unknown = set(header.get("schema", [])) - set(known_migrations())
    if unknown:
        raise StoreError(f"{path} was written by a newer ponder (schema {sorted(unknown)[-1]}); upgrade ponder")
    store = TraceStore(":memory:")
    rows: dict[str, list[dict[str, Any]]] = {t: [] for t in RECORDING_TABLES}
    for n, line in enumerate(text[1:], 2):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            rows[item["table"]].append(item["row"])
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            store.close()
            raise StoreError(f"{path}:{n}: not a recording line ({e}); re-record it") from None
    for table, items in rows.items():
        if items:
            columns = {c.name for c in store.db[table].columns}
            store.db[table].insert_all({k: v for k, v in r.items() if k in columns} for r in items)  # type: ignore[union-attr]
    store.conn.commit()
    return store


def applied_migrations(store: TraceStore) -> list[str]:
    """The names of the schema migrations applied to a store."""
    return [r["name"] for r in store.db.query(f"select name from {SCHEMA_VERSION_TABLE} order by name")]
