"""`TraceStore`: the SQLite file that is both what the TUI shows and what replay serves.

A facade over one module per table (`_runs`, `_events`, `_calls`, `_memory`), the browse
queries (`_browse`) and whole-store operations (`_admin`); every store on one file in a process
shares one connection (`_connection`). docs/durability.md says what is committed when:
events are group-committed (at least every `flush_interval` seconds, before every backend or
tool call, and with every other write); every other write is committed at once, or with the
rest of an `atomic()` block.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ponder.traces import _connection
from ponder.traces._admin import RECORDING_TABLES
from ponder.traces._base import new_id
from ponder.traces._browse import MAX_FILTER_CHARS, RUN_SORTS, BrowseQueries, forks_under_origins
from ponder.traces._calls import CallsTable
from ponder.traces._events import EventsTable
from ponder.traces._memory import MemoryTable
from ponder.traces._merge import MergeOps, MergeReport
from ponder.traces._runs import RunsTable, RunTotals

if TYPE_CHECKING:
    import sqlite_utils

__all__ = [
    "MAX_FILTER_CHARS",
    "RECORDING_TABLES",
    "RUN_SORTS",
    "MergeReport",
    "RunTotals",
    "TraceStore",
    "default_db_path",
    "forks_under_origins",
    "new_id",
]


def default_db_path() -> Path:
    """`$PONDER_DB`, else `traces.db` in the user data dir (~/.local/share/ponder)."""
    env = os.environ.get("PONDER_DB")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("ponder", appauthor=False)) / "traces.db"


class TraceStore(RunsTable, EventsTable, CallsTable, MemoryTable, BrowseQueries, MergeOps):
    """A trace database. `TraceStore(":memory:")` for tests; a path for everything else.

    path: the SQLite file; created (with its folder) when missing unless `create=False`.
    readonly: open it with `mode=ro` and never write (what reading commands do; a read-only
    file can be read). flush_interval: the longest events wait to be committed.
    Every `TraceStore` on one file in a process shares one connection; `close()` gives it back.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        *,
        create: bool = True,
        readonly: bool = False,
        flush_interval: float = 0.02,
    ) -> None:
        self._c = _connection.acquire(str(path), readonly=readonly, create=create)
        self._c.flush_interval = flush_interval
        self.path = self._c.path
        self.readonly = readonly
        self._closed = False

    @property
    def conn(self) -> sqlite3.Connection:
        """The shared SQLite connection (for tests and the store's own modules; take `lock` to use it)."""
        return self._c.conn

    @property
    def db(self) -> sqlite_utils.Database:
        """The shared connection as a sqlite-utils `Database`."""
        return self._c.db

    @property
    def lock(self) -> contextlib.AbstractContextManager[bool]:
        """The lock every use of the shared connection holds."""
        return self._c.lock

    @property
    def flush_interval(self) -> float:
        """The longest events wait before they are committed."""
        return self._c.flush_interval

    def flush(self) -> None:
        """Commit pending events (and the runs' `last_seq`) now."""
        if not self._c.readonly:
            self._c.flush()

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """Every write inside the block is committed together at its end, or none is (on a crash)."""
        with self._c.atomic():
            yield

    def close(self) -> None:
        """Give back this store's share of the connection (the last one commits and closes it)."""
        if self._closed:
            return
        self._closed = True
        _connection.release(self._c)

    def __enter__(self) -> TraceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
