"""`qa`: HotpotQA-format questions answered over a local corpus; exact match and F1 (SQuAD normalization)."""

from __future__ import annotations

import os
import re
import string
from collections import Counter
from collections.abc import Iterator
from typing import ClassVar

from ponder.envs._data import example_file, read_jsonl
from ponder.envs.base import Env, Evaluation
from ponder.tools.base import Tool, ToolOptions, build_tools
from ponder.types import Task


def normalize_squad(s: str) -> str:
    """SQuAD answer normalization: lower case, no punctuation, no articles, single spaces."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def f1_score(prediction: str, truth: str) -> float:
    """Token-level F1 between normalized prediction and truth (HotpotQA's yes/no/noanswer rule kept)."""
    p, t = normalize_squad(prediction), normalize_squad(truth)
    if (p in ("yes", "no", "noanswer") or t in ("yes", "no", "noanswer")) and p != t:
        return 0.0
    ptoks, ttoks = p.split(), t.split()
    common = Counter(ptoks) & Counter(ttoks)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(ptoks), same / len(ttoks)
    return 2 * precision * recall / (precision + recall)


class QAEnv(Env):
    """Multi-hop questions (HotpotQA JSONL: question, answer, supporting_facts) over a local corpus.

    path: the JSONL file (default: the small example shipped with ponder).
    """

    name: ClassVar[str] = "qa"

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = str(path or example_file("qa.jsonl"))
        self.bad_lines: list[str] = []

    def tasks(self) -> Iterator[Task]:
        rows, self.bad_lines = read_jsonl(self.path, required=("question", "answer"))
        for i, r in enumerate(rows):
            titles = sorted({str(f[0]) for f in r.get("supporting_facts") or [] if isinstance(f, list) and f})
            yield Task(
                id=str(r.get("_id") or r.get("id") or f"qa-{i}"),
                input=str(r["question"]),
                expected=str(r["answer"]),
                metadata={"env": "qa", "supporting_titles": titles, "type": r.get("type"), "level": r.get("level")},
            )

    def evaluate(self, task: Task, answer: str | None) -> Evaluation:
        if task.expected is None:
            return Evaluation(detail="no expected answer")
        if answer is None:
            return Evaluation(correct=False, score=0.0, detail="no answer")
        em = normalize_squad(answer) == normalize_squad(task.expected)
        f1 = f1_score(answer, task.expected)
        return Evaluation(correct=em, score=f1, detail=f"EM={int(em)} F1={f1:.2f}")


class ParallelQAEnv(QAEnv):
    """ParallelQA-style questions: compare a fact of 2–4 entities (each found by its own search), answered
    over the small page file shipped beside them: the env gives every agent `search` and `calculator`
    over those pages (`tools`).

    path: the JSONL file (default: the shipped `parallel_qa.jsonl`).
    """

    name: ClassVar[str] = "parallel_qa"

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        super().__init__(path or example_file("parallel_qa.jsonl"))
        self.corpus_path = str(example_file("parallel_qa_corpus.jsonl"))

    def tasks(self) -> Iterator[Task]:
        for t in super().tasks():
            yield t.model_copy(update={"metadata": {**t.metadata, "env": "parallel_qa"}})

    def tools(self, task: Task) -> dict[str, Tool] | None:
        return build_tools(["search", "calculator"], ToolOptions(corpus=self.corpus_path))
