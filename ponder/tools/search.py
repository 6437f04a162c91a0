"""`search` / `lookup`: the ReAct paper's Wikipedia tools over a local SQLite FTS5 corpus (bm25 ranking).

A corpus is built from JSONL lines `{"title": ..., "text": ...}` by `build_corpus` (the CLI's
`ponder corpus build FILE --db PATH`). User text never reaches FTS5 as an expression: each
word is quoted as an FTS5 string literal.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ponder.errors import ConfigError, ToolError
from ponder.tools.base import ToolOptions, parse_args
from ponder.tools.corpus_build import BUILDS_SCHEMA, BuildReport, Progress, load, normalize_title
from ponder.tools.corpus_build import BadLine as BadLine  # named here too, where corpora were built before
from ponder.types import ToolSpec

FIRST_SENTENCES = 5
SIMILAR = 5
MAX_SENTENCE_CHARS = 400  # a "sentence" longer than this (a page with no sentence ends) is split further
OBSERVATION_CHARS = 2000  # the most a search or lookup observation holds; beyond it the cut is said

# pages are indexed by whoever inserts them (`Corpus.add`, a batch of `corpus_build`): an insert
# trigger indexing each page as it comes is a third as fast as indexing a batch in one statement
_SCHEMA = (
    """
create table if not exists pages (
  id integer primary key, title text not null, norm text not null unique, text text not null
);
create virtual table if not exists pages_fts using fts5(title, text, content='pages', content_rowid='id',
    tokenize='porter unicode61');
drop trigger if exists pages_ai;
create trigger if not exists pages_ad after delete on pages begin
  insert into pages_fts(pages_fts, rowid, title, text) values ('delete', old.id, old.title, old.text);
end;
"""
    + BUILDS_SCHEMA
)

_WORD = re.compile(r"\w+", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def fts_query(text: str, *, op: str = "OR") -> str | None:
    """An FTS5 MATCH expression for user text: each word quoted as a string literal; None if no words."""
    words = _WORD.findall(text)
    if not words:
        return None
    return f" {op} ".join('"' + w.replace('"', '""') + '"' for w in words[:32])


def split_sentences(text: str) -> list[str]:
    """A page's sentences: split at sentence ends, then a piece longer than `MAX_SENTENCE_CHARS` at
    its line breaks, then at the last space before the limit (or at the limit)."""
    out: list[str] = []
    for sentence in _SENTENCE_END.split(text.strip()):
        pieces = [sentence] if len(sentence) <= MAX_SENTENCE_CHARS else sentence.splitlines()
        for piece in pieces:
            out.extend(_chunks(piece.strip()))
    return out


def _chunks(piece: str) -> list[str]:
    """`piece` in parts of at most `MAX_SENTENCE_CHARS`, cut at a space where there is one (linear time)."""
    parts: list[str] = []
    start, n = 0, len(piece)
    while n - start > MAX_SENTENCE_CHARS:
        limit = start + MAX_SENTENCE_CHARS
        cut = piece.rfind(" ", start + MAX_SENTENCE_CHARS // 2, limit + 1)
        cut = cut if cut > start else limit
        parts.append(piece[start:cut].rstrip())
        start = cut
        while start < n and piece[start] == " ":
            start += 1
    if start < n:
        parts.append(piece[start:])
    return [p for p in parts if p]


def bounded(observation: str) -> str:
    """`observation` cut to `OBSERVATION_CHARS`, the cut said in it (so the trace records the cap)."""
    if len(observation) <= OBSERVATION_CHARS:
        return observation
    note = f" … [cut at {OBSERVATION_CHARS} characters]"
    return observation[: OBSERVATION_CHARS - len(note)] + note


class Corpus:
    """A searchable set of pages in SQLite (FTS5, bm25). `Corpus(":memory:")` for an in-memory one."""

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True) -> None:
        self.path = str(path)
        if self.path != ":memory:" and not create and not Path(self.path).is_file():
            raise ConfigError(f"no corpus at {self.path}; build one with `ponder corpus build FILE --db {self.path}`")
        try:
            self.conn = sqlite3.connect(self.path, check_same_thread=False)
            self.conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise ConfigError(f"{self.path} is not a usable corpus database ({e})") from None
        self.lock = threading.Lock()  # one statement or transaction at a time on the shared connection

    def close(self) -> None:
        self.conn.close()

    def __len__(self) -> int:
        with self.lock:
            return int(self.conn.execute("select count(*) from pages").fetchone()[0])

    def add(self, title: str, text: str) -> bool:
        """Add a page (replacing one with the same normalized title); True if it replaced one."""
        norm = normalize_title(title)
        with self.lock, self.conn:
            old = self.conn.execute("delete from pages where norm = ?", (norm,)).rowcount
            cur = self.conn.execute("insert into pages (title, norm, text) values (?,?,?)", (title.strip(), norm, text))
            self.conn.execute(
                "insert into pages_fts(rowid, title, text) values (?,?,?)", (cur.lastrowid, title.strip(), text)
            )
        return bool(old)

    def load_jsonl(
        self,
        path: str | os.PathLike[str],
        *,
        max_listed: int = 10,
        restart: bool = False,
        progress: Progress | None = None,
    ) -> BuildReport:
        """Add every good line of a JSONL file, thousands of pages per transaction, resumable
        (`corpus_build`); bad lines are counted and the first `max_listed` reported."""
        return load(self, path, max_listed=max_listed, restart=restart, progress=progress)

    def page(self, title: str) -> tuple[str, str] | None:
        """(title, text) of the page whose normalized title is `title`'s."""
        with self.lock:
            row = self.conn.execute(
                "select title, text from pages where norm = ?", (normalize_title(title),)
            ).fetchone()
        return (row[0], row[1]) if row else None

    def search(self, text: str, *, limit: int = SIMILAR) -> list[tuple[str, str]]:
        """Pages matching any word of `text`, best (bm25, titles weighted up) first."""
        q = fts_query(text)
        if q is None:
            return []
        with self.lock:
            rows = self.conn.execute(
                "select p.title, p.text from pages_fts f join pages p on p.id = f.rowid"
                " where pages_fts match ? order by bm25(pages_fts, 10.0, 1.0) limit ?",
                (q, limit),
            ).fetchall()
        return [(r[0], r[1]) for r in rows]


def build_corpus(
    jsonl: str | os.PathLike[str],
    db: str | os.PathLike[str],
    *,
    restart: bool = False,
    progress: Progress | None = None,
) -> BuildReport:
    """Build (or add to, or go on building) the corpus database `db` from a JSONL file of `{"title", "text"}` lines.

    restart: load the file from its start even if an earlier build of it finished or was cut off.
    progress: called after each batch with (bytes read, bytes in all, pages so far).
    """
    if str(db) != ":memory:":
        Path(db).parent.mkdir(parents=True, exist_ok=True)
    corpus = Corpus(db)
    try:
        return corpus.load_jsonl(jsonl, restart=restart, progress=progress)
    finally:
        corpus.close()


def example_corpus_file() -> Path:
    """The small example corpus shipped with ponder (pages the example QA tasks need)."""
    return Path(str(resources.files("ponder.envs") / "data" / "corpus.jsonl"))


_example: Corpus | None = None
_example_lock = threading.Lock()
_opened: dict[str, Corpus] = {}


def open_corpus(path: str | os.PathLike[str] | None = None, *, near: str | None = None) -> Corpus:
    """The corpus to search: `path` (a database, or a `.jsonl` page file built in memory), else
    `$PONDER_CORPUS`, else `corpus.db` next to the trace db `near` if it exists, else the shipped
    example corpus (built in memory once per process)."""
    global _example
    chosen = path or os.environ.get("PONDER_CORPUS")
    if not chosen and near and near != ":memory:" and (Path(near).parent / "corpus.db").is_file():
        chosen = str(Path(near).parent / "corpus.db")
    with _example_lock:
        if chosen:
            key = str(Path(chosen).resolve())
            if key not in _opened and key.endswith(".jsonl"):  # a page file: built in memory once
                made = Corpus(":memory:")
                made.load_jsonl(key)
                _opened[key] = made
            if key not in _opened:  # one connection per corpus file per process
                _opened[key] = Corpus(chosen, create=False)
            return _opened[key]
        if _example is None:
            c = Corpus(":memory:")
            c.load_jsonl(example_corpus_file())
            _example = c
        return _example


@dataclass
class WikiSession:
    """The page `search` last found, and where `lookup` is in it (state of one run or branch)."""

    title: str | None = None
    sentences: list[str] = field(default_factory=list)
    keyword: str | None = None
    hits: list[str] = field(default_factory=list)
    next_hit: int = 0


class EntityArgs(BaseModel):
    """Arguments of `search`."""

    entity: str = Field(description="The title or name to look up, e.g. Apple Remote")


class KeywordArgs(BaseModel):
    """Arguments of `lookup`."""

    keyword: str = Field(description="A word or phrase to find in the current page")


class _WikiTool:
    name = ""
    description = ""
    timeout: float | None = 10.0
    args_model: type[BaseModel] = BaseModel

    def __init__(self, corpus: Corpus | None = None, session: WikiSession | None = None, *, corpus_path: Any = None):
        self._corpus = corpus
        self._corpus_path = corpus_path
        self.session = session if session is not None else WikiSession()

    @property
    def corpus(self) -> Corpus:
        if self._corpus is None:
            self._corpus = open_corpus(self._corpus_path)
        return self._corpus

    def spec(self) -> ToolSpec:
        schema = self.args_model.model_json_schema()
        schema.pop("title", None)
        return ToolSpec(name=self.name, description=self.description, parameters=schema)

    def fork(self, memo: dict[int, Any]) -> _WikiTool:
        session = memo.setdefault(id(self.session), WikiSession())
        return type(self)(self._corpus, session, corpus_path=self._corpus_path)


class SearchTool(_WikiTool):
    """`search[entity]`: the first sentences of the page titled `entity` (or the best match), else similar titles."""

    name = "search"
    description = "Search the encyclopedia for an entity; returns the first sentences of its page, or similar titles."
    args_model = EntityArgs

    async def acall(self, args: Any) -> str:
        entity = parse_args(EntityArgs, args, tool=self.name).entity.strip()  # type: ignore[attr-defined]
        if not _WORD.search(entity):
            raise ToolError("search needs an entity name, e.g. search[Apple Remote]")
        hit = self.corpus.page(entity)
        if hit is None:
            ranked = self.corpus.search(entity)
            want = set(normalize_title(entity).split())
            # the best-ranked page whose title has every word of the query counts as found
            best = next((r for r in ranked if want <= set(normalize_title(r[0]).split())), None)
            if best is None:
                similar = [t for t, _ in ranked]
                return bounded(f"Could not find [{entity}]. Similar: {similar}.")
            hit = best
        title, text = hit
        sentences = split_sentences(text)
        s = self.session
        s.title, s.sentences, s.keyword, s.hits, s.next_hit = title, sentences, None, [], 0
        return bounded(" ".join(sentences[:FIRST_SENTENCES]))


class LookupTool(_WikiTool):
    """`lookup[keyword]`: the next sentence of the current page (from the last search) containing `keyword`."""

    name = "lookup"
    description = "Find the next sentence containing a keyword in the page the last search returned."
    args_model = KeywordArgs

    async def acall(self, args: Any) -> str:
        keyword = parse_args(KeywordArgs, args, tool=self.name).keyword.strip()  # type: ignore[attr-defined]
        s = self.session
        if s.title is None:
            raise ToolError("no page to look in; search[entity] for a page first")
        if not keyword:
            raise ToolError("lookup needs a keyword, e.g. lookup[born]")
        if keyword.casefold() != (s.keyword or "").casefold():
            s.keyword = keyword
            s.hits = [x for x in s.sentences if keyword.casefold() in x.casefold()]
            s.next_hit = 0
        if s.next_hit >= len(s.hits):
            return "No more results."
        i = s.next_hit
        s.next_hit += 1
        return bounded(f"(Result {i + 1} / {len(s.hits)}) {s.hits[i]}")


def make_search(options: ToolOptions | None = None) -> SearchTool:
    """ReAct's search[entity] over the local corpus (shares its page with lookup)."""
    opts = options or ToolOptions()
    session = opts.shared.setdefault("wiki", WikiSession())
    return SearchTool(session=session, corpus_path=opts.corpus)


def make_lookup(options: ToolOptions | None = None) -> LookupTool:
    """ReAct's lookup[keyword] in the page the last search found."""
    opts = options or ToolOptions()
    session = opts.shared.setdefault("wiki", WikiSession())
    return LookupTool(session=session, corpus_path=opts.corpus)
