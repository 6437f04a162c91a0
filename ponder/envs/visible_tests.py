"""Visible tests of a code task: the examples its prompt shows the model, as a test a sandbox can run.

A HumanEval-format prompt documents its function with examples — doctest lines (`>>> f(1, 2)` then
the expected value on the next line) or one-line forms (`f(1, 2) == 3`, `f(1, 2) ➞ 3`, `f(1, 2) => 3`).
These are what a model may be checked against while it works (LATS's feedback, as in Zhou et al.
2023); the task's own `test` stays hidden and judges only the final answer.

`visible_tests(task)` turns the examples into a `check(candidate)` function in the task's test
format, so the env's `run_tests` runs them in the same sandbox as the hidden tests. Each failing
example says what was called, what came back and what was expected.
"""

from __future__ import annotations

import ast
import doctest
import re
from typing import Any

from pydantic import BaseModel

from ponder.types import Task

_ARROW = re.compile(
    r"^[\s*-]*(?P<call>[A-Za-z_]\w*\(.*\))\s*(?:#\s*)?(?:==>|==|➞|=>|->|→|=|returns|should return)\s*(?P<want>.+?)\s*$"
)
NO_CHECK = "def check(candidate):\n    pass\n"  # runs the program (defines it), checks nothing
_QUOTES = ('"""', "'''")


class Example(BaseModel):
    """One visible example: the call (a Python expression) and the expected value's source."""

    call: str
    want: str


def _expression(src: str) -> bool:
    try:
        ast.parse(src, mode="eval")
    except SyntaxError:
        return False
    return True


def _literal(src: str) -> bool:
    try:
        ast.literal_eval(src)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return True


def _top_call(src: str, entry: str) -> ast.Call | None:
    """`src` as a call of `entry` (`entry(...)`, its value the example's), else None (`print(entry(x))`)."""
    try:
        tree = ast.parse(src, mode="eval").body
    except SyntaxError:
        return None
    if isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and tree.func.id == entry:
        return tree
    return None


def _literal_call(src: str, entry: str) -> bool:
    """Whether `src` is `entry(...)` with only literal arguments (prose like `f(a) => …` is not an example)."""
    tree = _top_call(src, entry)
    if tree is None:
        return False
    return all(_literal(ast.unparse(a)) for a in [*tree.args, *(k.value for k in tree.keywords)])


def _want(text: str) -> str:
    """A doctest's expected output, up to the docstring's end (doctest reads on to the closing quotes)."""
    kept: list[str] = []
    for line in text.splitlines():
        if line.strip().startswith(_QUOTES):
            break
        kept.append(line)
    return "\n".join(kept).strip()


def _split_comparison(src: str) -> tuple[str, str]:
    """(`f(x)`, `3`) of `f(x) == 3`; ("", "") for anything else."""
    try:
        tree = ast.parse(src, mode="eval").body
    except SyntaxError:
        return "", ""
    if isinstance(tree, ast.Compare) and len(tree.ops) == 1 and isinstance(tree.ops[0], ast.Eq):
        return ast.unparse(tree.left), ast.unparse(tree.comparators[0])
    return "", ""


def examples(prompt: str, entry_point: str) -> list[Example]:
    """The examples in `prompt` that call `entry_point` and give an expected value (doctest and one-line forms)."""
    found: list[Example] = []
    seen: set[tuple[str, str]] = set()
    try:
        parsed: list[Any] = doctest.DocTestParser().get_examples(prompt)
    except ValueError:  # a malformed doctest block (bad indentation): fall back to the one-line forms
        parsed = []
    for ex in parsed:
        call, want = ex.source.strip(), _want(ex.want)
        if not want:  # `>>> f(x) == 3`: the comparison is the example
            call, want = _split_comparison(call)
        if want and _top_call(call, entry_point) and _expression(want):
            found.append(Example(call=call, want=want))
            seen.add((call, want))
    for line in prompt.splitlines():
        m = _ARROW.match(line)
        if m is None or line.lstrip().startswith(">>>"):
            continue
        call, want = m["call"].strip(), m["want"].strip().rstrip(".,;")
        head = want.split(" #", 1)[0].strip().rstrip(".,;")
        if head != want and _literal(head):  # `f(5) returns [1, 5] # because …`
            want = head
        if (call, want) in seen or not _literal_call(call, entry_point) or not _literal(want):
            continue
        found.append(Example(call=call, want=want))
        seen.add((call, want))
    return found


def check_source(found: list[Example]) -> str:
    """A `check(candidate)` that asserts every example: the value equals the expected one (or prints as it)."""
    lines = [
        "def _visible_same(got, want_src):",
        "    try:",
        "        want = eval(want_src)",
        "    except Exception:",
        "        return repr(got) == want_src or str(got) == want_src",
        "    return got == want or repr(got) == want_src",
        "",
        "",
        "def check(candidate):",
    ]
    for ex in found:
        lines += [
            f"    got = {ex.call}",
            f"    assert _visible_same(got, {ex.want!r}), "
            f"'%s returned %r, expected %s' % ({ex.call!r}, got, {ex.want!r})",
        ]
    if not found:
        lines.append("    pass")
    return "\n".join(lines) + "\n"


def visible_tests(task: Task) -> str | None:
    """The task's visible examples as its test source (`check(candidate)`), or None when its prompt shows none."""
    md = task.metadata
    prompt, entry = md.get("prompt"), md.get("entry_point")
    if not isinstance(prompt, str) or not isinstance(entry, str):
        return None
    found = examples(prompt, entry)
    return check_source(found) if found else None


def with_tests(task: Task, test: str) -> Task:
    """`task` with `test` in place of its own tests (what `run_tests` runs); the original is not changed."""
    return task.model_copy(update={"metadata": {**task.metadata, "test": test}})
