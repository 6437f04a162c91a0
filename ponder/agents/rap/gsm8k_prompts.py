"""RAP's GSM8K prompts, as llm-reasoners builds them (`examples/RAP/gsm8k/{world_model,search_config}.py`).

The prompt files are llm-reasoners' own, verbatim (`data/gsm8k_prompt_pool.json`,
`data/gsm8k_useful_examples.json`, pinned by repository, path and commit below; Apache-2.0, notice in
`data/`). Three prompts, each a text the model continues:

- the sub-question prompt (`actions_input`): the instruction, `n_shots` worked decompositions drawn
  from the pool of 10 (llm-reasoners' evaluator draws 4 at random; here the run's seeded RNG does),
  the question, the sub-questions answered so far, and `Question 5.k:` — the model writes the next
  sub-question (at the depth limit the line already starts `Now we can answer the question:`);
- the answer prompt (`world_input`): the same with the new sub-question and `Answer 5.k:`;
- the usefulness prompt (`useful_input`): four judged examples, the question, the sub-questions so
  far, `New question 5.k: ...` and `Is the new question useful?`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

SOURCE_REPO = "maitrix-org/llm-reasoners"
SOURCE_COMMIT = "f94e5ac2cb9788c3d7d7dbf2173884ed4088e4b2"
SOURCE_PATHS = {
    "gsm8k_prompt_pool.json": "examples/RAP/gsm8k/prompts/prompt_pool.json",
    "gsm8k_useful_examples.json": "examples/RAP/gsm8k/prompts/useful_examples.json",
}

# llm-reasoners' `GSM8kConfig.update_example`: the question's last sentence that asks something
_OVERALL = re.compile(
    r".*((([A-Z].* (calculate|how|what|find|true or false))|((Calculate|How|What|Find|True or false))).*)$",
    re.DOTALL,
)
# what a chat model may echo of the line it was asked to finish: `Question 5.2:`, `Answer 5.2:`
_ECHO = re.compile(r"^\s*(?:\*\*)?(?:new\s+)?(?:question|answer)\s+\d+(?:\.\d+)?\s*:(?:\*\*)?\s*", re.IGNORECASE)


@cache
def _load(name: str) -> dict[str, Any]:
    path = resources.files("ponder.agents.rap").joinpath(f"data/{name}")
    with path.open(encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def prompt_pool() -> dict[str, Any]:
    """llm-reasoners' `prompt_pool.json`: instruction, 10 `interactive_examples`, the line prefixes."""
    return _load("gsm8k_prompt_pool.json")


def useful_prompt() -> dict[str, str]:
    """llm-reasoners' `useful_examples.json`: the 4-shot usefulness prompt and its prefixes."""
    return _load("gsm8k_useful_examples.json")


def overall_question(question: str) -> str:
    """The part of `question` that asks (llm-reasoners' regex); the whole question when it finds none
    (where llm-reasoners' own code fails)."""
    m = _OVERALL.match(question)
    return m[1] if m is not None else question.strip()


def unecho(text: str) -> str:
    """A completion's first non-empty line (the requests stop at a newline; a backend may not), without
    the line prefix a chat model may repeat (`Answer 5.2: ...` -> `...`)."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    return _ECHO.sub("", line.strip(), count=1).strip()


@dataclass(frozen=True)
class GSMPrompts:
    """The three prompts of one question. shots: the pool examples shown, by index."""

    question: str
    shots: tuple[int, ...]

    @property
    def overall(self) -> str:
        return overall_question(self.question)

    @property
    def overall_prefix(self) -> str:
        prefix: str = prompt_pool()["overall_question_prefix"]
        return prefix

    def _examples(self) -> str:
        pool = prompt_pool()
        parts = [pool["instruction"] + "\n\n"]
        for idx, i in enumerate(self.shots):
            parts.append(pool["interactive_examples"][i].format(idx=idx + 1) + "\n\n")
        return "".join(parts)

    def _history(self, steps: Sequence[tuple[str, str]]) -> str:
        pool, n = prompt_pool(), len(self.shots) + 1
        lines = [pool["question_prefix"].format(idx=n, question=self.question) + "\n"]
        for k, (q, a) in enumerate(steps, start=1):
            lines.append(pool["subquestion_prefix"].format(idx=n, sub_idx=k) + " " + q + "\n")
            lines.append(pool["answer_prefix"].format(idx=n, sub_idx=k) + " " + a + "\n")
        return "".join(lines)

    def actions_input(self, steps: Sequence[tuple[str, str]], at_limit: bool) -> str:
        """The prompt the next sub-question continues (`GSM8kConfig.get_actions`)."""
        pool, n = prompt_pool(), len(self.shots) + 1
        text = self._examples() + self._history(steps)
        text += pool["subquestion_prefix"].format(idx=n, sub_idx=len(steps) + 1)
        return text + (" " + pool["overall_question_prefix"] if at_limit else "")

    def world_input(self, steps: Sequence[tuple[str, str]], sub_question: str) -> str:
        """The prompt the sub-question's answer continues (`GSM8kWorldModel.step`)."""
        pool, n, k = prompt_pool(), len(self.shots) + 1, len(steps) + 1
        text = self._examples() + self._history(steps)
        text += pool["subquestion_prefix"].format(idx=n, sub_idx=k) + " " + sub_question + "\n"
        return text + pool["answer_prefix"].format(idx=n, sub_idx=k)

    def useful_input(self, sub_questions: Sequence[str], sub_question: str) -> str:
        """The prompt whose next word says whether `sub_question` is useful (`GSM8kConfig.fast_reward`)."""
        u = useful_prompt()
        text = u["input"] + u["question_prefix"] + self.question + "\n"
        for k, q in enumerate(sub_questions, start=1):
            text += u["subquestion_prefix"].format(k) + " " + q + "\n"
        text += u["new_subquestion_prefix"].format(len(sub_questions) + 1) + " " + sub_question + "\n"
        return text + u["useful_prefix"]
