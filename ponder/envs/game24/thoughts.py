"""Game of 24 as a tree-search problem: the paper's prompts over states of `a op b = c (left: ...)` lines.

A state is the text of the steps so far, one per line, as in the ToT paper (its `y`):
`4 + 8 = 12 (left: 6 10 12)`; the last step of a solved state is `Answer: <expression> = 24`.

Two modes:

- default (ponder's improvements): every step is checked exactly (`steps.check_step`) and an
  invalid one is recorded but never valued or expanded; a dead end (one number left, not 24)
  is valued by rule, without a model call; once 24 is left the answer may be built from the
  steps themselves (`answer_source` says "steps") when no `Answer:` line was kept.
- `faithful=True` (the paper's algorithm, `src/tot/tasks/game24.py` + `methods/bfs.py`):
  every proposed line is kept and valued by the model, dead ends included; the current
  numbers are read from the text after `left: `; a value is the sum of the samples' last
  lines read exactly, 0 for a 4-line state with no answer; the answer is read only from the
  last line of a state, as the paper's `test_output` reads it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fractions import Fraction

from ponder.envs.game24.expressions import TARGET, clean_answer, verify
from ponder.envs.game24.prompts import (
    COT_PROMPT,
    PROPOSE_PROMPT,
    VALUE_LAST_STEP_PROMPT,
    VALUE_PROMPT,
    VOTE_PROMPT,
)
from ponder.envs.game24.steps import Item, check_step
from ponder.search.world import TextSteps

# the paper's value map: sure / likely / impossible
VALUE_MAP = {"sure": 20.0, "likely": 1.0, "impossible": 0.001}
_LOOSE_VALUE = re.compile(r"(?:\w+\s*:\s*)?\W*(sure|likely|impossible)\W*")


class Game24Thoughts(TextSteps):
    """The Game of 24 as a ToT problem: the paper's prompts; exact step checks unless `faithful`."""

    def __init__(self, numbers: Sequence[int], *, faithful: bool = False) -> None:
        self.numbers = tuple(numbers)
        self.x = " ".join(map(str, numbers))
        self.faithful = faithful
        self._left: dict[str, tuple[Item, ...] | None] = {}

    # -- state ----------------------------------------------------------------------------

    def _lines(self, state: str) -> list[str]:
        return [ln for ln in state.strip().split("\n") if ln.strip()]

    def left(self, state: str) -> tuple[Item, ...] | None:
        """The numbers left after the steps `state` (replayed exactly); None if a step is invalid."""
        if state not in self._left:
            self._left[state] = self._replay(state)
        return self._left[state]

    def _replay(self, state: str) -> tuple[Item, ...] | None:
        items: tuple[Item, ...] = tuple(Item(Fraction(n), str(n)) for n in self.numbers)
        for ln in self._lines(state):
            if ln.lower().startswith("answer"):
                break
            chk = check_step(ln, items)
            if chk.error is not None:
                return None
            items = chk.left
        return items

    def _current(self, state: str) -> str:
        # the paper's get_current_numbers(y if y else x): what was written after "left: " on the last line
        last = (state or self.x).strip().split("\n")[-1]
        return last.split("left: ")[-1].split(")")[0]

    def _reached_24(self, state: str) -> bool:
        if self.faithful:
            return self._current(state) == "24"
        left = self.left(state)
        return left is not None and len(left) == 1 and left[0].value == TARGET

    # -- generation -----------------------------------------------------------------------

    def propose_prompt(self, state: str) -> str:
        """The propose prompt on the numbers left; once 24 is left, the CoT prompt asking for the answer."""
        if self._reached_24(state):
            # exactly as the paper's propose_prompt_wrap: "Steps:" directly followed by the steps
            return COT_PROMPT.substitute(input=self.x) + "Steps:" + state
        return PROPOSE_PROMPT.substitute(input=self._current(state))

    def sample_prompt(self, state: str) -> str:
        """The paper's cot_prompt_wrap: the 5-shot CoT prompt followed by the steps so far."""
        return COT_PROMPT.substitute(input=self.x) + state

    def is_terminal(self, state: str) -> bool:
        """A state nothing can follow: an answer was given, or one number other than 24 is left.

        In faithful mode no state is terminal: the paper expands every kept state for all its steps.
        """
        if self.faithful:
            return False
        lines = self._lines(state)
        if lines and lines[-1].lower().startswith("answer"):
            return True
        left = self.left(state)
        return left is None or (len(left) == 1 and left[0].value != TARGET)

    def parse_steps(self, state: str, reply: str, *, first_only: bool = False) -> list[tuple[str, str | None]]:
        """Each line of `reply` as a next step: (line, None) if valid, else (line, why it is invalid).

        Faithful: every line of the reply, empty ones too, kept unchecked (the paper's get_proposals).
        """
        if self.faithful:
            lines = reply.split("\n")
            return [(ln, None) for ln in (lines[:1] if first_only else lines)]
        final = self._reached_24(state)
        left = self.left(state) or ()
        lines = [ln.strip() for ln in reply.split("\n") if ln.strip()]
        if final:
            lines = [ln for ln in lines if ln.lower().startswith("answer")] or lines[:1]
        elif first_only:
            lines = lines[:1]
        if not lines:
            return [("", "the reply proposes no step")]
        out: list[tuple[str, str | None]] = []
        for ln in lines:
            if final:
                ok = ln.lower().startswith("answer") and verify(self.numbers, ln)
                out.append((ln, None if ok else "the answer does not make 24 from the four numbers"))
            else:
                out.append((ln, check_step(ln, left).error))
        return out

    # -- evaluation -----------------------------------------------------------------------

    def value_prompt(self, state: str) -> str | None:
        """The value prompt on the numbers left, or the last-step prompt judging an answer.

        Default mode: None for a dead end (valued by rule). Faithful: the paper's value_prompt_wrap.
        """
        if self.faithful:
            last = state.strip().split("\n")[-1]
            if "left: " not in last:
                return VALUE_LAST_STEP_PROMPT.substitute(input=self.x, answer=last.lower().replace("answer: ", ""))
            return VALUE_PROMPT.substitute(input=self._current(state))
        lines = self._lines(state)
        if lines and lines[-1].lower().startswith("answer"):
            ans = re.sub(r"^answer\s*:\s*", "", lines[-1], flags=re.IGNORECASE)
            return VALUE_LAST_STEP_PROMPT.substitute(input=self.x, answer=ans)
        left = self.left(state)
        if left is not None and len(left) == 1 and left[0].value != TARGET:
            return None  # one number left and it is not 24: a dead end, no model needed
        return VALUE_PROMPT.substitute(input=self._current(state))

    def rule_value(self, state: str) -> float:
        """The value of a state judged without a model (a dead end)."""
        return VALUE_MAP["impossible"]

    def parse_value(self, reply: str) -> float | None:
        """The last line as sure / likely / impossible; None if it is none of them.

        Faithful: the last line exactly as the paper compares it (`output.split('\\n')[-1]`).
        Default: the last non-empty line, case and punctuation forgiven (`Judge: sure.`).
        """
        if self.faithful:
            return VALUE_MAP.get(reply.split("\n")[-1])
        lines = [ln.strip().lower() for ln in reply.strip().split("\n") if ln.strip()]
        if not lines:
            return None
        m = _LOOSE_VALUE.fullmatch(lines[-1])
        return VALUE_MAP[m.group(1)] if m else None

    def combine_values(self, state: str, values: Sequence[float | None]) -> float:
        """One state's value from its samples' values: the mean (default); faithful, the paper's sum,
        and 0 for a 4-line state with no answer (the paper's value_outputs_unwrap)."""
        if self.faithful:
            if len(state.strip().split("\n")) == 4 and "answer" not in state.lower():
                return 0.0
            return sum(v or 0.0 for v in values)
        return sum(v or 0.0 for v in values) / max(len(values), 1)

    def vote_prompt(self, states: Sequence[str]) -> str:
        """ponder's vote prompt for Game of 24 (the paper values these states; it votes in other tasks)."""
        choices = "\n".join(f"Choice {i}:\n{state.strip()}" for i, state in enumerate(states, 1))
        return VOTE_PROMPT.substitute(input=self.x, choices=choices)

    # -- answer ---------------------------------------------------------------------------

    def answer(self, state: str) -> str | None:
        """The expression the steps give: the `Answer:` line, else (default mode) the steps combined
        once 24 is left. Faithful: the last line, read as the paper's test_output reads it, unchecked."""
        if self.faithful:
            expr = state.strip().split("\n")[-1].lower().replace("answer: ", "").split("=")[0].strip()
            return expr or None
        lines = self._lines(state)
        if lines and lines[-1].lower().startswith("answer"):
            expr = clean_answer(lines[-1])
            return expr if verify(self.numbers, expr) else None
        left = self.left(state)
        if left is not None and len(left) == 1 and left[0].value == TARGET:
            expr = left[0].expr
            return expr[1:-1] if expr.startswith("(") else expr
        return None

    def answer_source(self, state: str) -> str:
        """What gives the answer of `state`: "answer line" (the model's `Answer:`), "steps" (ponder's
        expression built from the checked steps), or "" when `state` gives none."""
        if self.answer(state) is None:
            return ""
        lines = self._lines(state)
        return "answer line" if self.faithful or lines[-1].lower().startswith("answer") else "steps"

    def final_prompt(self, state: str) -> str | None:
        """None: the answer comes from the steps themselves."""
        return None

    def is_correct(self, answer: str | None) -> bool:
        """Whether `answer` solves the puzzle exactly."""
        return verify(self.numbers, answer)
