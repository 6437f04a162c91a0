"""The `events` table: a run's steps, written as they happen and read in keyset pages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ponder._util.secrets import redact
from ponder.errors import StoreError
from ponder.traces._base import StoreBase, dumps, now
from ponder.traces.events import EventRecord, summarize

_EVENT_COLS = (
    "run_id, seq, parent_seq, depth, branch, kind, label, summary, status, score, n_children, started_at, ended_at"
)


# what `iter_lane_rows` reads of each event, in this order
LANE_COLUMNS = ("run_id", "seq", "parent_seq", "branch", "kind", "label", "summary", "status", "score", "data_json")


class EventsTable(StoreBase):
    """Events: group-committed on write (see `TraceStore`), paged by `seq` on read."""

    def add_event(
        self,
        run_id: str,
        seq: int,
        *,
        kind: str,
        label: str = "",
        summary: str = "",
        parent_seq: int | None = None,
        depth: int = 0,
        branch: str = "",
        status: str = "ok",
        score: float | None = None,
        data: dict[str, Any] | None = None,
        started_at: float | None = None,
        ended_at: float | None = None,
    ) -> None:
        """Write one event; it is committed within `flush_interval`, or at the next flush or other write.

        seq: its number in the run (from the recorder). parent_seq: the event it hangs under
        (its `n_children` is counted up). status `running` leaves it open (no `ended_at`).
        """
        t = now()
        row = (
            run_id,
            seq,
            parent_seq,
            depth,
            branch,
            kind,
            summarize(redact(label), 120),
            summarize(redact(summary)),
            status,
            score,
            None if data is None else dumps(data),
            started_at or t,
            ended_at if ended_at is not None else (None if status == "running" else t),
        )
        c = self._c
        with c.lock, c.errors():
            c.begin()
            # one statement fails alone; the pending events of other runs stay in the transaction
            c.conn.execute(
                "insert into events (run_id, seq, parent_seq, depth, branch, kind, label, summary, status, score,"
                " data_json, started_at, ended_at) values (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                row,
            )
            if parent_seq is not None:
                c.conn.execute(
                    "update events set n_children = n_children + 1 where run_id = ? and seq = ?",
                    (run_id, parent_seq),
                )
            if seq > c.pending_seq.get(run_id, 0):
                c.pending_seq[run_id] = seq
            if c.tx_started is None:
                c.tx_started = t
            if t - c.tx_started >= c.flush_interval:
                c.flush()

    def update_event(
        self,
        run_id: str,
        seq: int,
        *,
        status: str | None = None,
        score: float | None = None,
        summary: str | None = None,
        label: str | None = None,
        data: dict[str, Any] | None = None,
        ended: bool = True,
    ) -> None:
        """Change an event written earlier (committed now); `ended` stamps its end time if unset."""
        sets: list[str] = []
        params: list[Any] = []
        if status is not None:
            sets.append("status = ?")
            params.append(status)
        if score is not None:
            sets.append("score = ?")
            params.append(score)
        if summary is not None:
            sets.append("summary = ?")
            params.append(summarize(redact(summary)))
        if label is not None:
            sets.append("label = ?")
            params.append(summarize(redact(label), 120))
        if data is not None:
            sets.append("data_json = ?")
            params.append(dumps(data))
        if ended:
            sets.append("ended_at = coalesce(ended_at, ?)")
            params.append(now())
        if not sets:
            return
        with self._c.write() as conn:
            conn.execute(f"update events set {', '.join(sets)} where run_id = ? and seq = ?", (*params, run_id, seq))

    def events(
        self,
        run_id: str,
        *,
        after_seq: int = 0,
        limit: int | None = None,
        with_data: bool = False,
    ) -> list[EventRecord]:
        """A run's events in seq order, paged by keyset on seq (`after_seq`)."""
        cols = _EVENT_COLS + (", data_json" if with_data else "")
        sql = f"select {cols} from events where run_id = ? and seq > ? order by seq"
        params: list[Any] = [run_id, after_seq]
        if limit is not None:
            sql += " limit ?"
            params.append(limit)
        return [EventRecord.from_row(r) for r in self._c.rows(sql, params)]

    def event_starts(self, run_id: str, *, after_seq: int = 0, limit: int | None = None) -> list[tuple[int, float]]:
        """(seq, started_at) of a run's events in seq order, paged like `events`: a replay clock's read, no rows."""
        return [(int(seq), float(t)) for seq, t in self._pairs("started_at", run_id, after_seq, limit)]

    def event_branches(self, run_id: str, *, after_seq: int = 0, limit: int | None = None) -> list[tuple[int, str]]:
        """(seq, branch) of a run's events in seq order, paged like `events`: what a jump between branches reads."""
        return [(int(seq), str(b)) for seq, b in self._pairs("branch", run_id, after_seq, limit)]

    def _pairs(self, column: str, run_id: str, after_seq: int, limit: int | None) -> list[tuple[Any, Any]]:
        # column is one of the two names above, never input
        sql = f"select seq, {column} from events where run_id = ? and seq > ? order by seq"
        params: list[Any] = [run_id, after_seq]
        if limit is not None:
            sql += " limit ?"
            params.append(limit)
        c = self._c
        with c.lock, c.errors():  # plain tuples: no dict or record per row
            return c.conn.execute(sql, params).fetchall()

    def children(
        self, run_id: str, parent_seq: int | None, *, after_seq: int = 0, limit: int = 500
    ) -> list[EventRecord]:
        """The direct children of one event (or the top-level events for `None`), lazily paged."""
        cond = "parent_seq is null" if parent_seq is None else "parent_seq = ?"
        params: list[Any] = [run_id] + ([] if parent_seq is None else [parent_seq]) + [after_seq, limit]
        sql = f"select {_EVENT_COLS} from events where run_id = ? and {cond} and seq > ? order by seq limit ?"
        return [EventRecord.from_row(r) for r in self._c.rows(sql, params)]

    def events_by_seq(self, run_id: str, seqs: list[int]) -> list[EventRecord]:
        """Some events of a run by seq (without data), in seq order; missing seqs are skipped."""
        if not seqs:
            return []
        marks = ",".join("?" * len(seqs))
        sql = f"select {_EVENT_COLS} from events where run_id = ? and seq in ({marks}) order by seq"
        return [EventRecord.from_row(r) for r in self._c.rows(sql, [run_id, *seqs])]

    def shared_children(self, run_id: str, kind: str, field: str, labels: list[str]) -> list[tuple[str, EventRecord]]:
        """The events of `kind` made from two or more events, one of them labelled in `labels`: (that label,
        the event) in seq order. `field`: the data field listing the labels they were made from."""
        if not labels:
            return []
        path = f"$.{field}"
        sql = (
            f"select p.value, {', '.join('e.' + c.strip() for c in _EVENT_COLS.split(','))}, e.data_json"
            " from events e, json_each(e.data_json, ?) p where e.run_id = ? and e.kind = ?"
            " and json_array_length(e.data_json, ?) > 1 and p.value in (select value from json_each(?))"
            " order by e.seq, p.key"
        )
        rows = self._c.rows(sql, (path, run_id, kind, path, json.dumps(labels)))
        return [(str(r.pop("value")), EventRecord.from_row(r)) for r in rows]

    def children_before(
        self, run_id: str, parent_seq: int | None, before_seq: int, *, limit: int = 500
    ) -> list[EventRecord]:
        """The direct children of one event just before `before_seq` (at most `limit`), in seq order."""
        cond = "parent_seq is null" if parent_seq is None else "parent_seq = ?"
        params: list[Any] = [run_id] + ([] if parent_seq is None else [parent_seq]) + [before_seq, limit]
        sql = f"select {_EVENT_COLS} from events where run_id = ? and {cond} and seq < ? order by seq desc limit ?"
        rows = [EventRecord.from_row(r) for r in self._c.rows(sql, params)]
        return rows[::-1]

    def ancestors(self, run_id: str, seq: int) -> list[int]:
        """The seqs from a top-level event down to `seq` (itself included)."""
        seqs = self._c.column(
            "with recursive a(seq, parent_seq, n) as ("
            " select seq, parent_seq, 0 from events where run_id = ? and seq = ?"
            " union all select e.seq, e.parent_seq, a.n + 1 from events e join a"
            " on e.run_id = ? and e.seq = a.parent_seq)"
            " select seq from a order by n desc",
            (run_id, seq, run_id),
        )
        if not seqs:
            raise StoreError(f"run {run_id} has no event {seq}")
        return [int(s) for s in seqs]

    def iter_lane_rows(self, run_ids: list[str], *, page: int = 1000) -> Iterator[tuple[Any, ...]]:
        """These runs' events as `LANE_COLUMNS` tuples, by branch, then in the order of `run_ids`, then by seq.

        SQLite sorts them (spilling to temporary files when large), so any run is read in flat memory.
        """
        cols = ", ".join(f"e.{c}" for c in LANE_COLUMNS)
        sql = f"select {cols} from events e join json_each(?) j on e.run_id = j.value order by e.branch, j.key, e.seq"
        return self._c.iter_tuples(sql, (json.dumps(run_ids),), page=page)

    def iter_event_keys(
        self, run_ids: list[str], kinds: list[str], *, page: int = 5000
    ) -> Iterator[tuple[str, str, str]]:
        """(branch, kind, label) of these runs' events of `kinds`, sorted: a multiset read in order."""
        sql = (
            "select branch, kind, label from events where run_id in (select value from json_each(?))"
            " and kind in (select value from json_each(?)) order by branch, kind, label"
        )
        for branch, kind, label in self._c.iter_tuples(sql, (json.dumps(run_ids), json.dumps(kinds)), page=page):
            yield str(branch), str(kind), str(label)

    def canonical_index(self, run_id: str, seq: int) -> int | None:
        """The 1-based position of event `seq` among its run's events sorted by (branch, seq); None if absent."""
        row = self._c.one(
            "select count(*) from events e, (select branch b from events where run_id = ? and seq = ?) x"
            " where e.run_id = ? and (e.branch < x.b or (e.branch = x.b and e.seq <= ?))",
            (run_id, seq, run_id, seq),
        )
        return int(row[0]) if row and row[0] else None

    def last_event_time(self, run_id: str) -> float | None:
        """When a run's last event ended (or started, if it never ended); None without events."""
        row = self._c.one("select max(coalesce(ended_at, started_at)) from events where run_id = ?", (run_id,))
        return None if row is None or row[0] is None else float(row[0])

    def event(self, run_id: str, seq: int) -> EventRecord:
        """One event with its data."""
        rows = self._c.rows("select * from events where run_id = ? and seq = ?", (run_id, seq))
        if not rows:
            raise StoreError(f"run {run_id} has no event {seq}")
        return EventRecord.from_row(rows[0])

    def iter_events(
        self,
        run_id: str,
        *,
        page: int = 1000,
        with_data: bool = True,
        after_seq: int = 0,
        limit: int | None = None,
    ) -> Iterator[EventRecord]:
        """A run's events in seq order, read `page` at a time (constant memory for any run length).

        after_seq: start after this seq. limit: at most this many events.
        """
        after, left = after_seq, limit
        while left is None or left > 0:
            n = page if left is None else min(page, left)
            batch = self.events(run_id, after_seq=after, limit=n, with_data=with_data)
            if not batch:
                return
            yield from batch
            after = batch[-1].seq
            if left is not None:
                left -= len(batch)
