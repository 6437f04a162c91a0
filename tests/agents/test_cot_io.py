"""The IO (standard prompting) baseline: `--agent cot --set style=io`; with env=game24 the paper's
5-shot standard prompt and the exact checker."""

from __future__ import annotations

from ponder import registry
from ponder.backends.scripted import ScriptedBackend
from ponder.envs.game24 import Game24Env, prompts
from ponder.traces.store import TraceStore
from ponder.types import Task

PUZZLE = Task(id="p", input="4 9 10 13", metadata={"numbers": [4, 9, 10, 13]})


async def test_io_on_game24_sends_the_papers_standard_prompt_and_checks_exactly(store: TraceStore) -> None:
    agent = registry.build("agents", "cot", {"style": "io", "env": "game24"})
    backend = ScriptedBackend(["Answer: (13 - 9) * (10 - 4) = 24\nInput: 1 1 1 1\nAnswer: 1 = 24"])
    r = await agent.arun(PUZZLE, backend=backend, store=store)
    (req,) = backend.requests
    assert [m.content for m in req.messages] == [prompts.STANDARD_PROMPT.substitute(input="4 9 10 13")]
    env = Game24Env()
    assert r.answer == "(13 - 9) * (10 - 4)", "the first Answer line"
    assert env.evaluate(PUZZLE, r.answer).correct is True, "checked exactly (as bench judges it)"
    wrong = await agent.arun(PUZZLE, backend=ScriptedBackend(["Answer: 4 * 9 - 10 - 13 = 24"]), store=store)
    assert env.evaluate(PUZZLE, wrong.answer).correct is False


async def test_io_without_an_env_asks_for_the_answer_directly(store: TraceStore) -> None:
    agent = registry.build("agents", "cot", {"style": "io"})
    backend = ScriptedBackend(["The answer is 391."])
    r = await agent.arun(Task(id="q", input="What is 17 * 23?", expected="391"), backend=backend, store=store)
    (req,) = backend.requests
    assert "step by step" not in req.messages[-1].content and "What is 17 * 23?" in req.messages[-1].content
    assert r.answer == "391" and r.correct is True
