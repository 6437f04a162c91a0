"""One SQLite connection per trace file per process, opened safely and shared by every `TraceStore`.

Why one: on POSIX, closing *any* descriptor of a file drops every lock the process holds on
it, so a second connection (or a plain `open()` of the file) that is closed can let another
process believe it is the last user and delete the `-wal`/`-shm` still in use. So the file is
only ever touched through SQLite, and a process-wide registry keyed by the file's real path
hands every store on that file the same `Connection` (reference counted, guarded by an RLock).

Opening a file for writing: its tables are read first (SQLite itself says whether it is a
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
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import sqlite_utils

from ponder._util.text import clean_text
from ponder.errors import StoreError
from ponder.traces.migrations import SCHEMA_VERSION_TABLE, known_migrations, migrate

OPEN_DEADLINE_S = 30.0  # how long opening waits for other processes creating or migrating the file
BUSY_TIMEOUT_MS = 30_000

_NOT_CONVERTED = (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.NotSupportedError)


def store_error(path: str, e: sqlite3.Error) -> StoreError:
    """A one-line `StoreError` that says what actually went wrong with the file at `path`."""
    name = str(getattr(e, "sqlite_errorname", "") or "")
    msg = str(e)
    low = msg.lower()
    if name.startswith("SQLITE_NOTADB") or "file is not a database" in low:
        return StoreError(f"{path} is not a SQLite database; give a ponder trace file or a new path")
    if name.startswith("SQLITE_CORRUPT") or "malformed" in low:
        return StoreError(f"{path} is corrupted ({msg}); restore it from a copy or use a new file")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in low:
        return StoreError(
            f"{path} is locked by another process ({msg}); try again when it is done, or use another --db"
        )
    if name.startswith("SQLITE_READONLY") or "readonly" in low or "read-only" in low:
        return StoreError(f"{path} is read-only here ({msg}); check the permissions of the file and its folder")
    if name.startswith(("SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")) or "unable to open" in low:
        folder = os.path.dirname(os.path.abspath(path))
        if os.path.exists(path) and not (os.access(path, os.W_OK) and os.access(folder, os.W_OK)):
            return StoreError(
                f"{path} is read-only here ({msg}): writing needs the file and its folder (for the -wal and -shm"
                " files) to be writable; reading commands (runs, show, replay, tui) can still read it"
            )
        return StoreError(f"cannot open {path} ({msg}); check that it exists and the permissions of it and its folder")
    if name.startswith("SQLITE_FULL") or "disk is full" in low:
        return StoreError(f"cannot write {path}: the disk is full")
    if name.startswith("SQLITE_IOERR") or "disk i/o" in low:
        return StoreError(f"cannot read or write {path}: an I/O error ({msg})")
    return StoreError(f"{path}: SQLite failed ({msg})")


def _convertible(e: BaseException) -> bool:
    return isinstance(e, sqlite3.DatabaseError) and not isinstance(e, _NOT_CONVERTED)


def _busy(e: sqlite3.Error) -> bool:
    name = str(getattr(e, "sqlite_errorname", "") or "")
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(e).lower()


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


class _CleanConnection(sqlite3.Connection):
    """A connection whose every bound string is UTF-8-encodable (`clean_text`): any text is stored."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        try:  # binding fails before anything runs, so cleaning only on failure is the same and cheaper
            return super().execute(sql, parameters)
        except UnicodeEncodeError:
            return super().execute(sql, _clean_params(parameters))

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        return super().executemany(sql, (_clean_params(p) for p in parameters))


def _clean_params(params: Any) -> Any:
    if isinstance(params, dict):
        return {k: clean_text(v) if isinstance(v, str) else v for k, v in params.items()}
    return [clean_text(v) if isinstance(v, str) else v for v in params]


# -- the registry ------------------------------------------------------------------------

_registry: dict[str, Connection] = {}
_registry_lock = threading.Lock()
_registry_pid = os.getpid()


def _connect(path: str, *, readonly: bool) -> sqlite3.Connection:
    if path == ":memory:":
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, factory=_CleanConnection)
    elif readonly:
        uri = "file:" + urllib.parse.quote(path) + "?mode=ro"
        try:
            conn = sqlite3.connect(
                uri, uri=True, check_same_thread=False, isolation_level=None, factory=_CleanConnection
            )
            conn.execute("select count(*) from sqlite_master").fetchone()
        except sqlite3.OperationalError:
            if os.access(path, os.W_OK) or not os.access(path, os.R_OK):
                raise
            # a WAL file nobody may write (so no -shm can be made): nothing can change it, read it as such
            conn = sqlite3.connect(
                uri + "&immutable=1", uri=True, check_same_thread=False, isolation_level=None, factory=_CleanConnection
            )
    else:
        conn = sqlite3.connect(
            path,
            check_same_thread=False,
            isolation_level=None,
            factory=_CleanConnection,
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
    conn.execute(f"pragma busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def _check_schema(path: str, conn: sqlite3.Connection, *, readonly: bool) -> None:
    """Refuse a foreign or newer database before anything is written to it."""
    tables = {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'").fetchall()}
    if tables and SCHEMA_VERSION_TABLE not in tables:
        raise StoreError(
            f"{path} is a SQLite database but not a ponder trace file (tables: "
            f"{', '.join(sorted(tables)[:5])}); give a ponder trace file or a new path"
        )
    if not tables:
        if readonly:
            raise StoreError(f"{path} holds no ponder traces yet (an empty database); run something first")
        return
    applied = {r[0] for r in conn.execute(f"select name from {SCHEMA_VERSION_TABLE}").fetchall()}
    unknown = applied - set(known_migrations())
    if unknown:
        newest = sorted(unknown)[-1]
        raise StoreError(f"{path} was written by a newer ponder (schema {newest}); upgrade ponder to read it")


def _prepare_for_writing(conn: sqlite3.Connection, *, memory: bool) -> None:
    """WAL on and the schema migrated, retried while other processes hold the file, until a deadline."""
    deadline = time.monotonic() + OPEN_DEADLINE_S
    delay = 0.005
    while True:
        try:
            if not memory:
                mode = conn.execute("pragma journal_mode").fetchone()[0]
                if str(mode).lower() != "wal":
                    conn.execute("pragma journal_mode = wal")
                conn.execute("pragma synchronous = normal")
            migrate(conn)
            return
        except sqlite3.OperationalError as e:
            if conn.in_transaction:
                conn.rollback()
            if not _busy(e) or time.monotonic() > deadline:
                raise
            time.sleep(delay)  # another process is creating or migrating the same file
            delay = min(delay * 2, 0.2)


def _open_new(path: str, *, readonly: bool, key: str | None) -> Connection:
    conn: sqlite3.Connection | None = None
    try:
        conn = _connect(path, readonly=readonly)
        _check_schema(path, conn, readonly=readonly)
        if not readonly:
            _prepare_for_writing(conn, memory=path == ":memory:")
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
