"""Game of 24 puzzles: parsing, an exact solver, difficulty, a generator and a file loader."""

from __future__ import annotations

import csv
import json
import math
import random
import re
from collections.abc import Iterator, Sequence
from fractions import Fraction
from functools import cache
from itertools import combinations_with_replacement
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ponder.envs.game24.expressions import TARGET
from ponder.errors import ConfigError

LOW, HIGH = 1, 13

# -- puzzles ----------------------------------------------------------------------------


def parse_puzzle(text: str | Sequence[int]) -> tuple[int, ...]:
    """`"4 9 10 13"` -> (4, 9, 10, 13); a `ConfigError` unless it is exactly four integers in 1–13."""
    if isinstance(text, str):
        parts = re.split(r"[\s,]+", text.strip())
        try:
            nums = tuple(int(p) for p in parts if p)
        except ValueError:
            raise ConfigError(
                f"a Game of 24 puzzle is four whole numbers in 1–13 separated by spaces, like '4 9 10 13'; got {text!r}"
            ) from None
    else:
        nums = tuple(int(n) for n in text)
    if len(nums) != 4 or not all(LOW <= n <= HIGH for n in nums):
        raise ConfigError(
            f"a Game of 24 puzzle is four whole numbers in 1–13, like '4 9 10 13'; got {' '.join(map(str, nums))!r}"
        )
    return nums


def _fmt(v: Fraction) -> str:
    return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"


def _combine(a: Fraction, b: Fraction) -> Iterator[tuple[str, Fraction, bool]]:
    """(op, result, swapped) for every way to combine a and b (commutative ops once)."""
    yield "+", a + b, False
    yield "*", a * b, False
    yield "-", a - b, False
    yield "-", b - a, True
    if b != 0:
        yield "/", a / b, False
    if a != 0:
        yield "/", b / a, True


def _search(items: list[tuple[Fraction, str]]) -> str | None:
    if len(items) == 1:
        return items[0][1] if items[0][0] == TARGET else None
    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            rest = [items[k] for k in range(len(items)) if k not in (i, j)]
            (a, ea), (b, eb) = items[i], items[j]
            for op, r, swapped in _combine(a, b):
                x, y = (eb, ea) if swapped else (ea, eb)
                found = _search([*rest, (r, f"({x} {op} {y})")])
                if found is not None:
                    return found
    return None


def solve(numbers: Sequence[int]) -> str | None:
    """One expression that makes 24 from `numbers` (each used once), or None when there is none."""
    found = _search([(Fraction(n), str(n)) for n in numbers])
    if found is None:
        return None
    return found[1:-1] if found.startswith("(") and found.endswith(")") else found


# Counting solutions visits ~117k multisets for the 1,820 puzzles: rationals as reduced (numerator,
# denominator) int pairs make that ~2.5x faster than `Fraction`, whose arithmetic and hashing are Python code.
_Q = tuple[int, int]
_TARGET_Q: _Q = (TARGET.numerator, TARGET.denominator)


def _q(n: int, d: int) -> _Q:
    if d < 0:
        n, d = -n, -d
    g = math.gcd(n, d)
    return (n // g, d // g) if g > 1 else (n, d)


def _combine_q(a: _Q, b: _Q) -> Iterator[_Q]:
    """The results of `_combine(a, b)`, on int pairs."""
    (an, ad), (bn, bd) = a, b
    yield _q(an * bd + bn * ad, ad * bd)
    yield _q(an * bn, ad * bd)
    yield _q(an * bd - bn * ad, ad * bd)
    yield _q(bn * ad - an * bd, ad * bd)
    if bn != 0:
        yield _q(an * bd, ad * bn)
    if an != 0:
        yield _q(bn * ad, bd * an)


@cache
def _paths_q(values: tuple[_Q, ...]) -> int:
    """How many combination orders (pair, op) lead from `values` (a sorted multiset) to 24."""
    if len(values) == 1:
        return 1 if values[0] == _TARGET_Q else 0
    total = 0
    n = len(values)
    for i in range(n):
        for j in range(i + 1, n):
            rest = [values[k] for k in range(n) if k != i and k != j]
            for r in _combine_q(values[i], values[j]):
                total += _paths_q(tuple(sorted([*rest, r])))
    return total


def _paths(values: Sequence[Fraction | int]) -> int:
    """How many combination orders (pair, op) lead from the rationals `values` to 24."""
    return _paths_q(tuple(sorted((Fraction(v).numerator, Fraction(v).denominator) for v in values)))


def count_solutions(numbers: Sequence[int]) -> int:
    """The number of solution paths (pair and operation at each step) that reach 24: fewer is harder."""
    return _paths_q(tuple(sorted((int(n), 1) for n in numbers)))


class Puzzle(BaseModel):
    """One puzzle with its difficulty: `solutions` paths reach 24; `difficulty` in [0, 1], 1 the hardest."""

    model_config = ConfigDict(frozen=True)

    numbers: tuple[int, int, int, int]
    solutions: int
    difficulty: float

    @property
    def text(self) -> str:
        """The puzzle as the task input writes it: `4 9 10 13`."""
        return " ".join(map(str, self.numbers))


@cache
def all_puzzles() -> tuple[Puzzle, ...]:
    """Every solvable puzzle (sorted numbers in 1–13), hardest first."""
    counts = {nums: count_solutions(nums) for nums in combinations_with_replacement(range(LOW, HIGH + 1), 4)}
    solvable = {k: v for k, v in counts.items() if v > 0}
    top = math.log1p(max(solvable.values()))
    puzzles = [
        Puzzle(numbers=k, solutions=v, difficulty=round(1 - math.log1p(v) / top, 4)) for k, v in solvable.items()
    ]
    return tuple(sorted(puzzles, key=lambda p: (-p.difficulty, p.numbers)))


def sample_puzzles(n: int, *, seed: int = 0, min_difficulty: float = 0.0, max_difficulty: float = 1.0) -> list[Puzzle]:
    """`n` distinct solvable puzzles drawn with `seed` among those whose difficulty is in the range."""
    pool = [p for p in all_puzzles() if min_difficulty <= p.difficulty <= max_difficulty]
    if n > len(pool):
        raise ConfigError(
            f"only {len(pool)} puzzles have difficulty in [{min_difficulty}, {max_difficulty}]; ask for fewer"
        )
    return random.Random(seed).sample(pool, n)


def load_puzzles(path: str | Path) -> list[tuple[int, ...]]:
    """Puzzles from a CSV (a `Puzzles` column, as in the 4nums list) or JSONL (`puzzle`/`numbers`/`input`) file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"no puzzle file at {p}; give a CSV with a 'Puzzles' column or a JSONL file")
    out: list[tuple[int, ...]] = []
    if p.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        for lineno, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ConfigError(f"{p}:{lineno} is not JSON ({e.msg}); one puzzle object per line") from None
            value = (
                row
                if isinstance(row, list | str)
                else next((row[k] for k in ("puzzle", "numbers", "input", "Puzzles") if k in row), None)
            )
            if value is None:
                raise ConfigError(f"{p}:{lineno} has no 'puzzle', 'numbers' or 'input' field")
            out.append(parse_puzzle(value))
        return out
    with p.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        column = next((c for c in reader.fieldnames or () if c.strip().lower() in ("puzzles", "puzzle")), None)
        if column is None:
            raise ConfigError(f"{p} has no 'Puzzles' column (columns: {', '.join(reader.fieldnames or ())})")
        out = [parse_puzzle(row[column]) for row in reader]
    return out
