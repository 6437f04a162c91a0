"""Real completions of ponder's own prompts, by Qwen2.5-Coder 0.5B and 1.5B, read right — every one.

The corpus (`tests/fixtures/answers/corpus.jsonl`, recorded by `scripts/record_answer_corpus.py`; its
README says how) holds each completion with the answer the model stated, read by hand: `expected`, or
null where it stated none. Each kind is read by the parser ponder uses for it: CoT, IO and
self-consistency replies by `extract_answer`, Game of 24 replies by the env's own (the expression of the
`Answer:` line), ReAct turns by their `finish[...]` (`reply_answer`).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ponder.agents.react_text import reply_answer
from ponder.envs.game24.env import Game24Env
from ponder.parsing import extract_answer

HERE = Path(__file__).parent / "fixtures" / "answers"
ROWS: list[dict[str, Any]] = [
    json.loads(line) for line in (HERE / "corpus.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()
]
PROMPTS = {
    p["prompt_id"]: p["messages"]
    for p in (json.loads(line) for line in (HERE / "prompts.jsonl").read_text(encoding="utf-8").splitlines())
}


def read_answer(kind: str, completion: str) -> str | None:
    """The answer ponder reads from a completion of this kind."""
    if kind == "game24":
        return Game24Env().extract_answer(completion)
    if kind == "react":
        return reply_answer(completion)
    return extract_answer(completion)


def _same(kind: str, got: str | None, expected: str | None) -> bool:
    if kind == "game24" and got is not None and expected is not None:
        return got.replace(" ", "") == expected.replace(" ", "")
    return got == expected


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_the_stated_answer_is_read(row: dict[str, Any]) -> None:
    got = read_answer(row["kind"], row["completion"])
    assert _same(row["kind"], got, row["expected"]), f"read {got!r}, the model stated {row['expected']!r}"


def test_the_corpus_is_real_completions_of_both_models_on_every_kind() -> None:
    assert len(ROWS) >= 200
    assert len({r["id"] for r in ROWS}) == len(ROWS)
    by = Counter((r["model"], r["kind"]) for r in ROWS)
    for model in ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"):
        for kind in ("arithmetic", "gsm8k", "game24", "react"):
            assert by[(model, kind)] > 0, (model, kind)
    assert all(r["prompt_id"] in PROMPTS for r in ROWS)  # each prompt as ponder sent it
    assert sum(r["expected"] is not None for r in ROWS) > len(ROWS) // 2
