import pytest

from ponder import CoT, ScriptedBackend, Task
from ponder.agents.cot import Exemplar
from ponder.errors import BudgetExceeded, ConfigError


async def test_cot_zero_shot_records_and_extracts(store):
    b = ScriptedBackend(["17*20=340 and 17*3=51, so 391. The answer is 391."])
    r = await CoT().arun(Task.from_question("What is 17 * 23?", expected="391"), backend=b, store=store)
    assert r.answer == "391" and r.correct is True and r.calls == 1
    prompt = b.requests[0].messages[-1].content
    assert "Let's think step by step." in prompt and "What is 17 * 23?" in prompt
    kinds = [e.kind for e in store.events(r.run_id)]
    assert kinds == ["llm_call", "thought", "answer"]
    run = store.get_run(r.run_id)
    assert run.status == "ok" and run.answer == "391" and run.correct is True
    assert run.prompt_tokens > 0 and run.last_seq == 3


async def test_cot_few_shot_prompt_contains_exemplars(store):
    b = ScriptedBackend(["The answer is 4."])
    agent = CoT(exemplars=[Exemplar(question="1+1?", reasoning="One plus one is two.", answer="2")])
    r = await agent.arun("2+2?", backend=b, store=store)
    assert r.answer == "4"
    assert "Q: 1+1?\nA: One plus one is two. The answer is 2." in b.requests[0].messages[-1].content


async def test_cot_without_answer_is_recorded_invalid(store):
    r = await CoT().arun("Who?", backend=ScriptedBackend(["no idea"]), store=store)
    assert r.answer is None
    thought = next(e for e in store.events(r.run_id) if e.kind == "thought")
    assert thought.status == "invalid"


async def test_backend_failure_marks_run_error(store):
    with pytest.raises(Exception, match="ran out"):
        await CoT().arun("q", backend=ScriptedBackend([]), store=store)
    run = store.list_runs(limit=1)[0]
    assert run.status == "error" and "ran out" in (run.error or "")
    assert [e.kind for e in store.events(run.id)][-1] == "error"


async def test_budget_max_calls(store):
    from ponder.runtime.budget import Budget

    with pytest.raises(BudgetExceeded):
        await CoT().arun("q", backend=ScriptedBackend(["The answer is 1."]), store=store, budget=Budget(max_calls=0))


async def test_empty_question_is_refused(store):
    with pytest.raises(ConfigError, match="empty"):
        await CoT().arun("   ", backend=ScriptedBackend([]), store=store)


def test_sync_run_wrapper(store):
    r = CoT().run("2+2?", backend=ScriptedBackend(["The answer is 4"]), store=store)
    assert r.answer == "4"
