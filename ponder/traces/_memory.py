"""The `memory` table: episodic memory (Reflexion's reflections), by namespace."""

from __future__ import annotations

from typing import Any

from ponder._util.secrets import redact
from ponder.traces._base import StoreBase, now
from ponder.traces.events import MemoryRecord


class MemoryTable(StoreBase):
    """Memory entries: written once, read newest-last."""

    def add_memory(
        self,
        namespace: str,
        content: str,
        *,
        kind: str = "reflection",
        score: float | None = None,
        run_id: str | None = None,
    ) -> int:
        """Write one memory entry (committed now); returns its id."""
        with self._c.write() as conn:
            cur = conn.execute(
                "insert into memory (namespace, kind, content, score, run_id, created_at) values (?,?,?,?,?,?)",
                (namespace, kind, redact(content), score, run_id, now()),
            )
            return int(cur.lastrowid or 0)

    def recent_memory(self, namespace: str, k: int, *, kind: str | None = None) -> list[MemoryRecord]:
        """The last `k` entries of a namespace, oldest first."""
        sql = "select * from memory where namespace = ?"
        params: list[Any] = [namespace]
        if kind:
            sql += " and kind = ?"
            params.append(kind)
        sql += " order by id desc limit ?"
        params.append(k)
        return [MemoryRecord(**r) for r in reversed(self._c.rows(sql, params))]

    def memory_before(self, t: float) -> list[MemoryRecord]:
        """Every memory entry written before time `t`, oldest first (what a run started with)."""
        self._c.flush()
        return [MemoryRecord(**r) for r in self._c.rows("select * from memory where created_at < ? order by id", (t,))]
