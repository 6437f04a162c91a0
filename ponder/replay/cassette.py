"""Helpers that treat a trace database as a cassette: what replay reads, what a recording ships."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ponder.errors import StoreError
from ponder.traces.events import MemoryRecord
from ponder.traces.migrations import known_migrations
from ponder.traces.store import RECORDING_TABLES, TraceStore


def memory_before(store: TraceStore, t: float) -> list[MemoryRecord]:
    """Every memory entry written before time `t`, oldest first (what a run started with)."""
    return store.memory_before(t)


def finalize_recording(store: TraceStore) -> None:
    """Make a store fit to ship as a test recording, then close it.

    Drops what says where it was made (pid, host), leaves WAL mode so the file stands
    alone (no -wal/-shm beside it), and vacuums it with small pages so it weighs KBs.
    """
    store.finalize_for_shipping()
    store.close()


def remove_database(path: Path) -> None:
    """Delete a database file and its WAL companions, if they exist."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def copy_database(src: Path, dst: Path) -> Path:
    """Copy a (non-WAL, finalized) database file so it can be opened without touching the original."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    remove_database(dst)
    # through SQLite's backup API: a plain open()/close() of a file this process may hold would drop its locks
    with TraceStore(src, readonly=True, create=False) as source:
        source.backup_to(dst)
    return dst


JSONL_FORMAT = "ponder-recording"


def dump_jsonl(store: TraceStore, path: Path) -> Path:
    """Write every row of a (recording) store as JSON lines: a header, then one line per row.

    Text that diffs well in review, independent of SQLite versions; `load_jsonl` reads it back.
    """
    lines = [json.dumps({"format": JSONL_FORMAT, "schema": applied_migrations(store)})]
    for table in RECORDING_TABLES:
        for row in store.table_rows(table):
            if table == "runs":
                row = {**row, "pid": None, "host": None}
            lines.append(json.dumps({"table": table, "row": row}, ensure_ascii=False, sort_keys=True))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load_jsonl(path: Path) -> TraceStore:
    """An in-memory store holding a recording written by `dump_jsonl` (older schemas are migrated)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig").splitlines()
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
    with store.atomic():
        for table, items in rows.items():
            store.insert_rows(table, items)
    return store


def applied_migrations(store: TraceStore) -> list[str]:
    """The names of the schema migrations applied to a store."""
    return store.applied_migrations()
