"""LATS's `feedback` on code tasks (ScriptedBackend, the shipped `code` env, the real sandbox): which tests
the search sees, that the hidden ones never reach a request, and that old recorded configs keep theirs."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from ponder import registry
from ponder.agents.code_tests import TESTS_SYSTEM, asserts
from ponder.agents.lats.agent import Lats
from ponder.agents.lats.problem import REFLECT_SYSTEM, VALUE_SYSTEM
from ponder.agents.lats.world import NO_TESTS
from ponder.backends.scripted import ScriptedBackend
from ponder.envs.code import CodeEnv
from ponder.errors import ConfigError
from ponder.replay.rerun import areplay
from ponder.runtime.runner import run_agent
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest, Task

RECORDINGS = Path(__file__).parent.parent / "recordings"
ADD = next(iter(CodeEnv().tasks()))  # def add(a, b), example add(2, 3) -> 5; hidden: also (-1, 1) and (0, 0)
WRONG = "Thought: Subtract.\nAction: submit\n```python\ndef add(a: int, b: int) -> int:\n    return a - b\n```"
RIGHT = "Thought: Add.\nAction: submit\n```python\ndef add(a: int, b: int) -> int:\n    return a + b\n```"
LESSON = "The function subtracted; it must add."


def model(req: CompletionRequest) -> str:
    system = req.messages[0].content
    if system == REFLECT_SYSTEM:
        return LESSON
    if system == VALUE_SYSTEM:
        return "Score: 6"
    return RIGHT if LESSON in req.messages[-1].content else WRONG


def sent(backend: ScriptedBackend) -> str:
    return "\n".join(m.content for r in backend.requests for m in r.messages)


def test_a_whole_recorded_config_from_before_the_option_keeps_the_hidden_tests() -> None:
    with sqlite3.connect(RECORDINGS / "lats_household.db") as db:
        (raw,) = db.execute("select config_json from runs where agent = 'lats'").fetchone()
    old = json.loads(raw)
    assert "feedback" not in old and Lats(**old).feedback == "hidden"
    assert Lats(n_iterations=3).feedback == "visible"  # what a user gets without saying
    assert Lats(**{**old, "feedback": "visible"}).feedback == "visible"
    assert Lats(**Lats().model_dump()).feedback == "visible"  # today's recorded configs say theirs
    with pytest.raises(ConfigError, match="feedback"):
        registry.build("agents", "lats", {"feedback": "oracle"})


async def test_visible_feedback_shows_the_docstring_example_never_the_hidden_tests(store: TraceStore) -> None:
    backend = ScriptedBackend(model, supports_n=False)
    result = await run_agent(Lats(n_iterations=3, n_generate=1, max_depth=3), ADD, backend=backend, store=store)
    assert (result.status, result.correct) == ("ok", True)
    events = list(store.events(result.run_id, with_data=True))
    failing = next(e for e in events if e.kind == "node" and e.label != "root")
    assert failing.data is not None and "add(2, 3) returned -1, expected 5" in failing.data["step"]
    text = sent(backend)
    assert "add(2, 3) returned -1, expected 5" in text and LESSON in text
    for hidden in ("candidate(-1, 1)", "candidate(0, 0)", "assert candidate"):
        assert hidden not in text
    report = await areplay(store, result.run_id)
    assert report.identical, report.render()


async def test_hidden_feedback_is_the_old_oracle(store: TraceStore) -> None:
    backend = ScriptedBackend(model, supports_n=False)
    lats = Lats(n_iterations=3, n_generate=1, max_depth=3, feedback="hidden")
    result = await run_agent(lats, ADD, backend=backend, store=store)
    assert (result.status, result.correct) == ("ok", True)
    assert "assert candidate(2, 3) == 5" in sent(backend)  # the hidden tests' failure reaches the model
    assert "lats_tests" not in [e.kind for e in store.events(result.run_id)]


NO_EXAMPLES = Task(
    id="inc",
    input="Complete `def inc(x):` that returns x plus one.",
    metadata={
        "prompt": 'def inc(x):\n    """Return x plus one."""\n',
        "entry_point": "inc",
        "test": "def check(candidate):\n    assert candidate(3) == 4\n",
    },
)
INC_WRONG = "Thought: Double it.\nAction: submit\n```python\ndef inc(x):\n    return x * 2\n```"


@pytest.mark.parametrize("feedback", ["visible", "generated"])
async def test_without_tests_a_program_that_runs_is_valued_by_the_model(store: TraceStore, feedback: str) -> None:
    def m(req: CompletionRequest) -> str:
        system = req.messages[0].content
        if system == TESTS_SYSTEM:
            return "inc should add one."  # no assert: no generated tests
        return "Score: 7" if system == VALUE_SYSTEM else INC_WRONG

    backend = ScriptedBackend(m, supports_n=False)
    lats = Lats(n_iterations=1, n_generate=1, max_depth=2, feedback=feedback, env="code")
    result = await run_agent(lats, NO_EXAMPLES, backend=backend, store=store)
    # the search cannot tell the program is wrong; the hidden test can, and judges the answer
    assert (result.status, result.correct) == ("ok", False)
    events = list(store.events(result.run_id, with_data=True))
    (tests,) = [e for e in events if e.kind == "lats_tests"]
    assert tests.status == "invalid" and tests.data is not None and tests.data["feedback"] == feedback
    node = next(e for e in events if e.kind == "node" and e.label != "root")
    assert node.data is not None and node.data["step"].endswith(f"Observation: {NO_TESTS}")
    (value,) = [e.data for e in events if e.kind == "lats_value"]
    assert value is not None and value["value"] == 0.7 and "reward" not in value
    assert "candidate(3)" not in sent(backend)


def test_generated_asserts_are_parsed_defensively() -> None:
    reply = (
        "Here are tests:\n```python\nassert inc(1) == 2\nassert inc(1) == 2\nassert other(1) == 2\n"
        "assert inc(2 == 3\nimport os; assert inc(0) == 1\nassert inc(-1) == 0, 'negative'\n```"
    )
    assert asserts(reply, "inc") == ["assert inc(1) == 2", "assert inc(-1) == 0, 'negative'"]
    assert asserts("no code at all", "inc") == []
