"""Whole-store operations: rows of a table in bulk, schema names, and making a store fit to ship."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import Any

from ponder.traces._base import StoreBase
from ponder.traces.migrations import SCHEMA_VERSION_TABLE

# the tables a recording or a shard carries, parents before children
RECORDING_TABLES = ("experiments", "runs", "events", "llm_calls", "tool_calls", "memory")
OPTIMIZE_EVERY_S = 600.0


class AdminOps(StoreBase):
    """Bulk reads and writes of whole tables (recordings, merges) and upkeep."""

    def applied_migrations(self) -> list[str]:
        """The names of the schema migrations applied to this store."""
        return [str(n) for n in self._c.column(f"select name from {SCHEMA_VERSION_TABLE} order by name")]

    def table_columns(self, table: str) -> list[str]:
        """The column names of one of `RECORDING_TABLES`."""
        if table not in RECORDING_TABLES:
            raise ValueError(f"not a recording table: {table}")
        return [str(r["name"]) for r in self._c.rows(f"pragma table_info({table})")]

    def table_rows(
        self, table: str, *, page: int = 1000, runs: Collection[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every row of one of `RECORDING_TABLES` in rowid order, fetched a page at a time.

        runs: only the rows of these runs (for `experiments`: the experiments they belong to).
        """
        if table not in RECORDING_TABLES:
            raise ValueError(f"not a recording table: {table}")
        self._c.flush()
        if runs is None:
            return self._c.iter_rows(f"select * from {table} order by rowid", page=page)
        chosen = "(select value from json_each(?))"
        where = {
            "experiments": f"id in (select experiment_id from runs where id in {chosen})",
            "runs": f"id in {chosen}",
        }.get(table, f"run_id in {chosen}")
        sql = f"select * from {table} where {where} order by rowid"
        return self._c.iter_rows(sql, (json.dumps(list(runs)),), page=page)

    def with_descendants(self, run_ids: Iterable[str]) -> list[str]:
        """These runs and every run below them (child runs: Reflexion trials, plan steps), parents first."""
        return [
            str(x)
            for x in self._c.column(
                "with recursive t(id) as (select value from json_each(?)"
                " union select r.id from runs r join t on r.parent_id = t.id) select id from t",
                (json.dumps(list(run_ids)),),
            )
        ]

    def count_rows(self, table: str, run_ids: Collection[str]) -> int:
        """How many rows of one of `RECORDING_TABLES` (but experiments and runs) belong to these runs."""
        if table not in RECORDING_TABLES[2:]:
            raise ValueError(f"not a table of run rows: {table}")
        row = self._c.one(
            f"select count(*) from {table} where run_id in (select value from json_each(?))",
            (json.dumps(list(run_ids)),),
        )
        return int(row[0]) if row else 0

    def insert_rows(self, table: str, rows: Iterable[dict[str, Any]]) -> int:
        """Insert rows into one of `RECORDING_TABLES` (columns this schema lacks are dropped); returns how many.

        Committed with the enclosing `atomic()` block, or at once.
        """
        columns = set(self.table_columns(table))
        n = 0
        with self._c.write() as conn:
            for r in rows:
                keep = {k: v for k, v in r.items() if k in columns}
                names = ", ".join(keep)
                marks = ", ".join("?" * len(keep))
                conn.execute(f"insert into {table} ({names}) values ({marks})", list(keep.values()))
                n += 1
        return n

    def finalize_for_shipping(self) -> None:
        """Drop what says where the store was made (pid, host), leave WAL mode and vacuum with small pages.

        The file then stands alone (no -wal/-shm beside it) and weighs KBs.
        """
        with self._c.write() as conn:
            conn.execute("update runs set pid = null, host = null")
        with self._c.lock, self._c.errors():
            conn = self._c.conn
            conn.execute("pragma wal_checkpoint(truncate)")
            conn.execute("pragma journal_mode = delete")
            conn.execute("pragma page_size = 1024")
            conn.execute("vacuum")

    def backup_to(self, dst: str | Path) -> None:
        """Copy the whole database to a new file `dst` through SQLite's backup API."""
        self._c.flush()
        target = sqlite3.connect(str(dst))
        try:
            with self._c.lock, self._c.errors():
                self._c.conn.backup(target)
        finally:
            target.close()

    def optimize(self) -> None:
        """ANALYZE-like upkeep, run when a top-level run closes: at most once per `OPTIMIZE_EVERY_S` per connection.

        (SQLite's advice for long-lived connections: now and then, not on every transaction.)
        """
        c = self._c
        if c.readonly or time.monotonic() - c.optimized_at < OPTIMIZE_EVERY_S:
            return
        with c.lock, c.errors():
            c.conn.execute("pragma optimize")
        c.optimized_at = time.monotonic()
