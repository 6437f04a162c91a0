"""Tree-of-Thoughts problems: a text world (`TextSteps`) plus the prompts its search config uses.

A `ThoughtProblem` is two things an env supplies together (`Env.thought_problem(task)`, e.g. Game of
24 with the paper's prompts and an exact step checker; `GenericThoughts` works for any question):

- a world model over text states (`ponder.search.world`): the steps so far, one per line (the ToT
  paper's `y`), the terminal test and the answer;
- the prompts as operators (`ThoughtPrompts`), which the search config's generators (propose,
  sample) and evaluators (value, vote) apply to states.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from string import Template
from typing import Protocol, runtime_checkable

from ponder.parsing import extract_answer
from ponder.search.world import TextSteps, WorldModel

GENERIC_PROPOSE = Template("""Question: $question
Steps so far:
$steps
Propose up to $k different possible next steps toward answering the question, one per line, each a single short step.
If the steps so far already settle the answer, write only one line: "Answer:" followed by the answer itself.
Possible next steps:
""")

GENERIC_SAMPLE = Template("""Question: $question
Steps so far:
$steps
Write the next single step toward answering the question, on one line.
If the steps so far already settle the answer, write "Answer:" followed by the answer itself instead.
Next step:
""")

GENERIC_VALUE = Template("""Question: $question
Steps so far:
$steps
Evaluate whether these steps are correct and lead toward the right answer.
Think briefly, then on the last line write one word: sure, likely or impossible.
""")

GENERIC_VOTE = Template("""Question: $question
Several choices of partial solutions follow. Decide which choice is most promising. Analyze each choice in detail, then conclude in the last line "The best choice is {s}", where s the integer id of the choice.
$choices
""")  # noqa: E501

GENERIC_FINAL = Template("""Question: $question
Steps:
$steps
Using the steps above, give the final answer on the last line: "Answer:" followed by the answer itself.
""")

# the final step where the run's env asks for its own answer format (code: the whole function, fenced)
GENERIC_FINAL_AS_ASKED = Template("""$asked

Reasoning so far:
$steps

Using the reasoning above, answer exactly as asked.
""")

VALUE_MAP = {"sure": 20.0, "likely": 1.0, "impossible": 0.001}
_VOTE = re.compile(r"best choice is\s*(?:choice\s*)?\{?\s*(\d+)", re.IGNORECASE)
_VALUE = re.compile(r"(?:[\w ]+:\s*)?\W*(sure|likely|impossible)\W*")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)]|step\s*\d+\s*[:.)])\s*", re.IGNORECASE)


@runtime_checkable
class ThoughtPrompts(Protocol):
    """The prompts a Tree-of-Thoughts search config applies to text states, and how their replies are read."""

    def propose_prompt(self, state: str) -> str:
        """The prompt asking for several next steps after the steps `state`."""
        ...

    def sample_prompt(self, state: str) -> str:
        """The prompt asking for one continuation of `state` (sampled `n_generate_sample` times)."""
        ...

    def parse_steps(self, state: str, reply: str, *, first_only: bool = False) -> list[tuple[str, str | None]]:
        """The next steps a reply gives: (line, None) if valid, (line, why not) if invalid; never raises."""
        ...

    def value_prompt(self, state: str) -> str | None:
        """The prompt rating `state`; None when `rule_value` decides without a model."""
        ...

    def rule_value(self, state: str) -> float:
        """The value of a state that needs no model (see `value_prompt`)."""
        ...

    def parse_value(self, reply: str) -> float | None:
        """The value a rating reply gives; None if it cannot be read."""
        ...

    def combine_values(self, state: str, values: Sequence[float | None]) -> float:
        """One state's value from the values of its rating samples (None: unreadable)."""
        ...

    def vote_prompt(self, states: Sequence[str]) -> str:
        """The prompt asking which of `states` is most promising (1-based choices)."""
        ...


@runtime_checkable
class ThoughtProblem(WorldModel[str, str], ThoughtPrompts, Protocol):
    """A Tree-of-Thoughts problem: a text world model, its prompts, and how its answer is reached."""

    def answer_source(self, state: str) -> str:
        """What gives the answer of `state` ("answer line", or a problem's own fallback); "" when none."""
        ...

    def final_prompt(self, state: str) -> str | None:
        """A prompt asking for the answer when the chosen state has none; None if there is no such step."""
        ...


def parse_vote(reply: str, n: int) -> int | None:
    """The 0-based choice a vote reply names ("The best choice is 2" -> 1); None if none or out of range."""
    found = _VOTE.findall(reply)
    if not found:
        return None
    k = int(found[-1]) - 1
    return k if 0 <= k < n else None


def parse_value_words(reply: str) -> float | None:
    """The last line as sure / likely / impossible (20 / 1 / 0.001, as in the paper); None if it is none of them."""
    lines = [ln.strip().lower() for ln in reply.strip().split("\n") if ln.strip()]
    if not lines:
        return None
    m = _VALUE.fullmatch(lines[-1])
    return VALUE_MAP[m.group(1)] if m else None


class GenericThoughts(TextSteps):
    """Any question as a ToT problem: free-text steps, a final `Answer:` line, sure/likely/impossible values."""

    def __init__(self, question: str, *, k: int = 3) -> None:
        self.question = question
        self.k = k

    def _lines(self, state: str) -> list[str]:
        return [ln for ln in state.strip().split("\n") if ln.strip()]

    def _steps(self, state: str) -> str:
        return state.strip() or "(none yet)"

    def propose_prompt(self, state: str) -> str:
        return GENERIC_PROPOSE.substitute(question=self.question, steps=self._steps(state), k=self.k)

    def sample_prompt(self, state: str) -> str:
        return GENERIC_SAMPLE.substitute(question=self.question, steps=self._steps(state))

    def is_terminal(self, state: str) -> bool:
        lines = self._lines(state)
        return bool(lines) and lines[-1].lower().startswith("answer")

    def parse_steps(self, state: str, reply: str, *, first_only: bool = False) -> list[tuple[str, str | None]]:
        lines = [_BULLET.sub("", ln).strip() for ln in reply.split("\n")]
        lines = [ln for ln in lines if ln and not ln.lower().startswith("possible next steps")]
        if first_only:
            lines = lines[:1]
        if not lines:
            return [("", "the reply proposes no step")]
        return [(ln, None) for ln in lines[: max(self.k, 1)]]

    def value_prompt(self, state: str) -> str | None:
        return GENERIC_VALUE.substitute(question=self.question, steps=self._steps(state))

    def rule_value(self, state: str) -> float:
        return VALUE_MAP["impossible"]

    def parse_value(self, reply: str) -> float | None:
        return parse_value_words(reply)

    def combine_values(self, state: str, values: Sequence[float | None]) -> float:
        return sum(v or 0.0 for v in values) / max(len(values), 1)

    def vote_prompt(self, states: Sequence[str]) -> str:
        choices = "\n".join(f"Choice {i}:\n{state.strip()}" for i, state in enumerate(states, 1))
        return GENERIC_VOTE.substitute(question=self.question, choices=choices)

    def answer(self, state: str) -> str | None:
        lines = self._lines(state)
        if lines and lines[-1].lower().startswith("answer"):
            return extract_answer(lines[-1])
        return None

    def answer_source(self, state: str) -> str:
        return "answer line" if self.answer(state) is not None else ""

    def final_prompt(self, state: str) -> str | None:
        return GENERIC_FINAL.substitute(question=self.question, steps=self._steps(state))

    def final_prompt_as_asked(self, state: str, asked: str) -> str:
        """The final step in the words of `asked` (an env's own prompt, with its answer format)."""
        return GENERIC_FINAL_AS_ASKED.substitute(asked=asked.strip(), steps=self._steps(state))
