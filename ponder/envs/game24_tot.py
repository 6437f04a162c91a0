"""Game of 24 for Tree-of-Thoughts: the paper's prompts, the step checker and the thought problem.

The prompt texts are those of the ToT paper (Yao et al. 2023, princeton-nlp/tree-of-thought-llm,
`src/tot/prompts/game24.py`, MIT licence), kept word for word so results compare with the paper's.
A state `y` is the text of the steps so far, one per line, as in the paper:
`4 + 8 = 12 (left: 6 10 12)`; the last step of a solved state is `Answer: <expression> = 24`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from string import Template

from ponder.envs.game24 import TARGET, clean_answer, verify

# 5-shot, used by `sample` generation and, once 24 is left, to write the final answer
COT_PROMPT = Template("""Use numbers and basic arithmetic operations (+ - * /) to obtain 24. Each step, you are only allowed to choose two of the remaining numbers to obtain a new number.
Input: 4 4 6 8
Steps:
4 + 8 = 12 (left: 4 6 12)
6 - 4 = 2 (left: 2 12)
2 * 12 = 24 (left: 24)
Answer: (6 - 4) * (4 + 8) = 24
Input: 2 9 10 12
Steps:
12 * 2 = 24 (left: 9 10 24)
10 - 9 = 1 (left: 1 24)
24 * 1 = 24 (left: 24)
Answer: (12 * 2) * (10 - 9) = 24
Input: 4 9 10 13
Steps:
13 - 10 = 3 (left: 3 4 9)
9 - 3 = 6 (left: 4 6)
4 * 6 = 24 (left: 24)
Answer: 4 * (9 - (13 - 10)) = 24
Input: 1 4 8 8
Steps:
8 / 4 = 2 (left: 1 2 8)
1 + 2 = 3 (left: 3 8)
3 * 8 = 24 (left: 24)
Answer: (1 + 8 / 4) * 8 = 24
Input: 5 5 5 9
Steps:
5 + 5 = 10 (left: 5 9 10)
10 + 5 = 15 (left: 9 15)
15 + 9 = 24 (left: 24)
Answer: ((5 + 5) + 5) + 9 = 24
Input: $input
""")  # noqa: E501

# 1-shot
PROPOSE_PROMPT = Template("""Input: 2 8 8 14
Possible next steps:
2 + 8 = 10 (left: 8 10 14)
8 / 2 = 4 (left: 4 8 14)
14 + 2 = 16 (left: 8 8 16)
2 * 8 = 16 (left: 8 14 16)
8 - 2 = 6 (left: 6 8 14)
14 - 8 = 6 (left: 2 6 8)
14 /  2 = 7 (left: 7 8 8)
14 - 2 = 12 (left: 8 8 12)
Input: $input
Possible next steps:
""")

VALUE_PROMPT = Template("""Evaluate if given numbers can reach 24 (sure/likely/impossible)
10 14
10 + 14 = 24
sure
11 12
11 + 12 = 23
12 - 11 = 1
11 * 12 = 132
11 / 12 = 0.91
impossible
4 4 10
4 + 4 + 10 = 8 + 10 = 18
4 * 10 - 4 = 40 - 4 = 36
(10 - 4) * 4 = 6 * 4 = 24
sure
4 9 11
9 + 11 + 4 = 20 + 4 = 24
sure
5 7 8
5 + 7 + 8 = 12 + 8 = 20
(8 - 5) * 7 = 3 * 7 = 21
I cannot obtain 24 now, but numbers are within a reasonable range
likely
5 6 6
5 + 6 + 6 = 17
(6 - 5) * 6 = 1 * 6 = 6
I cannot obtain 24 now, but numbers are within a reasonable range
likely
10 10 11
10 + 10 + 11 = 31
(11 - 10) * 10 = 10
10 10 10 are all too big
impossible
1 3 3
1 * 3 * 3 = 9
(1 + 3) * 3 = 12
1 3 3 are all too small
impossible
$input
""")

VALUE_LAST_STEP_PROMPT = Template("""Use numbers and basic arithmetic operations (+ - * /) to obtain 24. Given an input and an answer, give a judgement (sure/impossible) if the answer is correct, i.e. it uses each input exactly once and no other numbers, and reach 24.
Input: 4 4 6 8
Answer: (4 + 8) * (6 - 4) = 24
Judge: 
sure
Input: 2 9 10 12
Answer: 2 * 12 * (10 - 9) = 24
Judge: 
sure
Input: 4 9 10 13
Answer: (13 - 9) * (10 - 4) = 24
Judge: 
sure
Input: 4 4 6 8
Answer: (4 + 8) * (6 - 4) + 1 = 25
Judge: 
impossible
Input: 2 9 10 12
Answer: 2 * (12 - 10) = 24
Judge: 
impossible
Input: 4 9 10 13
Answer: (13 - 9) * (10 - 4) = 24
Judge: 
impossible
Input: $input
Answer: $answer
Judge:""")  # noqa: W291, E501 -- the paper's prompt has "Judge: " with a trailing space

VOTE_PROMPT = Template("""Use numbers and basic arithmetic operations (+ - * /) to obtain 24 from the input. Given the input and several choices of partial solutions, decide which choice is most promising. Analyze each choice in detail, then conclude in the last line "The best choice is {s}", where s the integer id of the choice.
Input: $input
$choices
""")  # noqa: E501

# the paper's value map: sure / likely / impossible
VALUE_MAP = {"sure": 20.0, "likely": 1.0, "impossible": 0.001}

_NUM = r"-?\d+(?:\.\d+)?(?:\s*/\s*\d+)?"
_STEP = re.compile(
    rf"^\s*(?:\d+[.)]\s+)?(?P<a>{_NUM})\s*(?P<op>[-+*/×÷xX−])\s*(?P<b>{_NUM})\s*=\s*(?P<c>{_NUM})\s*"
    rf"\(\s*left\s*:\s*(?P<left>[^)]*)\)\s*$",
    re.IGNORECASE,
)
_OPS = {"×": "*", "x": "*", "X": "*", "÷": "/", "−": "-"}
# "2.67" stands for 8/3: models round, and then compute on the rounded numbers they were shown;
# the checker accepts a written decimal near the exact value and keeps the exact value itself
_TOL, _REL = Fraction(1, 50), Fraction(3, 100)


def _number(text: str) -> Fraction:
    return Fraction(text.replace(" ", ""))


def _close(written: Fraction, exact: Fraction) -> bool:
    return written == exact or (written.denominator != 1 and abs(written - exact) <= max(_TOL, _REL * abs(exact)))


@dataclass(frozen=True)
class Item:
    """A number left: its exact value and the expression that made it."""

    value: Fraction
    expr: str


@dataclass(frozen=True)
class StepCheck:
    """The checked step: the numbers left after it, or why it is invalid."""

    left: tuple[Item, ...] = ()
    error: str | None = None


def _take(items: list[Item], written: Fraction) -> Item | None:
    for k, it in enumerate(items):
        if _close(written, it.value):
            return items.pop(k)
    return None


def check_step(line: str, available: Sequence[Item]) -> StepCheck:
    """Check `a op b = c (left: ...)` against the numbers available: both operands there, `c` right, `left` right."""
    m = _STEP.match(line)
    if m is None:
        return StepCheck(error="not a step of the form 'a op b = c (left: ...)'")
    try:
        a, b, c = _number(m["a"]), _number(m["b"]), _number(m["c"])
        written_left = [_number(t) for t in re.split(r"[\s,]+", m["left"].strip()) if t]
    except (ValueError, ZeroDivisionError):
        return StepCheck(error="a number in the step cannot be read")
    items = list(available)
    x, y = _take(items, a), _take(items, b)
    if x is None or y is None:
        return StepCheck(error=f"uses a number that is not left ({' '.join(_fmt(i.value) for i in available)})")
    op = _OPS.get(m["op"], m["op"])
    if op == "/" and y.value == 0:
        return StepCheck(error="divides by zero")
    exact = {"+": x.value + y.value, "-": x.value - y.value, "*": x.value * y.value}.get(op)
    if exact is None:
        exact = x.value / y.value
    if not _close(c, exact):
        return StepCheck(error=f"{m['a']} {op} {m['b']} is {_fmt(exact)}, not {m['c']}")
    new = Item(exact, f"({x.expr} {op} {y.expr})")
    left = [*items, new]
    if len(written_left) != len(left):
        return StepCheck(error=f"'left' should list {len(left)} numbers")
    pool = list(left)
    for w in written_left:
        if _take(pool, w) is None:
            return StepCheck(error=f"'left' lists {_fmt(w)}, which is not left")
    return StepCheck(left=tuple(sorted(left, key=lambda i: i.value)))


def _fmt(v: Fraction) -> str:
    return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"


class Game24Thoughts:
    """The Game of 24 as a ToT problem: paper prompts; steps checked exactly, no model call for invalid ones."""

    def __init__(self, numbers: Sequence[int]) -> None:
        self.numbers = tuple(numbers)
        self.x = " ".join(map(str, numbers))
        self._left: dict[str, tuple[Item, ...] | None] = {}

    # -- state ----------------------------------------------------------------------------

    def _lines(self, y: str) -> list[str]:
        return [ln for ln in y.strip().split("\n") if ln.strip()]

    def left(self, y: str) -> tuple[Item, ...] | None:
        """The numbers left after the steps `y` (replayed exactly); None if a step is invalid."""
        if y not in self._left:
            self._left[y] = self._replay(y)
        return self._left[y]

    def _replay(self, y: str) -> tuple[Item, ...] | None:
        items: tuple[Item, ...] = tuple(Item(Fraction(n), str(n)) for n in self.numbers)
        for ln in self._lines(y):
            if ln.lower().startswith("answer"):
                break
            chk = check_step(ln, items)
            if chk.error is not None:
                return None
            items = chk.left
        return items

    def _current(self, y: str) -> str:
        # the paper's get_current_numbers: what the model wrote after "left: " on the last line
        lines = self._lines(y)
        if not lines:
            return self.x
        return lines[-1].split("left: ")[-1].split(")")[0]

    def _reached_24(self, y: str) -> bool:
        left = self.left(y)
        return left is not None and len(left) == 1 and left[0].value == TARGET

    # -- generation -----------------------------------------------------------------------

    def propose_prompt(self, y: str) -> str:
        if self._reached_24(y):
            # exactly as the paper's propose_prompt_wrap: "Steps:" directly followed by the steps
            return COT_PROMPT.substitute(input=self.x) + "Steps:" + y
        return PROPOSE_PROMPT.substitute(input=self._current(y))

    def sample_prompt(self, y: str) -> str:
        return COT_PROMPT.substitute(input=self.x) + y  # the paper's cot_prompt_wrap

    def is_terminal(self, y: str) -> bool:
        """A state nothing can follow: an answer was given, or one number other than 24 is left."""
        lines = self._lines(y)
        if lines and lines[-1].lower().startswith("answer"):
            return True
        left = self.left(y)
        return left is None or (len(left) == 1 and left[0].value != TARGET)

    def parse_steps(self, y: str, reply: str, *, first_only: bool = False) -> list[tuple[str, str | None]]:
        """Each line of `reply` as a next step: (line, None) if valid, else (line, why it is invalid)."""
        final = self._reached_24(y)
        left = self.left(y) or ()
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

    def value_prompt(self, y: str) -> str | None:
        lines = self._lines(y)
        if lines and lines[-1].lower().startswith("answer"):
            ans = re.sub(r"^answer\s*:\s*", "", lines[-1], flags=re.IGNORECASE)
            return VALUE_LAST_STEP_PROMPT.substitute(input=self.x, answer=ans)
        left = self.left(y)
        if left is not None and len(left) == 1 and left[0].value != TARGET:
            return None  # one number left and it is not 24: a dead end, no model needed
        return VALUE_PROMPT.substitute(input=self._current(y))

    def rule_value(self, y: str) -> float:
        """The value of a state judged without a model (a dead end)."""
        return VALUE_MAP["impossible"]

    def parse_value(self, reply: str) -> float | None:
        """The paper reads the last line as sure / likely / impossible; None if it is none of them."""
        lines = [ln.strip().lower() for ln in reply.strip().split("\n") if ln.strip()]
        if not lines:
            return None
        m = re.fullmatch(r"(?:\w+\s*:\s*)?\W*(sure|likely|impossible)\W*", lines[-1])
        return VALUE_MAP[m.group(1)] if m else None

    def vote_prompt(self, ys: Sequence[str]) -> str:
        choices = "\n".join(f"Choice {i}:\n{y.strip()}" for i, y in enumerate(ys, 1))
        return VOTE_PROMPT.substitute(input=self.x, choices=choices)

    # -- answer ---------------------------------------------------------------------------

    def answer(self, y: str) -> str | None:
        """The expression the steps give: the `Answer:` line, else the steps combined once 24 is left."""
        lines = self._lines(y)
        if lines and lines[-1].lower().startswith("answer"):
            expr = clean_answer(lines[-1])
            return expr if verify(self.numbers, expr) else None
        left = self.left(y)
        if left is not None and len(left) == 1 and left[0].value == TARGET:
            expr = left[0].expr
            return expr[1:-1] if expr.startswith("(") else expr
        return None

    def final_prompt(self, y: str) -> str | None:
        return None  # the answer comes from the steps themselves

    def is_correct(self, answer: str | None) -> bool:
        """Whether `answer` solves the puzzle exactly."""
        return verify(self.numbers, answer)


def _show(v: Fraction) -> str:
    # as models write them: integers, else two decimals ("8 / 3 = 2.67")
    return str(v.numerator) if v.denominator == 1 else f"{float(v):.2f}"


def propose_steps(numbers_text: str, limit: int = 8) -> list[str]:
    """Valid next steps from the numbers in `numbers_text`, in the paper's format (for scripted backends)."""
    nums = [Fraction(t) for t in numbers_text.split()]
    out: list[str] = []
    for i in range(len(nums)):
        for j in range(len(nums)):
            if i == j:
                continue
            a, b = nums[i], nums[j]
            rest = [nums[k] for k in range(len(nums)) if k not in (i, j)]
            for op, r in (("+", a + b), ("-", a - b), ("*", a * b), ("/", a / b if b else None)):
                if r is None or r < 0 or (op in "+*" and i > j):
                    continue
                left = " ".join(_show(v) for v in sorted([*rest, r]))
                out.append(f"{_show(a)} {op} {_show(b)} = {_show(r)} (left: {left})")
    return out[:limit]
