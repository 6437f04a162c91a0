"""One SQLite connection per trace file per process, opened safely and shared by every `TraceStore`.

Why one: on POSIX, closing *any* descriptor of a file drops every lock the process holds on
it, so a second connection (or a plain `open()` of the file) that is closed can let another
process believe it is the last user and delete the `-wal`/`-shm` still in use. So the file is
only ever touched through SQLite, and a process-wide registry keyed by the file's real path
hands every store on that file the same `Connection` (reference counted, guarded by an RLock).

Opening a file for writing (`_open`): its tables are read first (SQLite itself says whether it is a
database at all); a non-empty database without ponder's migrations table is refused before
anything is written; only then is WAL switched on and the schema migrated, in one
`BEGIN IMMEDIATE` transaction, retried until a deadline while other processes do the same.
Reading commands open with `mode=ro` and never write.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import sqlite_utils

from ponder.errors import StoreError
from ponder.traces._open import check_schema, connect, prepare_for_writing, store_error

_NOT_CONVERTED = (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.NotSupportedError)


def _convertible(e: BaseException) -> bool:
    return isinstance(e, sqlite3.DatabaseError) and not isinstance(e, _NOT_CONVERTED)


class Connection:
    """The one connection of this process to one trace file, and its pending group commit.

    Every statement runs under `lock`. Events are group-committed: `pending_seq` holds the
    highest seq written per run since the last commit, `tx_started` when that transaction
    began; `flush()` commits. `atomic_depth` > 0 defers commits to the end of an `atomic()` block.
    """

    def __init__(self, path: str, conn: sqlite3.Connection, *, readonly: bool, key: str | None) -> None:
        self.path = path
        self.key = key
        self.conn = conn
        self.readonly = readonly
        self._db: sqlite_utils.Database | None = None
        self.lock = threading.RLock()
        self.refs = 0
        self.flush_interval = 0.02
        self.tx_started: float | None = None
        self.pending_seq: dict[str, int] = {}
        self.atomic_depth = 0
        self.optimized_at = float("-inf")  # when `pragma optimize` last ran (time.monotonic)

    @property
    def db(self) -> sqlite_utils.Database:
        """The connection as a sqlite-utils `Database` (made on first use: importing sqlite-utils is not free)."""
        if self._db is None or self._db.conn is not self.conn:
            import sqlite_utils

            self._db = sqlite_utils.Database(self.conn)
        return self._db

    # -- statements --------------------------------------------------------------------

    def errors(self) -> _Errors:
        """Turn SQLite's operational errors into one-line `StoreError`s naming the file."""
        return _Errors(self)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Every row of a query, as dicts."""
        with self.lock, self.errors():
            cur = self.conn.execute(sql, params)
            cols = [d[0] for d in cur.description or ()]
            return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """The first row of a query as a tuple (None when there is none)."""
        with self.lock, self.errors():
            row = self.conn.execute(sql, params).fetchone()
        return None if row is None else tuple(row)

    def column(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The first column of every row of a query."""
        with self.lock, self.errors():
            return [r[0] for r in self.conn.execute(sql, params).fetchall()]

    def iter_rows(self, sql: str, params: Sequence[Any] = (), *, page: int = 1000) -> Iterator[dict[str, Any]]:
        """The rows of a query fetched `page` at a time (the lock is held only while fetching)."""
        with self.lock, self.errors():
            cur = self.conn.execute(sql, params)
            cols = [d[0] for d in cur.description or ()]
        while True:
            with self.lock, self.errors():
                batch = cur.fetchmany(page)
            if not batch:
                return
            for r in batch:
                yield dict(zip(cols, r, strict=True))

    def iter_tuples(self, sql: str, params: Sequence[Any] = (), *, page: int = 1000) -> Iterator[tuple[Any, ...]]:
        """The rows of a query as plain tuples, fetched `page` at a time (for long scans: no dict per row)."""
        with self.lock, self.errors():
            cur = self.conn.execute(sql, params)
        while True:
            with self.lock, self.errors():
                batch = cur.fetchmany(page)
            if not batch:
                return
            yield from batch

    # -- writes --------------------------------------------------------------------------

    def _check_writable(self) -> None:
        if self.readonly:
            raise StoreError(f"{self.path} was opened read-only; ponder cannot write to it here")

    def begin(self) -> None:
        """Start a write transaction unless one is open (`BEGIN IMMEDIATE`: waits for other writers)."""
        self._check_writable()
        if not self.conn.in_transaction:
            self.conn.execute("begin immediate")
            self.tx_started = time.time()

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write of its own: applied whole or not at all, committed at once (or at `atomic()`'s end).

        A failure undoes only this write (a savepoint), never the pending events of other runs.
        """
        with self.lock, self.errors():
            # with nothing pending, a rollback undoes just this write: no savepoint needed
            pending = self.conn.in_transaction
            self.begin()
            if pending:
                self.conn.execute("savepoint ponder_write")
            try:
                yield self.conn
            except BaseException:
                if not self.conn.in_transaction:
                    self.pending_seq.clear()
                    self.tx_started = None
                elif pending:
                    self.conn.execute("rollback to ponder_write")
                    self.conn.execute("release ponder_write")
                else:
                    self.conn.rollback()
                    self.tx_started = None
                raise
            if pending:
                self.conn.execute("release ponder_write")
            self.flush()

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """Writes inside the block are committed together when it ends; an exception undoes them all."""
        with self.lock:
            outer = self.atomic_depth == 0 and not self.readonly
            # with nothing pending, a rollback undoes just this block: no savepoint needed
            savepoint = outer and self.conn.in_transaction
            if outer:
                with self.errors():
                    self.begin()
                    if savepoint:
                        self.conn.execute("savepoint ponder_atomic")
            self.atomic_depth += 1
            try:
                yield
            except BaseException:
                self.atomic_depth -= 1
                if outer and self.conn.in_transaction:
                    with self.errors():
                        if savepoint:
                            self.conn.execute("rollback to ponder_atomic")
                            self.conn.execute("release ponder_atomic")
                        else:
                            self.conn.rollback()
                            self.pending_seq.clear()
                            self.tx_started = None
                raise
            self.atomic_depth -= 1
            if outer:
                if savepoint:
                    with self.errors():
                        self.conn.execute("release ponder_atomic")
                self.flush()

    def flush(self) -> None:
        """Commit pending writes (and the runs' `last_seq`) now, unless inside `atomic()`."""
        with self.lock, self.errors():
            if self.atomic_depth:
                return
            if self.pending_seq:
                self.conn.executemany(
                    "update runs set last_seq = max(last_seq, ?) where id = ?",
                    [(seq, rid) for rid, seq in self.pending_seq.items()],
                )
                self.pending_seq.clear()
            if self.conn.in_transaction:
                self.conn.commit()
            self.tx_started = None

    def close(self) -> None:
        """Commit what is pending and close the connection."""
        with self.lock:
            try:
                if not self.readonly:
                    self.flush()
            finally:
                self.conn.close()


class _Errors:
    """`Connection.errors()`: a class, not a generator context manager, for it wraps every statement."""

    __slots__ = ("c",)

    def __init__(self, c: Connection) -> None:
        self.c = c

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, e: BaseException | None, tb: object) -> Literal[False]:
        if e is None or not _convertible(e):
            return False
        c = self.c
        if not c.conn.in_transaction:  # SQLite rolled the transaction back: pending writes are gone
            c.pending_seq.clear()
            c.tx_started = None
        assert isinstance(e, sqlite3.Error)
        raise store_error(c.path, e) from e


# -- the registry ------------------------------------------------------------------------

_registry: dict[str, Connection] = {}
_registry_lock = threading.Lock()
_registry_pid = os.getpid()


def _open_new(path: str, *, readonly: bool, key: str | None) -> Connection:
    conn: sqlite3.Connection | None = None
    try:
        conn = connect(path, readonly=readonly)
        check_schema(path, conn, readonly=readonly)
        if not readonly:
            prepare_for_writing(conn, memory=path == ":memory:")
    except sqlite3.Error as e:
        if conn is not None:
            conn.close()
        raise store_error(path, e) from e
    except BaseException:
        if conn is not None:
            conn.close()
        raise
    return Connection(path, conn, readonly=readonly, key=key)


def acquire(path: str, *, readonly: bool = False, create: bool = True) -> Connection:
    """This process's connection to the trace file at `path` (opened, checked and migrated on first use).

    `":memory:"` gets a connection of its own. `readonly`: open with `mode=ro` and never write;
    a file already open for writing in this process is shared as it is. A read-only connection is
    replaced by a writable one when a writer asks for the file.
    """
    global _registry, _registry_pid
    if path == ":memory:":
        mem = _open_new(path, readonly=False, key=None)
        mem.refs = 1
        return mem
    p = Path(path).expanduser()
    if p.is_dir():
        raise StoreError(f"{p} is a directory; give the path of a trace database file (e.g. {p}/traces.db)")
    with _registry_lock:
        if _registry_pid != os.getpid():  # a forked child: the parent's connections are not ours to use or close
            _registry, _registry_pid = {}, os.getpid()
        key = os.path.realpath(p)
        c = _registry.get(key)
        if c is not None:
            if c.readonly and not readonly:
                fresh = _open_new(str(p), readonly=False, key=key)
                with c.lock:
                    old, c.conn, c.readonly = c.conn, fresh.conn, False
                old.close()
            c.refs += 1
            return c
        if not p.exists():
            if not create:
                raise StoreError(f"{p} does not exist; run something first or pass an existing --db")
            try:
                p.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"cannot create the folder {p.parent} for {p.name} ({e.strerror or e})") from None
        c = _open_new(str(p), readonly=readonly, key=key)
        c.refs = 1
        _registry[key] = c
        return c


def release(c: Connection) -> None:
    """Give back one reference; the last one commits and closes the connection."""
    with _registry_lock:
        c.refs -= 1
        if c.refs > 0:
            return
        if c.key is not None and _registry.get(c.key) is c:
            del _registry[c.key]
    c.close()
