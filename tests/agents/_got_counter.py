"""A scripted model for Graph of Thoughts on keyword counting: it reads the official prompts and answers them,
the first reply of every count and merge a little wrong on purpose (one country counted once too few, a
merge that leaves a country out), the others right, so scores, keeps and validate-and-improve all matter."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from ponder.envs.got_tasks.keyword_counting_env import all_countries
from ponder.types import CompletionRequest


def _count(text: str) -> dict[str, int]:
    return {c: k for c in all_countries() if (k := text.count(c))}


def _short_by_one(counts: dict[str, int]) -> dict[str, int]:
    if not counts:
        return counts
    first = min(counts)
    out = dict(counts)
    out[first] -= 1
    return {c: k for c, k in out.items() if k}


def _split(text: str, parts: int | None) -> dict[str, str]:
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]
    if parts is None:
        return {f"Sentence {i + 1}": s for i, s in enumerate(sentences)}
    size = -(-len(sentences) // parts)  # a passage of fewer sentences than parts: fewer parts
    chunks = [" ".join(sentences[i : i + size]) + " " for i in range(0, len(sentences), size)]
    return {f"Paragraph {i + 1}": chunk for i, chunk in enumerate(chunks)}


def _replies(req: CompletionRequest, right: str, wrong: str) -> list[str]:
    return [wrong, *[right] * (req.n - 1)]


def counter() -> Callable[[CompletionRequest], str | list[str]]:
    def respond(req: CompletionRequest) -> str | list[str]:
        p = req.messages[-1].content
        if p.startswith("<Instruction> Split the following input text"):
            text = p.rsplit("Input:\n", 1)[1]
            parts = 8 if "into 8 paragraphs" in p else 4 if "into 4 paragraphs" in p else None
            return "Output:\n" + json.dumps(_split(text, parts), indent=4)
        if "were combined into the third dictionary" in p:
            first = json.loads(p.rsplit("Dictionary 1:\n", 1)[1].split("\nDictionary 2:\n")[0])
            second = json.loads(p.rsplit("Dictionary 2:\n", 1)[1].split("\nIncorrectly Combined")[0])
            return "Output:\n" + json.dumps({c: first.get(c, 0) + second.get(c, 0) for c in {**first, **second}})
        if p.startswith("<Instruction> Combine the following 2 dictionaries"):
            body = p.rsplit("into a single dictionary:\n", 1)[1].split("\n\nCombined Output:")[0]
            first, second = (json.loads(x) for x in body.split("\n\n"))
            merged = {c: first.get(c, 0) + second.get(c, 0) for c in {**first, **second}}
            dropped = dict(list(merged.items())[:-1])
            return _replies(req, json.dumps(merged), json.dumps(dropped))
        if "Incorrect Dictionary: \n" in p:  # an improve prompt: count right
            text = p.rsplit("Input: \n", 1)[1].split("\nIncorrect Dictionary: \n")[0]
            return "Output:\n" + json.dumps(_count(text))
        text = p.rsplit("Input:\n", 1)[1].removesuffix("\n").removesuffix("\nOutput:")
        counts = _count(text)
        return _replies(req, "Output:\n" + json.dumps(counts), "Output:\n" + json.dumps(_short_by_one(counts)))

    return respond
