"""Loading a JSONL file into a search corpus: thousands of pages per transaction, resumable.

Each transaction adds `BATCH_PAGES` lines' pages and notes in the corpus's `builds` table how far
into the file it got (byte offset, line, counts), so an interrupted build — Ctrl-C, a kill, a
full disk — goes on from the last committed batch when the same command runs again. The file is
recognised by its real path, size and modification time: a file that changed is loaded from
its start. A file already loaded whole is not loaded again unless `restart`.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from ponder._util.jsonl import iter_jsonl_at
from ponder.errors import ConfigError

if TYPE_CHECKING:
    from ponder.tools.search import Corpus

BATCH_PAGES = 5000
BUILDS_SCHEMA = """
create table if not exists builds (
  source text primary key, size integer not null, mtime_ns integer not null, offset integer not null,
  line integer not null, added integer not null, replaced integer not null, bad integer not null,
  done integer not null
);
"""

Progress = Callable[[int, int, int], None]  # (bytes read, bytes in all, pages so far)
_WORD = re.compile(r"\w+", re.UNICODE)


def normalize_title(title: str) -> str:
    """How titles are compared: case-folded words, punctuation and underscores dropped."""
    return " ".join(_WORD.findall(title.replace("_", " ").casefold()))


class BadLine(BaseModel):
    """A corpus line that was skipped, and why."""

    line: int
    reason: str


class BuildReport(BaseModel):
    """What a build did: pages added or replaced, bad lines skipped (the first few listed).

    Counts are of the whole file, batches of an interrupted earlier build included.
    resumed_at_line: the line a resumed build went on from (None: it started at the top).
    already_built: the file had been loaded whole before (nothing was done).
    """

    db: str
    added: int = 0
    replaced: int = 0
    bad: int = 0
    bad_lines: list[BadLine] = Field(default_factory=list)
    resumed_at_line: int | None = None
    already_built: bool = False

    def summary(self) -> str:
        """The report as lines of text."""
        if self.already_built:
            return (
                f"already built: {self.added} pages added, {self.replaced} replaced, {self.bad} bad lines -> "
                f"{self.db} (--restart loads the file again)"
            )
        resumed = f" (resumed at line {self.resumed_at_line:,})" if self.resumed_at_line else ""
        s = f"{self.added} pages added, {self.replaced} replaced, {self.bad} bad lines skipped -> {self.db}{resumed}"
        for b in self.bad_lines:
            s += f"\n  line {b.line}: {b.reason}"
        if self.bad > len(self.bad_lines):
            s += f"\n  … and {self.bad - len(self.bad_lines)} more"
        return s


def _why_bad(obj: dict[str, Any] | None, reason: str, normalize: Callable[[str], str]) -> str:
    if obj is None:
        return reason.replace("an object", "an object with title and text")
    if not isinstance(obj.get("title"), str) or not normalize(obj["title"]):
        return "missing or empty 'title'"
    if not isinstance(obj.get("text"), str) or not obj["text"].strip():
        return "missing or empty 'text'"
    return ""


def load(
    corpus: Corpus,
    path: str | os.PathLike[str],
    *,
    max_listed: int = 10,
    batch: int = BATCH_PAGES,
    restart: bool = False,
    progress: Progress | None = None,
) -> BuildReport:
    """Add every good line of the JSONL file at `path` to `corpus` (see the module doc)."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise ConfigError(f"cannot read corpus file {path}: {e.strerror or e}") from None
    source = os.path.realpath(path)
    conn = corpus.conn
    report = BuildReport(db=corpus.path)
    offset = line = 0
    with corpus.lock:
        row = conn.execute(
            "select size, mtime_ns, offset, line, added, replaced, bad, done from builds where source = ?", (source,)
        ).fetchone()
    if row is not None and not restart and (row[0], row[1]) == (st.st_size, st.st_mtime_ns):
        report.added, report.replaced, report.bad = row[4], row[5], row[6]
        if row[7]:
            report.already_built = True
            return report
        offset, line = row[2], row[3]
        report.resumed_at_line = line + 1 if line else None
    with corpus.lock:  # a large in-memory buffer of index terms: one flush per batch, not dozens
        conn.execute("pragma cache_size = -32768")
        with contextlib.suppress(sqlite3.OperationalError):  # an SQLite without the option: slower, the same
            conn.execute("insert into pages_fts(pages_fts, rank) values ('hashsize', ?)", (32 * 1024 * 1024,))
    pages: dict[str, tuple[str, str]] = {}  # norm -> (title, text): a later line with the title wins
    repeats = 0  # lines of this batch whose title an earlier line of it had

    def commit(done: bool) -> None:
        nonlocal repeats
        with corpus.lock, conn:  # one transaction: the pages, their index, and how far the build got
            first: int | None = None
            for norm, (title, text) in pages.items():
                if conn.execute("delete from pages where norm = ?", (norm,)).rowcount:
                    report.replaced += 1
                else:
                    report.added += 1
                cur = conn.execute("insert into pages (title, norm, text) values (?,?,?)", (title, norm, text))
                first = cur.lastrowid if first is None else first
            if first is not None:  # the batch indexed in one statement (new rows have the highest ids)
                conn.execute(
                    "insert into pages_fts(rowid, title, text) select id, title, text from pages where id >= ?",
                    (first,),
                )
            report.replaced += repeats
            conn.execute(
                "insert or replace into builds values (?,?,?,?,?,?,?,?,?)",
                (source, st.st_size, st.st_mtime_ns, at, line, report.added, report.replaced, report.bad, int(done)),
            )
        pages.clear()
        repeats = 0
        if progress is not None:
            progress(at, st.st_size, report.added + report.replaced)

    try:
        for n, obj, reason, end in iter_jsonl_at(path, offset=offset, line=line, what="corpus file"):
            line, at = n, end
            why = _why_bad(obj, reason, normalize_title)
            if why or obj is None:
                report.bad += 1
                if len(report.bad_lines) < max_listed:
                    report.bad_lines.append(BadLine(line=line, reason=why))
                continue
            norm = normalize_title(obj["title"])
            repeats += norm in pages
            pages[norm] = (obj["title"].strip(), obj["text"])
            if len(pages) >= batch:
                commit(False)
        commit(True)
    except sqlite3.DatabaseError as e:
        raise ConfigError(f"cannot write the corpus {corpus.path} ({e}); run the same command again to go on") from None
    return report
