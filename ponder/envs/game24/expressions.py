"""Game of 24 expressions: a small parser of our own (never `eval`), exact evaluation, the verifier.

Arithmetic is exact (`fractions.Fraction`), so `8/(3-8/3)` is a solution and `1/3*3` is exactly 1.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

TARGET = Fraction(24)
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
