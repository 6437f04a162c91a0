"""Game-of-24 steps: `a op b = c (left: ...)` read and checked exactly against the numbers left."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

_NUM = r"-?\d+(?:\.\d+)?(?:\s*/\s*\d+)?"
# as the paper's code reads a step: the numbers after "left:", whatever text follows the
# parenthesis ("(repeated)", "≈ 3.67", "(approx.)"); the arithmetic before it is still checked
_STEP = re.compile(
    rf"^\s*(?:\d+[.)]\s+)?(?P<a>{_NUM})\s*(?P<op>[-+*/×÷xX−])\s*(?P<b>{_NUM})\s*[=≈]\s*(?P<c>{_NUM})"
    rf"[^(]*(?:\((?!\s*left\b)[^)]*\)[^(]*)*\(\s*left\s*:\s*(?P<left>[^)]*)\).*$",
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
