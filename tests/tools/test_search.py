"""search/lookup over an FTS5 corpus, the corpus builder and its handling of bad lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ponder.errors import ConfigError, ToolError
from ponder.tools.base import ToolOptions, build_tools
from ponder.tools.search import (
    Corpus,
    LookupTool,
    SearchTool,
    WikiSession,
    build_corpus,
    fts_query,
    open_corpus,
)

ADA = (
    "Ada Lovelace was a mathematician. She wrote notes on the engine. She was born in London. "
    "Her notes were published in 1843."
)
PAGES = [
    {"title": "Ada Lovelace", "text": ADA},
    {
        "title": "Charles Babbage",
        "text": "Charles Babbage was a polymath. He designed the Analytical Engine. He was born in London.",
    },
    {
        "title": "Analytical Engine",
        "text": "The Analytical Engine was a proposed computer. Charles Babbage designed it.",
    },
    {"title": 'Weird "Quotes" AND OR NEAR', "text": "A page whose title is full of FTS5 syntax. It is still found."},
]


@pytest.fixture
def corpus(tmp_path: Path) -> Corpus:
    src = tmp_path / "pages.jsonl"
    src.write_text("\n".join(json.dumps(p) for p in PAGES) + "\n")
    report = build_corpus(src, tmp_path / "corpus.db")
    assert report.added == 4 and report.bad == 0
    return Corpus(tmp_path / "corpus.db", create=False)


def tools_for(corpus: Corpus) -> tuple[SearchTool, LookupTool]:
    session = WikiSession()
    return SearchTool(corpus, session), LookupTool(corpus, session)


async def test_search_exact_title_returns_first_sentences(corpus: Corpus) -> None:
    search, _ = tools_for(corpus)
    out = await search.acall("ada lovelace")
    assert out.startswith("Ada Lovelace was a mathematician. She wrote notes on the engine.")


async def test_search_best_title_match_when_not_exact(corpus: Corpus) -> None:
    search, _ = tools_for(corpus)
    assert (await search.acall("Babbage")).startswith("Charles Babbage was a polymath.")


async def test_search_miss_lists_similar_titles(corpus: Corpus) -> None:
    search, _ = tools_for(corpus)
    out = await search.acall("Engine designer")
    assert out.startswith("Could not find [Engine designer]. Similar: [")
    assert "Analytical Engine" in out
    assert await search.acall("Zanzibar") == "Could not find [Zanzibar]. Similar: []."


@pytest.mark.parametrize(
    "evil", ['"', "AND OR NOT", "title: x*", "NEAR(a b)", "a) OR (b", "'; drop table pages; --", "^*"]
)
async def test_user_text_never_breaks_fts5(corpus: Corpus, evil: str) -> None:
    search, _ = tools_for(corpus)
    try:
        out = await search.acall(evil)
    except ToolError as e:  # only for text without any word
        assert "needs an entity" in str(e)
    else:
        assert isinstance(out, str)
    assert len(corpus) == 4


def test_fts_query_quotes_every_word() -> None:
    assert fts_query('say "hi" OR x') == '"say" OR "hi" OR "OR" OR "x"'
    assert fts_query("!!!") is None


async def test_title_full_of_fts_syntax_is_found(corpus: Corpus) -> None:
    search, _ = tools_for(corpus)
    assert (await search.acall('Weird "Quotes" AND OR NEAR')).startswith("A page whose title")


async def test_lookup_walks_sentences_with_the_keyword(corpus: Corpus) -> None:
    search, lookup = tools_for(corpus)
    with pytest.raises(ToolError, match="search"):
        await lookup.acall("born")
    await search.acall("Ada Lovelace")
    assert await lookup.acall("notes") == "(Result 1 / 2) She wrote notes on the engine."
    assert await lookup.acall("notes") == "(Result 2 / 2) Her notes were published in 1843."
    assert await lookup.acall("notes") == "No more results."
    assert await lookup.acall("London") == "(Result 1 / 1) She was born in London."
    await search.acall("Charles Babbage")  # a new page resets the lookup
    assert await lookup.acall("London") == "(Result 1 / 1) He was born in London."


def test_bad_lines_are_counted_reported_and_good_lines_kept(tmp_path: Path) -> None:
    src = tmp_path / "mixed.jsonl"
    src.write_text(
        "\n".join(
            [
                json.dumps(PAGES[0]),
                "{not json",
                json.dumps(["a", "list"]),
                json.dumps({"title": "No text"}),
                json.dumps({"title": "", "text": "x"}),
                "",
                json.dumps(PAGES[1]),
                json.dumps({**PAGES[0], "text": "Replaced. Yes."}),
            ]
        )
    )
    report = build_corpus(src, tmp_path / "c.db")
    assert (report.added, report.replaced, report.bad) == (2, 1, 4)
    assert [b.line for b in report.bad_lines] == [2, 3, 4, 5]
    assert "not JSON" in report.bad_lines[0].reason
    assert "4 bad lines skipped" in report.summary() and "line 4: missing or empty 'text'" in report.summary()
    c = Corpus(tmp_path / "c.db", create=False)
    assert len(c) == 2
    assert c.page("ada lovelace") == ("Ada Lovelace", "Replaced. Yes.")


def test_missing_corpus_and_file_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ponder corpus build"):
        Corpus(tmp_path / "none.db", create=False)
    with pytest.raises(ConfigError, match="cannot read corpus file"):
        build_corpus(tmp_path / "missing.jsonl", tmp_path / "c.db")
    notdb = tmp_path / "not.db"
    notdb.write_text("hello, I am text and not a database" * 10)
    with pytest.raises(ConfigError, match="not a usable corpus"):
        Corpus(notdb)


async def test_default_corpus_is_the_shipped_example() -> None:
    tools = build_tools(["search", "lookup"])
    out = await tools["search"].acall("Ada Lovelace")
    assert "Analytical Engine" in out
    assert (await tools["lookup"].acall("Byron")).startswith("(Result 1 / 1)")
    assert len(open_corpus()) >= 10


async def test_corpus_option_and_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, corpus: Corpus) -> None:
    tools = build_tools(["search"], ToolOptions(corpus=corpus.path))
    assert (await tools["search"].acall("Weird Quotes")).startswith("A page whose title")
    monkeypatch.setenv("PONDER_CORPUS", corpus.path)
    assert len(open_corpus()) == 4
