"""Opening a trace file: connect (read-only or not), check it is ponder's, switch on WAL and migrate.

Each step says what went wrong in one line (`store_error`). Writing waits for other processes
creating or migrating the same file until a deadline. `_connection` keeps the one connection per
file per process that these open.
"""

from __future__ import annotations

import os
import sqlite3
import time
import urllib.parse
from typing import Any

from ponder._util.text import clean_text
from ponder.errors import StoreError
from ponder.traces.migrations import SCHEMA_VERSION_TABLE, known_migrations, migrate

OPEN_DEADLINE_S = 30.0  # how long opening waits for other processes creating or migrating the file
BUSY_TIMEOUT_MS = 30_000


def _busy(e: sqlite3.Error) -> bool:
    name = str(getattr(e, "sqlite_errorname", "") or "")
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(e).lower()


def store_error(path: str, e: sqlite3.Error) -> StoreError:
    """A one-line `StoreError` that says what actually went wrong with the file at `path`."""
    name = str(getattr(e, "sqlite_errorname", "") or "")
    msg = str(e)
    low = msg.lower()
    if name.startswith("SQLITE_NOTADB") or "file is not a database" in low:
        return StoreError(f"{path} is not a SQLite database; give a ponder trace file or a new path")
    if name.startswith("SQLITE_CORRUPT") or "malformed" in low:
        return StoreError(f"{path} is corrupted ({msg}); restore it from a copy or use a new file")
    if _busy(e):
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


def connect(path: str, *, readonly: bool) -> sqlite3.Connection:
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


def check_schema(path: str, conn: sqlite3.Connection, *, readonly: bool) -> None:
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


def prepare_for_writing(conn: sqlite3.Connection, *, memory: bool) -> None:
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
