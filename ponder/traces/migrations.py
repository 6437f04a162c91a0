"""Schema migrations: small functions over sqlite-utils, applied once each, in order (as in simonw/llm)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils

Migration = Callable[["sqlite_utils.Database"], None]
MIGRATIONS: list[Migration] = []
SCHEMA_VERSION_TABLE = "_ponder_migrations"


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply every migration not yet applied, in one `BEGIN IMMEDIATE` transaction; returns their names.

    The applied list is read inside the transaction, so processes migrating the same file at
    once apply each migration exactly once. A migration runs its statements with `db.execute`
    (never `executescript`, which would commit half-way). An up-to-date file is checked with
    plain SQL: sqlite-utils (and the numpy it imports when installed) loads only to migrate.
    """
    if conn.in_transaction:
        conn.commit()
    known = {fn.__name__ for fn in MIGRATIONS}
    # up to date: no write lock needed
    has_table = conn.execute(
        "select 1 from sqlite_master where type = 'table' and name = ?", [SCHEMA_VERSION_TABLE]
    ).fetchone()
    if has_table and known <= {r[0] for r in conn.execute(f"select name from {SCHEMA_VERSION_TABLE}").fetchall()}:
        return []
    import sqlite_utils

    db = sqlite_utils.Database(conn)
    conn.execute("begin immediate")
    try:
        conn.execute(f"create table if not exists {SCHEMA_VERSION_TABLE} (name text primary key, applied_at float)")
        done = {r[0] for r in conn.execute(f"select name from {SCHEMA_VERSION_TABLE}").fetchall()}
        applied = []
        for fn in MIGRATIONS:
            if fn.__name__ in done:
                continue
            fn(db)
            conn.execute(
                f"insert into {SCHEMA_VERSION_TABLE} (name, applied_at) values (?, ?)",
                [fn.__name__, time.time()],
            )
            applied.append(fn.__name__)
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        raise
    conn.commit()
    return applied


def execute_script(db: sqlite_utils.Database, script: str) -> None:
    """Run `;`-separated statements one by one, inside the caller's transaction."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def known_migrations() -> list[str]:
    """The names of every migration this ponder knows, in order."""
    return [fn.__name__ for fn in MIGRATIONS]


# the first schema, one constant per table with its indexes (their text is what sqlite_master keeps:
# left as first written, so a new store's schema reads as every recorded one's)
_RUNS = """
        create table runs (
            id text primary key,
            parent_id text,
            experiment_id text,
            agent text not null,
            config_json text not null default '{}',
            seed integer,
            backend text,
            model text,
            task_json text not null default '{}',
            status text not null default 'running',
            answer text,
            correct integer,
            score real,
            prompt_tokens integer not null default 0,
            completion_tokens integer not null default 0,
            calls integer not null default 0,
            cost_usd real,
            last_seq integer not null default 0,
            started_at real not null,
            ended_at real,
            error text,
            branch text not null default '',
            pid integer,
            host text
        );
        create index runs_started on runs(started_at, id);
        create index runs_parent on runs(parent_id);
        create index runs_experiment on runs(experiment_id);
"""
_EVENTS = """
        create table events (
            id integer primary key,
            run_id text not null references runs(id),
            seq integer not null,
            parent_seq integer,
            depth integer not null default 0,
            branch text not null default '',
            kind text not null,
            label text not null default '',
            summary text not null default '',
            status text not null default 'ok',
            score real,
            data_json text,
            n_children integer not null default 0,
            started_at real not null,
            ended_at real
        );
        create unique index events_run_seq on events(run_id, seq);
        create index events_children on events(run_id, parent_seq, seq);
"""
_LLM_CALLS = """
        create table llm_calls (
            id integer primary key,
            run_id text not null references runs(id),
            event_seq integer,
            request_key text not null,
            branch text not null default '',
            sample_index integer not null default 0,
            request_json text not null,
            response_json text,
            prompt_tokens integer,
            completion_tokens integer,
            latency_ms real,
            origin text not null default 'live',
            error text,
            created_at real not null
        );
        create index llm_calls_run on llm_calls(run_id, id);
        create index llm_calls_key on llm_calls(request_key);
"""
_TOOL_CALLS = """
        create table tool_calls (
            id integer primary key,
            run_id text not null references runs(id),
            event_seq integer,
            tool text not null,
            args_json text not null,
            branch text not null default '',
            sample_index integer not null default 0,
            result text,
            error text,
            duration_ms real,
            created_at real not null
        );
        create index tool_calls_run on tool_calls(run_id, id);
"""
_MEMORY = """
        create table memory (
            id integer primary key,
            namespace text not null,
            kind text not null default 'reflection',
            content text not null,
            score real,
            run_id text,
            created_at real not null
        );
        create index memory_ns on memory(namespace, id);
"""
_LLM_CACHE = """
        create table llm_cache (
            request_key text not null,
            sample_index integer not null default 0,
            response_json text not null,
            created_at real not null,
            primary key (request_key, sample_index)
        );
"""
_EXPERIMENTS = """
        create table experiments (
            id text primary key,
            name text not null,
            config_json text not null default '{}',
            created_at real not null
        );
"""


@migration
def m001_initial(db: sqlite_utils.Database) -> None:
    execute_script(db, "".join((_RUNS, _EVENTS, _LLM_CALLS, _TOOL_CALLS, _MEMORY, _LLM_CACHE, _EXPERIMENTS)))


@migration
def m002_run_budget(db: sqlite_utils.Database) -> None:
    # the budget a run was given, so that its replay applies the same limits
    db.execute("alter table runs add column budget_json text")


@migration
def m003_llm_call_attempts(db: sqlite_utils.Database) -> None:
    # every HTTP attempt of a call (status, error, latency), so a trace shows the retries
    db.execute("alter table llm_calls add column attempts_json text")


@migration
def m004_run_forked_from(db: sqlite_utils.Database) -> None:
    # a fork names its origin run, the event it changed and the edit (ponder fork)
    db.execute("alter table runs add column forked_from_json text")


@migration
def m005_run_totals(db: sqlite_utils.Database) -> None:
    # a run's totals with its child runs' (Reflexion's trials), kept on its row as calls come in
    for column, kind in (
        ("total_calls", "integer not null default 0"),
        ("total_prompt_tokens", "integer not null default 0"),
        ("total_completion_tokens", "integer not null default 0"),
        ("total_cost_usd", "real"),
    ):
        db.execute(f"alter table runs add column {column} {kind}")
    rows = db.execute("select id, parent_id, calls, prompt_tokens, completion_tokens, cost_usd from runs").fetchall()
    parent = {r[0]: r[1] for r in rows}
    totals: dict[str, list[float | None]] = {r[0]: [0, 0, 0, None] for r in rows}
    for rid, _, calls, pt, ct, cost in rows:
        node: str | None = rid
        seen: set[str] = set()
        while node is not None and node in totals and node not in seen:
            seen.add(node)
            t = totals[node]
            t[0] = (t[0] or 0) + calls
            t[1] = (t[1] or 0) + pt
            t[2] = (t[2] or 0) + ct
            if cost is not None:
                t[3] = (t[3] or 0.0) + cost
            node = parent[node]
    db.conn.executemany(
        "update runs set total_calls = ?, total_prompt_tokens = ?, total_completion_tokens = ?, total_cost_usd = ?"
        " where id = ?",
        [(*t, rid) for rid, t in totals.items()],
    )


@migration
def m006_run_env(db: sqlite_utils.Database) -> None:
    # the env a run was given (ctx.env: its name and options), so that replay and fork rebuild it
    db.execute("alter table runs add column env_json text")


@migration
def m007_run_metrics(db: sqlite_utils.Database) -> None:
    # task-specific figures of a run's answer (Graph of Thoughts' sorting `errors`), from the env's evaluation
    db.execute("alter table runs add column metrics_json text")


@migration
def m008_run_eval_error(db: sqlite_utils.Database) -> None:
    # why a run's answer could not be judged (the env's check itself failed: no sandbox), apart from wrong answers
    db.execute("alter table runs add column eval_error text")
