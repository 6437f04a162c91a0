"""The visible tests of a code task: the prompt's examples, as a `check(candidate)` run in the sandbox."""

from __future__ import annotations

from ponder.envs.code import CodeEnv
from ponder.envs.visible_tests import Example, check_source, examples, visible_tests, with_tests
from ponder.types import Task

DOCTEST = '''def f(xs: list, k: int) -> list:
    """Keep the items of xs above k.
    >>> f([1, 5, 3], 2)
    [5, 3]
    >>> f([], 0) == []
    >>> print(f([1], 0))
    [1]
    >>> other(1)
    2
    """
'''
ONE_LINE = '''def g(s):
    """Examples:
    g('ab') ==> 'ba'
    * g('') => ''
    g("abc") should return "cba".
    g(x) => the reverse of x
    g('a') returns 'a' # one letter
    For s = "xy" the output should be "yx"
    """
'''


def task(prompt: str, entry: str, test: str = "def check(candidate):\n    assert False\n") -> Task:
    return Task(id="t", input=prompt, metadata={"prompt": prompt, "entry_point": entry, "test": test})


def test_doctest_examples_and_comparisons_are_read_up_to_the_docstring_end() -> None:
    assert examples(DOCTEST, "f") == [
        Example(call="f([1, 5, 3], 2)", want="[5, 3]"),  # not the closing quotes doctest reads on to
        Example(call="f([], 0)", want="[]"),  # `>>> f(x) == y` with no output line
    ]  # `print(...)` is output, not a value; `other(1)` does not call the function


def test_one_line_examples_need_literal_arguments_and_values() -> None:
    assert examples(ONE_LINE, "g") == [
        Example(call="g('ab')", want="'ba'"),
        Example(call="g('')", want="''"),
        Example(call='g("abc")', want='"cba"'),
        Example(call="g('a')", want="'a'"),
    ]  # `g(x) => prose` and sentences are skipped


def test_the_check_runs_the_examples_in_the_sandbox_and_says_what_failed() -> None:
    t = task(DOCTEST, "f")
    source = visible_tests(t)
    assert source is not None and source == check_source(examples(DOCTEST, "f"))
    env = CodeEnv()
    right = "def f(xs, k):\n    return [x for x in xs if x > k]\n"
    assert env.run_tests(with_tests(t, source), right).passed
    assert not env.run_tests(t, right).passed  # the task's own (hidden) test is untouched
    report = env.run_tests(with_tests(t, source), "def f(xs, k):\n    return xs\n")
    assert not report.passed
    assert "AssertionError: f([1, 5, 3], 2) returned [1, 5, 3], expected [5, 3]" in report.feedback


def test_no_examples_no_visible_tests() -> None:
    assert visible_tests(task('def h():\n    """Return 1."""\n', "h")) is None
    assert visible_tests(Task(id="q", input="What is 2 + 2?")) is None


def test_every_shipped_code_task_has_visible_tests_its_solution_passes() -> None:
    env = CodeEnv()
    for t in env.tasks():
        source = visible_tests(t)
        assert source is not None, t.id
        solution = t.metadata["prompt"] + t.metadata["canonical_solution"]
        assert env.run_tests(with_tests(t, source), solution).passed, t.id
