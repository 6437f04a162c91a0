"""`TraceStore`: the SQLite file that is both what the TUI shows and what replay serves.

Events go through a raw prepared statement on the hot path and are group-committed: a
transaction is committed at least every `flush_interval` seconds, before every backend or
tool call (the recorder flushes), and with every other write. A crash therefore leaves a
consistent partial trace that lacks at most the last few milliseconds of events. Schema and
reads use sqlite-utils.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlite_utils

from ponder._secrets import redact, redact_opt
from ponder._text import clean_text
from ponder.errors import StoreError
from ponder.traces.events import (
    EventRecord,
    LLMCallRecord,
    MemoryRecord,
    RunRecord,
    ToolCallRecord,
    summarize,
)
from ponder.traces.migrations import SCHEMA_VERSION_TABLE, known_migrations, migrate

SQLITE_HEADER = b"SQLite format 3\x00"
_HOST = socket.gethostname()


def default_db_path() -> Path:
    """`$PONDER_DB`, else `traces.db` in the user data dir (~/.local/share/ponder)."""
    env = os.environ.get("PONDER_DB")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("ponder", appauthor=False)) / "traces.db"


def new_id() -> str:
    """A short random id (12 hex digits)."""
    return secrets.token_hex(6)


# sortable columns of the runs list (name -> SQL expression over `runs`)
RUN_SORTS: dict[str, str] = {
    "started_at": "started_at",
    "agent": "agent",
    "model": "model",
    "status": "status",
    "answer": "answer",
    "correct": "correct",
    "calls": "calls",
    "tokens": "(prompt_tokens + completion_tokens)",
    "cost_usd": "cost_usd",
    "wall": "(ended_at - started_at)",
    "task": "json_extract(task_json, '$.input')",
    "experiment_id": "experiment_id",
}


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Connection(sqlite3.Connection):
    """A connection whose every bound string is UTF-8-encodable (`clean_text`): any text is stored."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return super().execute(sql, _clean_params(parameters))

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        return super().executemany(sql, (_clean_params(p) for p in parameters))


def _clean_params(params: Any) -> Any:
    if isinstance(params, dict):
        return {k: clean_text(v) if isinstance(v, str) else v for k, v in params.items()}
    return [clean_text(v) if isinstance(v, str) else v for v in params]


def _dumps(obj: Any) -> str:
    # every JSON column is written through here: no secret survives into the store
    return redact(json.dumps(obj, ensure_ascii=False, default=str))


class TraceStore:
    """A trace database. `TraceStore(":memory:")` for tests; a path for everything else.

    path: the SQLite file; created (with its folder) when missing unless `create=False`.
    """

    def __init__(
        self, path: str | os.PathLike[str] = ":memory:", *, create: bool = True, flush_interval: float = 0.02
    ) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self.flush_interval = flush_interval
        self._tx_started: float | None = None
        self._dirty_seq: dict[str, int] = {}
        if self.path != ":memory:":
            p = Path(self.path).expanduser()
            if p.is_dir():
                raise StoreError(f"{p} is a directory; give the path of a trace database file (e.g. {p}/traces.db)")
            if p.exists():
                with p.open("rb") as f:
                    head = f.read(16)
                if head and head != SQLITE_HEADER:
                    raise StoreError(f"{p} is not a SQLite database; give a ponder trace file or a new path")
            elif not create:
                raise StoreError(f"{p} does not exist; run something first or pass an existing --db")
            else:
                try:
                    p.parent.mkdir(parents=True, exist_ok=True)
                except OSError as e:
                    raise StoreError(f"cannot create the folder {p.parent} for {p.name} ({e.strerror or e})") from None
            self.path = str(p)
        try:
            self.conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0, factory=_Connection)
            self.db = sqlite_utils.Database(self.conn)
            self.conn.execute("pragma busy_timeout = 30000")
            if self.path != ":memory:":
                self.db.enable_wal()
                self.conn.execute("pragma synchronous = normal")
            self._check_newer_schema()
            migrate(self.db)
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.path} cannot be used as a trace database ({e}); it may be corrupt") from e

    # -- lifecycle -------------------------------------------------------------------

    def _check_newer_schema(self) -> None:
        if SCHEMA_VERSION_TABLE not in self.db.table_names():
            return
        applied = {r["name"] for r in self.db.query(f"select name from {SCHEMA_VERSION_TABLE}")}
        unknown = applied - set(known_migrations())
        if unknown:
            raise StoreError(
                f"{self.path} was written by a newer ponder (schema {sorted(unknown)[-1]}); upgrade ponder to read it"
            )

    def flush(self) -> None:
        """Commit pending events (and the runs' `last_seq`) now."""
        with self._lock:
            if self._dirty_seq:
                self.conn.executemany(
                    "update runs set last_seq = max(last_seq, ?) where id = ?",
                    [(seq, rid) for rid, seq in self._dirty_seq.items()],
                )
                self._dirty_seq.clear()
            if self.conn.in_transaction:
                self.conn.commit()
            self._tx_started = None

    def close(self) -> None:
        with self._lock:
            try:
                self.flush()
            finally:
                self.conn.close()

    def __enter__(self) -> TraceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
        """A write committed at once, with any pending events before it."""
        with self._lock:
            try:
                yield
            except BaseException:
                self.conn.rollback()
                self._tx_started = None
                self._dirty_seq.clear()
                raise
            self.flush()

    def optimize(self) -> None:
        """ANALYZE-like upkeep, run when a top-level run closes."""
        with self._lock:
            self.conn.execute("pragma optimize")

    # -- runs ------------------------------------------------------------------------

    def create_run(
        self,
        *,
        agent: str,
        config: dict[str, Any] | None = None,
        task: dict[str, Any] | None = None,
        seed: int | None = None,
        backend: str | None = None,
        model: str | None = None,
        parent_id: str | None = None,
        experiment_id: str | None = None,
        branch: str = "",
        run_id: str | None = None,
        budget: dict[str, Any] | None = None,
    ) -> str:
        rid = run_id or new_id()
        with self._write():
            self.conn.execute(
                "insert into runs (id, parent_id, experiment_id, agent, config_json, seed, backend, model,"
                " task_json, status, started_at, branch, pid, host, budget_json)"
                " values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    rid,
                    parent_id,
                    experiment_id,
                    agent,
                    _dumps(config or {}),
                    seed,
                    backend,
                    model,
                    _dumps(task or {}),
                    "running",
                    time.time(),
                    branch,
                    os.getpid(),
                    _HOST,
                    None if budget is None else _dumps(budget),
                ),
            )
        return rid

    def finish_run(
        self,
        run_id: str,
        *,
        status: str,
        answer: str | None = None,
        correct: bool | None = None,
        score: float | None = None,
        error: str | None = None,
    ) -> None:
        with self._write():
            self.conn.execute(
                "update runs set status=?, answer=?, correct=?, score=?, error=?, ended_at=? where id=?",
                (
                    status,
                    redact_opt(answer),
                    None if correct is None else int(correct),
                    score,
                    redact_opt(error),
                    time.time(),
                    run_id,
                ),
            )

    def add_usage(
        self,
        run_id: str,
        prompt_tokens: int,
        completion_tokens: int,
        calls: int,
        cost_usd: float | None,
    ) -> None:
        with self._write():
            self.conn.execute(
                "update runs set prompt_tokens = prompt_tokens + ?, completion_tokens = completion_tokens + ?,"
                " calls = calls + ?, cost_usd = case when ? is null then cost_usd"
                " else coalesce(cost_usd, 0) + ? end where id = ?",
                (prompt_tokens, completion_tokens, calls, cost_usd, cost_usd, run_id),
            )

    def resolve_run_id(self, run_id: str) -> str:
        """The full id of the run that `run_id` names (a unique prefix is enough)."""
        run_id = run_id.strip()
        if not run_id:
            raise StoreError("no run id given; `ponder runs` lists them")
        rows = self.conn.execute(
            "select id from runs where id >= ? and id < ? order by id limit 2",
            (run_id, run_id + "\uffff"),
        ).fetchall()
        if not rows:
            raise StoreError(f"no run {run_id!r} in {self.path}; `ponder runs` lists them")
        if len(rows) > 1 and rows[0][0] != run_id:
            raise StoreError(f"run id {run_id!r} is ambiguous; give more characters")
        return str(rows[0][0])

    def get_run(self, run_id: str) -> RunRecord:
        rid = self.resolve_run_id(run_id)
        row = next(self.db.query("select * from runs where id = ?", [rid]))
        return self._run_from_row(row)

    def _run_from_row(self, row: dict[str, Any]) -> RunRecord:
        if row["status"] == "running" and row.get("host") == _HOST and not _pid_alive(row.get("pid")):
            row = {**row, "status": "interrupted"}
        return RunRecord.from_row(row)

    def list_runs(
        self,
        *,
        limit: int = 50,
        before: tuple[float, str] | None = None,
        top_level: bool = True,
        experiment_id: str | None = None,
        agent: str | None = None,
        status: str | None = None,
        text: str | None = None,
        sort: str = "started_at",
        descending: bool = True,
        offset: int = 0,
    ) -> list[RunRecord]:
        """Newest first, paged by keyset on (started_at, id): pass the last row's pair as `before`.

        sort: one of `RUN_SORTS` (then page with `offset`; `before` only pages the default order).
        """
        where: list[str] = []
        params: list[Any] = []
        if top_level:
            where.append("parent_id is null")
        if experiment_id:
            where.append("experiment_id = ?")
            params.append(experiment_id)
        if agent:
            where.append("agent = ?")
            params.append(agent)
        if status:
            where.append("status = ?")
            params.append(status)
        if text:
            where.append("(task_json like ? or answer like ? or id like ?)")
            like = f"%{text}%"
            params += [like, like, like]
        if sort not in RUN_SORTS:
            raise StoreError(f"cannot sort runs by {sort!r}; choose one of {', '.join(RUN_SORTS)}")
        keyset = sort == "started_at" and descending
        if before and keyset:
            where.append("(started_at < ? or (started_at = ? and id < ?))")
            params += [before[0], before[0], before[1]]
        sql = "select * from runs"
        if where:
            sql += " where " + " and ".join(where)
        if keyset:
            sql += " order by started_at desc, id desc limit ?"
            params.append(limit)
        else:
            d = "desc" if descending else "asc"
            sql += f" order by {RUN_SORTS[sort]} {d} nulls last, id {d} limit ? offset ?"
            params += [limit, offset]
        with self._lock:
            return [self._run_from_row(r) for r in self.db.query(sql, params)]

    def child_runs(self, run_id: str) -> list[RunRecord]:
        with self._lock:
            rows = list(self.db.query("select * from runs where parent_id = ? order by started_at, id", [run_id]))
        return [self._run_from_row(r) for r in rows]

    def descendant_run_ids(self, run_id: str) -> list[str]:
        """The run and every run below it, parents first."""
        rows = self.conn.execute(
            "with recursive t(id) as (select ? union all select r.id from runs r join t on r.parent_id = t.id)"
            " select id from t",
            (run_id,),
        ).fetchall()
        return [r[0] for r in rows]

    def count_runs(self, *, top_level: bool = False) -> int:
        sql = "select count(*) from runs" + (" where parent_id is null" if top_level else "")
        with self._lock:
            return int(self.conn.execute(sql).fetchone()[0])

    def change_marker(self) -> tuple[Any, ...]:
        """A cheap value that changes whenever a run is added, grows or finishes (to poll for changes)."""
        with self._lock:
            row = self.conn.execute(
                "select count(*), max(started_at), total(last_seq), max(coalesce(ended_at, 0)) from runs"
            ).fetchone()
        return tuple(row)

    def list_experiments(self) -> list[dict[str, Any]]:
        """Every experiment (id, name, created_at, runs), newest first."""
        with self._lock:
            return list(
                self.db.query(
                    "select e.id, e.name, e.created_at, (select count(*) from runs r where r.experiment_id = e.id)"
                    " as runs from experiments e order by e.created_at desc, e.id desc"
                )
            )

    # -- events ----------------------------------------------------------------------

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
        now = time.time()
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
            None if data is None else _dumps(data),
            started_at or now,
            ended_at if ended_at is not None else (None if status == "running" else now),
        )
        with self._lock:
            try:
                self.conn.execute(
                    "insert into events (run_id, seq, parent_seq, depth, branch, kind, label, summary, status, score,"
                    " data_json, started_at, ended_at) values (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    row,
                )
                if parent_seq is not None:
                    self.conn.execute(
                        "update events set n_children = n_children + 1 where run_id = ? and seq = ?",
                        (run_id, parent_seq),
                    )
            except BaseException:
                self.conn.rollback()
                self._dirty_seq.clear()
                self._tx_started = None
                raise
            if seq > self._dirty_seq.get(run_id, 0):
                self._dirty_seq[run_id] = seq
            if self._tx_started is None:
                self._tx_started = now
            if now - self._tx_started >= self.flush_interval:
                self.flush()

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
            params.append(_dumps(data))
        if ended:
            sets.append("ended_at = coalesce(ended_at, ?)")
            params.append(time.time())
        if not sets:
            return
        with self._write():
            self.conn.execute(
                f"update events set {', '.join(sets)} where run_id = ? and seq = ?",
                (*params, run_id, seq),
            )

    _EVENT_COLS = (
        "run_id, seq, parent_seq, depth, branch, kind, label, summary, status, score, n_children, started_at, ended_at"
    )

    def events(
        self,
        run_id: str,
        *,
        after_seq: int = 0,
        limit: int | None = None,
        with_data: bool = False,
    ) -> list[EventRecord]:
        """A run's events in seq order, paged by keyset on seq (`after_seq`)."""
        cols = self._EVENT_COLS + (", data_json" if with_data else "")
        sql = f"select {cols} from events where run_id = ? and seq > ? order by seq"
        params: list[Any] = [run_id, after_seq]
        if limit is not None:
            sql += " limit ?"
            params.append(limit)
        with self._lock:
            return [EventRecord.from_row(r) for r in self.db.query(sql, params)]

    def children(
        self, run_id: str, parent_seq: int | None, *, after_seq: int = 0, limit: int = 500
    ) -> list[EventRecord]:
        """The direct children of one event (or the top-level events for `None`), lazily paged."""
        cond = "parent_seq is null" if parent_seq is None else "parent_seq = ?"
        params: list[Any] = [run_id] + ([] if parent_seq is None else [parent_seq]) + [after_seq, limit]
        sql = f"select {self._EVENT_COLS} from events where run_id = ? and {cond} and seq > ? order by seq limit ?"
        with self._lock:
            return [EventRecord.from_row(r) for r in self.db.query(sql, params)]

    def events_by_seq(self, run_id: str, seqs: list[int]) -> list[EventRecord]:
        """Some events of a run by seq (without data), in seq order; missing seqs are skipped."""
        if not seqs:
            return []
        marks = ",".join("?" * len(seqs))
        sql = f"select {self._EVENT_COLS} from events where run_id = ? and seq in ({marks}) order by seq"
        with self._lock:
            return [EventRecord.from_row(r) for r in self.db.query(sql, [run_id, *seqs])]

    def children_before(
        self, run_id: str, parent_seq: int | None, before_seq: int, *, limit: int = 500
    ) -> list[EventRecord]:
        """The direct children of one event just before `before_seq` (at most `limit`), in seq order."""
        cond = "parent_seq is null" if parent_seq is None else "parent_seq = ?"
        params: list[Any] = [run_id] + ([] if parent_seq is None else [parent_seq]) + [before_seq, limit]
        sql = f"select {self._EVENT_COLS} from events where run_id = ? and {cond} and seq < ? order by seq desc limit ?"
        with self._lock:
            rows = [EventRecord.from_row(r) for r in self.db.query(sql, params)]
        return rows[::-1]

    def ancestors(self, run_id: str, seq: int) -> list[int]:
        """The seqs from a top-level event down to `seq` (itself included)."""
        with self._lock:
            rows = self.conn.execute(
                "with recursive a(seq, parent_seq, n) as ("
                " select seq, parent_seq, 0 from events where run_id = ? and seq = ?"
                " union all select e.seq, e.parent_seq, a.n + 1 from events e join a"
                " on e.run_id = ? and e.seq = a.parent_seq)"
                " select seq from a order by n desc",
                (run_id, seq, run_id),
            ).fetchall()
        if not rows:
            raise StoreError(f"run {run_id} has no event {seq}")
        return [int(r[0]) for r in rows]

    def event(self, run_id: str, seq: int) -> EventRecord:
        with self._lock:
            rows = list(self.db.query("select * from events where run_id = ? and seq = ?", [run_id, seq]))
        if not rows:
            raise StoreError(f"run {run_id} has no event {seq}")
        return EventRecord.from_row(rows[0])

    def iter_events(self, run_id: str, *, page: int = 1000, with_data: bool = True) -> Iterator[EventRecord]:
        after = 0
        while True:
            batch = self.events(run_id, after_seq=after, limit=page, with_data=with_data)
            if not batch:
                return
            yield from batch
            after = batch[-1].seq

    # -- llm and tool calls ----------------------------------------------------------

    def add_llm_call(
        self,
        run_id: str,
        *,
        event_seq: int | None,
        request_key: str,
        branch: str,
        sample_index: int,
        request: dict[str, Any],
        response: dict[str, Any] | None,
        prompt_tokens: int | None,
        completion_tokens: int | None,
        latency_ms: float | None,
        origin: str,
        error: str | None = None,
        attempts: list[dict[str, Any]] | None = None,
    ) -> None:
        with self._write():
            self.conn.execute(
                "insert into llm_calls (run_id, event_seq, request_key, branch, sample_index, request_json,"
                " response_json, prompt_tokens, completion_tokens, latency_ms, origin, error, created_at,"
                " attempts_json) values (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    event_seq,
                    request_key,
                    branch,
                    sample_index,
                    _dumps(request),
                    None if response is None else _dumps(response),
                    prompt_tokens,
                    completion_tokens,
                    latency_ms,
                    origin,
                    redact_opt(error),
                    time.time(),
                    None if attempts is None else _dumps(attempts),
                ),
            )

    def llm_calls(self, run_ids: str | list[str]) -> list[LLMCallRecord]:
        ids = [run_ids] if isinstance(run_ids, str) else run_ids
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self.db.query(f"select * from llm_calls where run_id in ({marks}) order by id", ids)
            return [LLMCallRecord.from_row(r) for r in rows]

    def llm_call_for_event(self, run_id: str, event_seq: int) -> LLMCallRecord | None:
        with self._lock:
            rows = list(
                self.db.query(
                    "select * from llm_calls where run_id = ? and event_seq = ?",
                    [run_id, event_seq],
                )
            )
        return LLMCallRecord.from_row(rows[0]) if rows else None

    def add_tool_call(
        self,
        run_id: str,
        *,
        event_seq: int | None,
        tool: str,
        args: Any,
        branch: str = "",
        sample_index: int = 0,
        result: str | None,
        error: str | None,
        duration_ms: float | None,
    ) -> None:
        with self._write():
            self.conn.execute(
                "insert into tool_calls (run_id, event_seq, tool, args_json, branch, sample_index, result, error,"
                " duration_ms, created_at) values (?,?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    event_seq,
                    tool,
                    _dumps(args),
                    branch,
                    sample_index,
                    redact_opt(result),
                    redact_opt(error),
                    duration_ms,
                    time.time(),
                ),
            )

    def tool_calls_for_event(self, run_id: str, event_seq: int) -> list[ToolCallRecord]:
        with self._lock:
            rows = list(
                self.db.query(
                    "select * from tool_calls where run_id = ? and event_seq = ? order by id",
                    [run_id, event_seq],
                )
            )
        return [ToolCallRecord.from_row(r) for r in rows]

    def tool_calls(self, run_ids: str | list[str]) -> list[ToolCallRecord]:
        ids = [run_ids] if isinstance(run_ids, str) else run_ids
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self.db.query(f"select * from tool_calls where run_id in ({marks}) order by id", ids)
            return [ToolCallRecord.from_row(r) for r in rows]

    # -- cache -----------------------------------------------------------------------

    def cache_get(self, key: str, sample_index: int) -> dict[str, Any] | None:
        with self._lock:
            row = self.conn.execute(
                "select response_json from llm_cache where request_key = ? and sample_index = ?",
                (key, sample_index),
            ).fetchone()
        return json.loads(row[0]) if row else None

    def cache_put(self, key: str, sample_index: int, response: dict[str, Any]) -> None:
        with self._write():
            self.conn.execute(
                "insert or replace into llm_cache (request_key, sample_index, response_json, created_at)"
                " values (?,?,?,?)",
                (key, sample_index, _dumps(response), time.time()),
            )

    # -- memory ----------------------------------------------------------------------

    def add_memory(
        self,
        namespace: str,
        content: str,
        *,
        kind: str = "reflection",
        score: float | None = None,
        run_id: str | None = None,
    ) -> int:
        with self._write():
            cur = self.conn.execute(
                "insert into memory (namespace, kind, content, score, run_id, created_at) values (?,?,?,?,?,?)",
                (namespace, kind, redact(content), score, run_id, time.time()),
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
        with self._lock:
            rows = list(self.db.query(sql, params))
        return [MemoryRecord(**r) for r in reversed(rows)]

    # -- experiments -----------------------------------------------------------------

    def create_experiment(self, name: str, config: dict[str, Any] | None = None, exp_id: str | None = None) -> str:
        eid = exp_id or new_id()
        with self._write():
            self.conn.execute(
                "insert into experiments (id, name, config_json, created_at) values (?,?,?,?)",
                (eid, name, _dumps(config or {}), time.time()),
            )
        return eid

    def get_experiment(self, exp_id: str) -> dict[str, Any]:
        with self._lock:
            rows = list(
                self.db.query(
                    "select * from experiments where id >= ? and id < ? order by id limit 2",
                    [exp_id, exp_id + "\uffff"],
                )
            )
        if not rows:
            raise StoreError(f"no experiment {exp_id!r} in {self.path}")
        if len(rows) > 1 and rows[0]["id"] != exp_id:
            raise StoreError(f"experiment id {exp_id!r} is ambiguous; give more characters")
        row = rows[0]
        return {**row, "config": json.loads(row["config_json"])}
