"""`keyword_counting`: the Graph-of-Thoughts keyword-counting task (how often each country is named in a passage).

The tasks are the official data file (`data/countries.csv`, 100 passages with their country lists,
from spcl/graph-of-thoughts); the score is the official error count, recorded with every run as
the metric `errors` (0 is right; 100 a reply with no JSON dict in it). `got` runs the paper's
graphs on it (`--set graph=io|cot|tot|tot2|got4|got8|gotx`); cot and io use the official prompts.
"""

from __future__ import annotations

import csv
import functools
import json
from collections.abc import Iterator
from importlib import resources
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ponder.envs.base import Env, Evaluation
from ponder.envs.got_tasks import keyword_counting_prompts as P
from ponder.envs.got_tasks.keyword_counting import (
    KeywordCountingProblem,
    count_in_text,
    list_to_freq_dict,
    num_errors,
    string_to_list,
    strip_answer_json,
    test_keyword_counting,
)
from ponder.errors import ConfigError
from ponder.types import Task


@functools.cache
def _rows() -> tuple[tuple[str, str, str], ...]:
    """(id, passage, country list) of the official `countries.csv`."""
    path = resources.files("ponder.envs.got_tasks").joinpath("data/countries.csv")
    with path.open(encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        return tuple((r[0], r[1], r[2]) for r in reader)


@functools.cache
def all_countries() -> tuple[str, ...]:
    """Every country the dataset names (the official `all_potential_countries`, here in a fixed order)."""
    return tuple(sorted({c for _, _, countries in _rows() for c in countries[1:-1].split(", ")}))


def ground_truth_of(text: str) -> str:
    """The country list of `text`: the dataset's own for one of its passages; for any other text, each
    country counted as the official error count counts a part of a passage (`str.count`)."""
    for _, passage, countries in _rows():
        if passage == text:
            return countries
    counted = counted_list(text)
    if counted == "[]":
        raise ConfigError(f"the passage names none of the {len(all_countries())} countries the task counts")
    return counted


def counted_list(text: str) -> str:
    """The countries of `text` as the dataset writes them ("[Peru, Peru, Chile]"), each counted with `str.count`."""
    return "[" + ", ".join(c for c, k in count_in_text(text, all_countries()).items() for _ in range(k)) + "]"


class KeywordCountingEnv(Env, BaseModel):
    """Count how often each country is named in a passage; the official data and error count.

    start/end: a slice of the 100 official passages.
    """

    model_config = ConfigDict(extra="forbid")
    name: ClassVar[str] = "keyword_counting"
    answer_format: ClassVar[bool] = True
    verifies: ClassVar[bool] = True

    start: int = Field(default=0, ge=0)
    end: int | None = Field(default=None, ge=0)

    def tasks(self) -> Iterator[Task]:
        for row_id, passage, countries in _rows()[self.start : self.end]:
            yield Task(
                id=f"keyword_counting-{row_id}",
                input=passage,
                expected=json.dumps(list_to_freq_dict(string_to_list(countries))),
                metadata={"env": "keyword_counting", "ground_truth": countries},
            )

    def _passage(self, task: Task) -> tuple[str, str]:
        text = str(task.input).strip()
        if not text:
            raise ConfigError("a keyword_counting task is a passage of text that names countries")
        truth = task.metadata.get("ground_truth")
        return text, truth if isinstance(truth, str) else ground_truth_of(text)

    def got_problem(self, task: Task) -> KeywordCountingProblem:
        """The official keyword-counting prompter, parser and graphs for this passage."""
        text, truth = self._passage(task)
        return KeywordCountingProblem(text, truth, all_countries())

    def cot_prompt(self, task: Task) -> str:
        return P.COUNT_PROMPT_COT.format(input=self._passage(task)[0])

    def io_prompt(self, task: Task) -> str:
        return P.COUNT_PROMPT.format(input=self._passage(task)[0])

    def extract_answer(self, text: str) -> str | None:
        """The JSON dict a reply ends with, read as the official parser reads it; None when there is none."""
        answer = strip_answer_json(text)
        return None if answer == "{}" else answer

    def verify(self, task: Task, answer: str) -> float | None:
        """1 / (1 + the error count against the countries counted in the passage itself): never the dataset's list."""
        text = str(task.input).strip()
        state = {"original": text, "ground_truth": counted_list(text), "current": answer}
        return 1.0 / (1.0 + num_errors(all_countries(), state))

    def evaluate(self, task: Task, answer: str | None) -> Evaluation:
        """Correct when the answer's countries and counts are the dataset's; `metrics.errors` is the official count."""
        text, truth = self._passage(task)
        state = {"original": text, "ground_truth": truth, "current": answer or ""}
        errors = num_errors(all_countries(), state)
        ok = test_keyword_counting(state)
        return Evaluation(
            correct=ok, score=1.0 if ok else 0.0, detail=f"{errors:g} errors", metrics={"errors": float(errors)}
        )
