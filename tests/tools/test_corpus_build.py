"""`ponder corpus build` in transactions of thousands of pages, resumable; search and lookup
observations bounded in characters whatever the page."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from ponder.tools.corpus_build import load
from ponder.tools.search import (
    MAX_SENTENCE_CHARS,
    OBSERVATION_CHARS,
    Corpus,
    LookupTool,
    SearchTool,
    WikiSession,
    build_corpus,
    split_sentences,
)


def write_pages(path: Path, n: int, *, start: int = 0) -> None:
    with path.open("w") as f:
        for i in range(start, start + n):
            f.write(json.dumps({"title": f"Page {i}", "text": f"Page {i} is a page. It has the number {i}."}) + "\n")


def titles(corpus: Corpus) -> list[str]:
    with corpus.lock:
        return [r[0] for r in corpus.conn.execute("select title from pages order by id")]


class Interrupt(Exception):
    pass


def test_an_interrupted_build_goes_on_from_its_last_batch(tmp_path: Path) -> None:
    src = tmp_path / "pages.jsonl"
    write_pages(src, 2_500)
    corpus = Corpus(tmp_path / "c.db")
    seen: list[tuple[int, int, int]] = []

    def stop_after_two_batches(done: int, total: int, pages: int) -> None:
        seen.append((done, total, pages))
        if len(seen) == 2:
            raise Interrupt  # as Ctrl-C would, after the second batch was committed

    with pytest.raises(Interrupt):
        load(corpus, src, batch=1_000, progress=stop_after_two_batches)
    assert len(corpus) == 2_000 and seen[-1][2] == 2_000 and seen[-1][1] == src.stat().st_size
    report = load(corpus, src, batch=1_000)
    assert report.resumed_at_line == 2_001
    assert (report.added, report.replaced, report.bad) == (2_500, 0, 0)  # the whole file's counts
    assert titles(corpus) == [f"Page {i}" for i in range(2_500)]  # each page once, in order
    again = load(corpus, src)
    assert again.already_built and len(corpus) == 2_500
    redo = load(corpus, src, restart=True)
    assert (redo.added, redo.replaced) == (0, 2_500) and len(corpus) == 2_500
    with corpus.lock:  # the full-text index holds every page once, replaced ones too
        corpus.conn.execute("insert into pages_fts(pages_fts) values ('integrity-check')")
    assert [t for t, _ in corpus.search("2499")] == ["Page 2499"]


def test_a_title_twice_in_one_batch_is_one_page_the_later_one(tmp_path: Path) -> None:
    src = tmp_path / "pages.jsonl"
    lines = [
        {"title": "Zork", "text": "Old text."},
        {"title": "Other", "text": "Else."},
        {"title": "ZORK", "text": "New."},
    ]
    src.write_text("".join(json.dumps(x) + "\n" for x in lines))
    corpus = Corpus(tmp_path / "c.db")
    corpus.add("Zork", "Oldest text.")  # from before, indexed as it was added
    report = load(corpus, src)
    assert (report.added, report.replaced) == (1, 2) and len(corpus) == 2
    assert corpus.page("zork") == ("ZORK", "New.")
    with corpus.lock:
        corpus.conn.execute("insert into pages_fts(pages_fts) values ('integrity-check')")
    assert [t for t, _ in corpus.search("new")] == ["ZORK"] and corpus.search("oldest") == []


def test_a_file_that_changed_is_loaded_from_its_start(tmp_path: Path) -> None:
    src = tmp_path / "pages.jsonl"
    write_pages(src, 1_500)
    corpus = Corpus(tmp_path / "c.db")

    def stop(done: int, total: int, pages: int) -> None:
        raise Interrupt

    with pytest.raises(Interrupt):
        load(corpus, src, batch=1_000, progress=stop)
    write_pages(src, 1_500, start=10_000)
    os.utime(src, ns=(src.stat().st_atime_ns, src.stat().st_mtime_ns + 10**9))
    report = load(corpus, src, batch=1_000)
    assert report.resumed_at_line is None and report.added == 1_500


def test_a_killed_build_resumes(tmp_path: Path) -> None:
    """The same, with the process killed between batches (no exception handler runs)."""
    import subprocess
    import sys

    src = tmp_path / "pages.jsonl"
    write_pages(src, 3_000)
    db = tmp_path / "c.db"
    code = (
        "import os, sys\n"
        "from ponder.tools.search import Corpus\n"
        "from ponder.tools.corpus_build import load\n"
        "def kill(done, total, pages):\n"
        "    os.kill(os.getpid(), 9)\n"
        f"load(Corpus({str(db)!r}), {str(src)!r}, batch=1000, progress=kill)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], timeout=60)
    assert done.returncode == -9
    report = build_corpus(src, db)
    assert report.resumed_at_line == 1_001 and report.added == 3_000
    assert len(Corpus(db)) == 3_000


def test_pages_without_sentence_ends_give_bounded_observations(tmp_path: Path) -> None:
    corpus = Corpus(":memory:")
    blob = "word " * 2_000_000  # 10 MB and not one sentence end
    corpus.add("Blob", blob)
    corpus.add("Lines", "\n".join(f"line {i} has no end" for i in range(10_000)))
    corpus.add("Dense", "x" * 100_000)
    session = WikiSession()
    search, lookup = SearchTool(corpus, session), LookupTool(corpus, session)
    for title in ("Blob", "Lines", "Dense"):
        seen = asyncio.run(search.acall(title))
        assert 0 < len(seen) <= OBSERVATION_CHARS, (title, len(seen))
        assert all(len(s) <= MAX_SENTENCE_CHARS for s in session.sentences)
    assert asyncio.run(search.acall("Lines")).startswith("line 0 has no end line 1 has no end")
    asyncio.run(search.acall("Blob"))
    found = asyncio.run(lookup.acall("word"))
    assert found.startswith("(Result 1 / ") and len(found) <= OBSERVATION_CHARS
    asyncio.run(search.acall("Dense"))
    assert session.sentences[0] == "x" * MAX_SENTENCE_CHARS  # no space to cut at: cut at the limit


def test_the_cut_is_said_in_the_observation() -> None:
    corpus = Corpus(":memory:")
    for i in range(6):  # titles are not sentences: a list of similar long ones is what gets cut
        corpus.add(f"Zork chapter {i} " + "and more words " * 60, "Text.")
    seen = asyncio.run(SearchTool(corpus, WikiSession()).acall("Zork tale"))
    assert seen.startswith("Could not find [Zork tale]. Similar: ['Zork chapter")
    assert len(seen) == OBSERVATION_CHARS and seen.endswith(f"… [cut at {OBSERVATION_CHARS} characters]")


def test_ordinary_prose_splits_as_before() -> None:
    text = "Zork is a game. It was written at MIT! Was it fun? Yes.\nA new line. (Parenthesis) here."
    assert split_sentences(text) == [
        "Zork is a game.",
        "It was written at MIT!",
        "Was it fun?",
        "Yes.",
        "A new line.",
        "(Parenthesis) here.",
    ]
