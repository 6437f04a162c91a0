"""calculator: exact arithmetic over a whitelisted AST, bounded, with clear refusals."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from ponder.tools import ToolError
from ponder.tools.calculator import calculate, make_calculator


@pytest.mark.parametrize(
    ("expr", "want"),
    [
        ("1234 * 5678", "7006652"),
        ("(3 + 4) / 7", "1"),
        ("1/4", "0.25"),
        ("0.1 + 0.2", "0.3"),
        ("1/3", "0.333333333333"),
        ("2**10", "1024"),
        ("2^10", "1024"),
        ("-3 % 5", "2"),
        ("7 // 2", "3"),
        ("1,234 + 1", "1235"),
        ("max(1, 2) + min(4, 3)", "5"),
        ("sqrt(16)", "4"),
        ("round(2.567, 2)", "2.57"),
        ("12 × 3 =", "36"),
    ],
)
def test_calculates_exactly(expr: str, want: str) -> None:
    assert calculate(expr) == want


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("__import__('os').system('true')", "not allowed"),
        ("__import__('os')", "unknown function"),
        ("open('/etc/passwd')", "unknown function"),
        ("x + 1", "unknown name"),
        ("'a' * 3", "not a number"),
        ("[1, 2]", "not allowed"),
        ("1 / 0", "division by zero"),
        ("9**9**9", "too large"),
        ("2**100000", "too large"),
        ("1" * 2000, "longer than"),
        ("(" * 300 + "1" + ")" * 300, "parentheses"),
        ("1 +", "cannot parse"),
        ("", "empty"),
        ("(lambda: 1)()", "not allowed"),
    ],
)
def test_refuses_with_a_reason(expr: str, reason: str) -> None:
    with pytest.raises(ToolError, match=reason):
        calculate(expr)


def test_huge_inputs_are_refused_quickly() -> None:
    t0 = time.perf_counter()
    for expr in ("9**9**9**9", "10**999 * 10**999 * 10**999", "-(" * 45 + "1" + ")" * 45):
        with pytest.raises(ToolError):
            calculate(expr)
    assert time.perf_counter() - t0 < 1.0


async def test_tool_spec_and_string_args() -> None:
    t = make_calculator()
    spec = t.spec()
    assert spec.name == "calculator"
    assert spec.parameters["properties"]["expression"]["type"] == "string"
    assert spec.parameters["required"] == ["expression"]
    assert await t.acall("6 * 7") == "42"
    assert await t.acall({"expression": "6 * 7"}) == "42"
    with pytest.raises(ToolError, match="bad arguments"):
        await t.acall({"expr": "1"})


@pytest.mark.parametrize(
    ("expr", "want"),
    [
        ("10**27 + 0.5", "1000000000000000000000000000.5"),
        ("123456789012345678901234567891/2", "61728394506172839450617283945.5"),
        ("-1/8", "-0.125"),
        ("10**30 / 4", "250000000000000000000000000000"),
        ("floor(10**30 / 7)", "142857142857142857142857142857"),
        ("log10(10**500)", "500"),
        ("round(1/3, 5)", "0.33333"),
    ],
)
def test_exact_inputs_give_exact_results(expr: str, want: str) -> None:
    assert calculate(expr) == want


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("1e999", "too large for a float"),
        ("1e999 - 1e999", "too large for a float"),
        ("10**400/3", "too large"),
        ("sqrt(10**400)", "too large"),
        ("exp(1000)", "exp"),
        ("round(2.5, 0.5)", "whole number"),
        ("round(1, 2, 3)", "round"),
    ],
)
def test_overflow_is_a_tool_error(expr: str, reason: str) -> None:
    with pytest.raises(ToolError, match=reason):
        calculate(expr)


def _calculate_with_deadline(exprs: list[str], deadline_s: float = 20.0) -> list[str]:
    """calculate() of each in a child process, so an unbounded computation fails this test instead of hanging it."""
    code = (
        "import sys\nfrom ponder.tools.calculator import calculate\nfrom ponder.errors import ToolError\n"
        "for x in sys.argv[1:]:\n    try:\n        print('ok', calculate(x))\n"
        "    except ToolError as e:\n        print('ToolError', e)\n"
    )
    try:
        out = subprocess.run([sys.executable, "-c", code, *exprs], capture_output=True, text=True, timeout=deadline_s)
    except subprocess.TimeoutExpired:
        pytest.fail(f"calculate() of {exprs} ran past {deadline_s} s: its work is not bounded before it is done")
    return out.stdout.splitlines() or [out.stderr]


def test_round_digits_are_bounded_before_the_work() -> None:
    got = _calculate_with_deadline(["round(1, 10**999)", "round(1, 10**7)", "round(2.5, -10**7)"])
    assert len(got) == 3, got
    assert all(g.startswith("ToolError round(): the number of digits must be between") for g in got), got
