"""Game of 24: puzzles, an exact verifier and solver, a puzzle generator and loader, and the env.

Four numbers in 1–13; combine each exactly once with + - * / to make 24. Arithmetic is
exact (`fractions.Fraction`), expressions are parsed by a small parser of our own (never
`eval`), so `8/(3-8/3)` is a solution and `1/3*3` is exactly 1.
"""

from __future__ import annotations

import csv
import json
import math
import random
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from itertools import combinations_with_replacement
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ponder.envs.base import Env, Evaluation
from ponder.errors import ConfigError
from ponder.types import Task

TARGET = Fraction(24)
LOW, HIGH = 1, 13
_OPS = {"+", "-", "*", "/"}
_OP_ALIASES = {"×": "*", "x": "*", "X": "*", "÷": "/", "−": "-", "–": "-"}


# -- expressions ------------------------------------------------------------------------


class ExpressionError(ValueError):
    """The text is not an arithmetic expression over integers with + - * / and parentheses."""


@dataclass(frozen=True)
class Num:
    """A number written in the expression."""

    value: int


@dataclass(frozen=True)
class BinOp:
    """`left op right`."""

    op: str
    left: Num | BinOp
    right: Num | BinOp


Expr = Num | BinOp
_TOKEN = re.compile(r"\s*(?:(\d+)|([-+*/×÷xX−–()\[\]]))")


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ExpressionError(f"unexpected {text[pos:].strip()[:10]!r} at position {pos}")
        tok = m.group(1) or m.group(2)
        tok = _OP_ALIASES.get(tok, tok)
        out.append({"[": "(", "]": ")"}.get(tok, tok))
        pos = m.end()
    return out


class _Parser:
    """Recursive descent: expr := term (('+'|'-') term)*; term := factor (('*'|'/') factor)*; factor := INT | (expr)."""

    def __init__(self, tokens: list[str]) -> None:
        self.toks = tokens
        self.i = 0

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise ExpressionError("the expression ends too early")
        self.i += 1
        return tok

    def expr(self) -> Expr:
        node = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            node = BinOp(op, node, self.term())
        return node

    def term(self) -> Expr:
        node = self.factor()
        while self.peek() in ("*", "/"):
            op = self.take()
            node = BinOp(op, node, self.factor())
        return node

    def factor(self) -> Expr:
        tok = self.take()
        if tok == "(":
            node = self.expr()
            if self.peek() != ")":
                raise ExpressionError("a parenthesis is not closed")
            self.take()
            return node
        if tok.isdigit():
            return Num(int(tok))
        raise ExpressionError(f"expected a number or '(' but found {tok!r}")


def parse_expression(text: str) -> Expr:
    """Parse `text` (e.g. `8 / (3 - 8 / 3)`) into an expression tree; `ExpressionError` if it is not one."""
    tokens = _tokens(text)
    if not tokens:
        raise ExpressionError("the expression is empty")
    p = _Parser(tokens)
    node = p.expr()
    if p.peek() is not None:
        raise ExpressionError(f"unexpected {p.peek()!r} after the expression")
    return node


def evaluate(node: Expr) -> Fraction | None:
    """The exact value of an expression tree; None on division by zero."""
    if isinstance(node, Num):
        return Fraction(node.value)
    a, b = evaluate(node.left), evaluate(node.right)
    if a is None or b is None:
        return None
    if node.op == "+":
        return a + b
    if node.op == "-":
        return a - b
    if node.op == "*":
        return a * b
    return None if b == 0 else a / b


def leaves(node: Expr) -> list[int]:
    """The numbers an expression uses, left to right."""
    if isinstance(node, Num):
        return [node.value]
    return leaves(node.left) + leaves(node.right)


def clean_answer(text: str) -> str:
    """`Answer: (1 + 2) * 8 = 24.` -> `(1 + 2) * 8`: drop a prefix label, the claimed result and trailing dots."""
    t = text.strip().strip("`*").strip()
    t = re.sub(r"^\s*(?:final\s+)?answer\s*[:：]\s*", "", t, flags=re.IGNORECASE)
    if "=" in t:
        t = t.split("=")[0]
    return t.strip().rstrip(".").strip()


def verify(numbers: Sequence[int], expression: str | None) -> bool:
    """Whether `expression` uses exactly `numbers` (each once) and equals 24 exactly; never raises."""
    if not expression:
        return False
    try:
        node = parse_expression(clean_answer(expression))
    except ExpressionError:
        return False
    if Counter(leaves(node)) != Counter(int(n) for n in numbers):
        return False
    return evaluate(node) == TARGET


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


@cache
def _paths(values: tuple[Fraction, ...]) -> int:
    """How many combination orders (pair, op) lead from `values` to 24."""
    if len(values) == 1:
        return 1 if values[0] == TARGET else 0
    total = 0
    for i in range(len(values)):
        for j in range(i + 1, len(values)):
            rest = [values[k] for k in range(len(values)) if k not in (i, j)]
            for _, r, _ in _combine(values[i], values[j]):
                total += _paths(tuple(sorted([*rest, r])))
    return total


def count_solutions(numbers: Sequence[int]) -> int:
    """The number of solution paths (pair and operation at each step) that reach 24: fewer is harder."""
    return _paths(tuple(sorted(Fraction(n) for n in numbers)))


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


# -- the environment ---------------------------------------------------------------------


class Game24Env(Env, BaseModel):
    """Game of 24: tasks from a puzzle file (`path`, CSV/JSONL) or generated; answers checked exactly.

    start/end: a slice of the file's puzzles (the paper uses 900–1000 of the 4nums list).
    n, seed, min_difficulty: how many generated puzzles to draw, when there is no `path`.
    """

    model_config = ConfigDict(extra="forbid")
    name: ClassVar[str] = "game24"
    searchable: ClassVar[bool] = True
    # ToT's defaults for this env: the paper's setting (propose, value x3, BFS breadth 5, 4 steps)
    tot_defaults: ClassVar[Mapping[str, Any]] = {
        "method_generate": "propose",
        "method_evaluate": "value",
        "n_evaluate": 3,
        "search": "bfs",
        "breadth": 5,
        "depth": 4,
        "temperature": 0.7,
    }

    path: str | None = None
    start: int = Field(default=0, ge=0)
    end: int | None = None
    n: int = Field(default=100, ge=1)
    seed: int = 0
    min_difficulty: float = 0.0

    _current: tuple[int, ...] | None = None

    def tasks(self) -> Iterator[Task]:
        """The puzzles of `path` (sliced by start/end), else `n` generated ones drawn with `seed`."""
        if self.path is not None:
            puzzles = load_puzzles(self.path)[self.start : self.end]
            ids = [f"game24-{i}" for i in range(self.start, self.start + len(puzzles))]
        else:
            drawn = sample_puzzles(self.n, seed=self.seed, min_difficulty=self.min_difficulty)
            puzzles = [p.numbers for p in drawn]
            ids = [f"game24-gen-{'-'.join(map(str, p))}" for p in puzzles]
        for tid, nums in zip(ids, puzzles, strict=True):
            yield Task(id=tid, input=" ".join(map(str, nums)), metadata={"numbers": list(nums)})

    def reset(self, task: Task) -> str:
        """Start on `task`'s puzzle; the observation is the puzzle itself."""
        self._current = numbers_of(task)
        return task.input

    def step(self, action: str) -> tuple[str, float, bool]:
        """Check `action` as the final expression: reward 1 if it makes 24, and the episode ends."""
        if self._current is None:
            raise ConfigError("call reset(task) before step(action)")
        ok = verify(self._current, action)
        return ("correct: the expression makes 24" if ok else "incorrect", 1.0 if ok else 0.0, True)

    def evaluate(self, task: Task, answer: str | None) -> Evaluation:
        """Correct when `answer` is an expression that makes 24 from the task's numbers."""
        nums = numbers_of(task)
        ok = verify(nums, answer)
        return Evaluation(correct=ok, score=1.0 if ok else 0.0, detail="" if ok else f"not a solution of {task.input}")

    def cot_prompt(self, task: Task) -> str:
        """The paper's 5-shot CoT prompt for one puzzle (what CoT sends with `env=game24`)."""
        from ponder.envs.game24_tot import COT_PROMPT

        return COT_PROMPT.substitute(input=task.input)

    def extract_answer(self, text: str) -> str | None:
        """The expression of the first `Answer: … = 24` line of a reply (a few-shot model may go on to
        invent further puzzles and answer them); None if there is none."""
        lines = [ln for ln in text.splitlines() if re.match(r"^\s*answer\s*[:：]", ln, re.IGNORECASE)]
        return clean_answer(lines[0]) or None if lines else None

    def thought_problem(self, task: Task) -> Any:
        """The ToT problem (prompts, step checker, final answer) for one puzzle."""
        from ponder.envs.game24_tot import Game24Thoughts

        return Game24Thoughts(numbers_of(task))


def numbers_of(task: Task) -> tuple[int, ...]:
    """The puzzle of a task: its `numbers` metadata, else its input text; `ConfigError` if not a puzzle."""
    nums = task.metadata.get("numbers")
    return parse_puzzle(nums if nums is not None else task.input)


__all__ = [
    "Game24Env",
    "Puzzle",
    "all_puzzles",
    "count_solutions",
    "load_puzzles",
    "parse_expression",
    "parse_puzzle",
    "sample_puzzles",
    "solve",
    "verify",
]
