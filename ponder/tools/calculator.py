"""`calculator`: arithmetic over a whitelisted AST (no eval), exact with fractions, bounded.

It runs in-process (a worker thread), so its tool timeout cannot stop it: instead every step's
work is bounded *before* it is done — expression length and nesting, literal and result digits,
the bits a power would produce, round()'s digits — so no input runs for more than milliseconds.
A float that would overflow (1e999, a huge repeating decimal) is a `ToolError`, never OverflowError.
"""

from __future__ import annotations

import ast
import math
import re
from decimal import Decimal
from fractions import Fraction
from typing import Any

from pydantic import BaseModel, Field

from ponder.errors import ToolError
from ponder.tools.base import FunctionTool, ToolOptions

MAX_CHARS = 1000
MAX_DEPTH = 40
MAX_DIGITS = 1000  # refuse results and literals past this many digits
MAX_EXP_BITS = 4000  # refuse powers whose result would pass ~this many bits
MAX_ROUND_DIGITS = 100  # round(x, n): |n| at most this (round(1, 10**999) would build 10**(10**999))
Number = Fraction | float

_FUNCS: dict[str, Any] = {
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
    "sqrt": math.sqrt,
    "log": math.log,
    "log10": math.log10,
    "exp": math.exp,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "floor": math.floor,
    "ceil": math.ceil,
}
_CONSTS: dict[str, float] = {"pi": math.pi, "e": math.e}


class CalculatorArgs(BaseModel):
    """Arguments of the calculator tool."""

    expression: str = Field(description="An arithmetic expression, e.g. 1234 * 5678 or (3 + 4) / 7 or sqrt(2)")


def _float(x: Number, what: str) -> float:
    """`x` as a float, or a `ToolError` where it would overflow (never OverflowError)."""
    try:
        f = float(x)
    except OverflowError:
        raise ToolError(f"{what} is too large for a floating-point calculation (more than 1e308)") from None
    if math.isinf(f) or math.isnan(f):
        raise ToolError(f"{what} is not a finite number")
    return f


def _check_size(x: Number) -> Number:
    if isinstance(x, Fraction):
        if max(abs(x.numerator), x.denominator).bit_length() > MAX_DIGITS * 3.33:
            raise ToolError(f"the result has more than {MAX_DIGITS} digits; refusing")
    elif math.isinf(x) or math.isnan(x):
        raise ToolError("the result is not a finite number")
    return x


def _pow(a: Number, b: Number) -> Number:
    if isinstance(b, Fraction) and b.denominator == 1 and isinstance(a, Fraction):
        e = b.numerator
        bits = max(abs(a.numerator), a.denominator).bit_length()
        if bits > 1 and abs(e) * bits > MAX_EXP_BITS:
            raise ToolError(f"the power is too large (about {abs(e) * bits} bits); refusing")
        if a == 0 and e < 0:
            raise ToolError("division by zero")
        return a**e
    try:
        r = _float(a, "the base") ** _float(b, "the exponent")
    except (OverflowError, ZeroDivisionError) as e:
        raise ToolError(f"the power cannot be computed: {e}") from None
    if isinstance(r, complex):
        raise ToolError("the power has no real value")
    return r


def _binop(op: ast.operator, a: Number, b: Number) -> Number:
    try:
        if isinstance(op, ast.Add):
            return a + b
        if isinstance(op, ast.Sub):
            return a - b
        if isinstance(op, ast.Mult):
            return a * b
        if isinstance(op, ast.Div):
            return a / b
        if isinstance(op, ast.FloorDiv):
            return Fraction(a // b) if isinstance(a // b, int) else a // b
        if isinstance(op, ast.Mod):
            return a % b
        if isinstance(op, ast.Pow):
            return _pow(a, b)
    except ZeroDivisionError:
        raise ToolError("division by zero") from None
    except OverflowError:
        raise ToolError("the number is too large") from None
    raise ToolError(f"operator {type(op).__name__} is not allowed; use + - * / // % ** and parentheses")


def _round(args: list[Number]) -> Number:
    if not 1 <= len(args) <= 2:
        raise ToolError("round() takes a number and optionally how many digits, e.g. round(2.567, 2)")
    x = args[0]
    if len(args) == 1:
        return Fraction(round(x))
    n = args[1]
    if not (isinstance(n, Fraction) and n.denominator == 1):
        raise ToolError("round(): the number of digits must be a whole number")
    if abs(n.numerator) > MAX_ROUND_DIGITS:  # checked before 10**n is built
        raise ToolError(f"round(): the number of digits must be between -{MAX_ROUND_DIGITS} and {MAX_ROUND_DIGITS}")
    out: Number = round(x, int(n.numerator))  # type: ignore[assignment]  # float or Fraction, as x
    return out


def _call(name: str, fn: Any, args: list[Number]) -> Number:
    """Apply a whitelisted function; exact on fractions where the function allows it, bounded always."""
    try:
        if fn in (abs, min, max):
            return _check_size(fn(*args))
        if fn is round:
            return _check_size(_round(args))
        if fn in (math.floor, math.ceil):
            if len(args) != 1:
                raise ToolError(f"{name}() takes one number")
            return Fraction(fn(args[0]))  # exact on fractions (no float detour)
        if fn in (math.log, math.log10) and args and all(isinstance(a, Fraction) and a.denominator == 1 for a in args):
            out = fn(*(int(a) for a in args))  # exact big integers: log(10**500) needs no float
        else:
            out = fn(*(_float(a, f"the argument of {name}()") for a in args))
    except (TypeError, ValueError, OverflowError, ZeroDivisionError) as e:
        raise ToolError(f"{name}(): {e}") from None
    return Fraction(out) if isinstance(out, int) else _check_size(float(out))


def _eval(node: ast.AST, depth: int = 0) -> Number:
    if depth > MAX_DEPTH:
        raise ToolError(f"the expression is nested more than {MAX_DEPTH} levels deep")
    if isinstance(node, ast.Expression):
        return _eval(node.body, depth + 1)
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ToolError(f"{v!r} is not a number")
        if isinstance(v, float) and not math.isfinite(v):
            raise ToolError(
                "a number in the expression is too large for a float (more than 1e308); write it exactly, e.g. 10**999"
            )
        return Fraction(v) if isinstance(v, int) else Fraction(Decimal(repr(v)))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd | ast.USub):
        x = _eval(node.operand, depth + 1)
        return -x if isinstance(node.op, ast.USub) else x
    if isinstance(node, ast.BinOp):
        return _check_size(_binop(node.op, _eval(node.left, depth + 1), _eval(node.right, depth + 1)))
    if isinstance(node, ast.Name):
        if node.id in _CONSTS:
            return _CONSTS[node.id]
        raise ToolError(f"unknown name {node.id!r}; known constants: {', '.join(_CONSTS)}")
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        fn = _FUNCS.get(node.func.id)
        if fn is None:
            raise ToolError(f"unknown function {node.func.id!r}; known functions: {', '.join(_FUNCS)}")
        args = [_eval(a, depth + 1) for a in node.args]
        return _call(node.func.id, fn, args)
    raise ToolError(f"{type(node).__name__} is not allowed in a calculation; use numbers, + - * / // % ** and ()")


def format_number(x: Number) -> str:
    """`Fraction(7006652)` -> `7006652`, `Fraction(1, 4)` -> `0.25`, `Fraction(1, 3)` -> `0.333333333333`.

    Whole numbers and terminating decimals are rendered exactly, digit for digit; a repeating
    decimal is shown to 12 significant digits (a `ToolError` where that would pass a float's range).
    """
    if isinstance(x, float):
        if x == int(x) and abs(x) < 1e15:
            return str(int(x))
        return f"{x:.12g}"
    if x.denominator == 1:
        return str(x.numerator)
    d, twos, fives = x.denominator, 0, 0
    while d % 2 == 0:
        d //= 2
        twos += 1
    while d % 5 == 0:
        d //= 5
        fives += 1
    if d == 1:  # a terminating decimal: exact, in integer arithmetic (Decimal would round past 28 digits)
        places = max(twos, fives)
        scaled = abs(x.numerator) * 10**places // x.denominator
        whole, frac = divmod(scaled, 10**places)
        sign = "-" if x < 0 else ""
        return f"{sign}{whole}.{str(frac).rjust(places, '0').rstrip('0')}"
    return f"{_float(x, 'the result (a repeating decimal)'):.12g}"


_THOUSANDS = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?![\d])")


def calculate(expression: str) -> str:
    """The value of an arithmetic expression as text; raises `ToolError` saying why when it refuses."""
    expr = expression.strip().rstrip("=").strip()
    if not expr:
        raise ToolError("the expression is empty; give one like 1234 * 5678")
    if len(expr) > MAX_CHARS:
        raise ToolError(f"the expression is longer than {MAX_CHARS} characters")
    if expr.count("(") > MAX_DEPTH * 2:
        raise ToolError(f"the expression has too many parentheses (at most {MAX_DEPTH * 2})")
    expr = expr.replace("×", "*").replace("÷", "/").replace("^", "**").replace("−", "-")
    # 1,234,567 -> 1234567, but keep max(1,2)'s comma
    expr = _THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), expr) if "(" not in expr else expr
    if any(len(d) > MAX_DIGITS for d in re.findall(r"\d+", expr)):
        raise ToolError(f"a number has more than {MAX_DIGITS} digits; refusing")
    try:
        tree = ast.parse(expr, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        msg = getattr(e, "msg", None) or str(e) or type(e).__name__
        raise ToolError(f"cannot parse {expression!r}: {msg}") from None
    return format_number(_eval(tree))


def make_calculator(options: ToolOptions | None = None) -> FunctionTool:
    """Exact arithmetic over + - * / // % ** with sqrt, log, exp, min, max, round (no eval)."""
    return FunctionTool(
        calculate,
        name="calculator",
        description="Evaluate an arithmetic expression exactly, e.g. 1234 * 5678. Input: the expression.",
        args_model=CalculatorArgs,
        timeout=5.0,
    )
