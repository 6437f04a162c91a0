"""A run that ends without an answer is an `error` run ("no answer: ..."), whatever strategy made it."""

from __future__ import annotations

import sqlite_utils

from ponder import registry
from ponder.agents.cot import CoT
from ponder.agents.react import ReAct
from ponder.agents.reflexion import Reflexion
from ponder.agents.self_consistency import SelfConsistency
from ponder.backends.scripted import ScriptedBackend
from ponder.experiments.bench import abench
from ponder.replay.rerun import areplay
from ponder.runtime.runner import ended_without_answer
from ponder.traces.store import TraceStore
from ponder.types import Choice, CompletionRequest, Task
from tests._toys import ToyEnv

LOOP = "Thought: again\nAction: calculator[1+1]"


def looping() -> ScriptedBackend:
    return ScriptedBackend(lambda req: LOOP, supports_tools=False)


async def test_react_out_of_steps_is_an_error_run_saying_why(store: TraceStore) -> None:
    result = await ReAct(max_steps=2).arun("loop", backend=looping(), store=store)
    assert result.status == "error" and result.answer is None
    assert result.error == "no answer: ReAct stopped after 2 steps without finish[answer]"
    run = store.get_run(result.run_id)
    assert (run.status, run.answer, run.error) == ("error", None, result.error)
    assert ended_without_answer(run.status, run.answer, run.error)
    # the events are what they were: the max_steps error, then the answer event marked error
    tail = [(e.kind, e.label, e.status, e.summary) for e in store.iter_events(result.run_id)][-2:]
    assert tail == [
        ("error", "max_steps", "error", "stopped after max_steps=2 without finish[answer]"),
        ("answer", "answer", "error", "(no answer)"),
    ]
    assert [r.id for r in store.list_runs(status="error")] == [result.run_id]


async def test_react_that_only_parrots_the_placeholder_says_so(store: TraceStore) -> None:
    backend = ScriptedBackend(lambda req: "Thought: done\nAction: finish[answer]", supports_tools=False)
    result = await ReAct(max_steps=3).arun("What is 2+2?", backend=backend, store=store)
    assert result.status == "error" and result.answer is None
    assert result.error == (
        "no answer: ReAct stopped after 3 steps without finish[answer] "
        "(3 finish actions gave only the placeholder, not an answer)"
    )


async def test_a_wrong_answer_is_not_an_error(store: TraceStore) -> None:
    backend = ScriptedBackend(["Thought: guess\nAction: finish[5]"], supports_tools=False)
    result = await ReAct().arun(Task(id="q", input="2+2?", expected="4"), backend=backend, store=store)
    assert (result.status, result.answer, result.correct, result.error) == ("ok", "5", False, None)
    run = store.get_run(result.run_id)
    assert run.status == "ok" and not ended_without_answer(run.status, run.answer, run.error)


async def test_cot_and_self_consistency_without_an_answer_are_errors(store: TraceStore) -> None:
    cot = await CoT().arun("Who?", backend=ScriptedBackend(["no idea"]), store=store)
    assert (cot.status, cot.error) == ("error", "no answer: the reasoning did not state an answer")
    sc = await SelfConsistency(k=2).arun("Who?", backend=ScriptedBackend(["hm", "hmm"]), store=store)
    assert (sc.status, sc.error) == ("error", "no answer: none of the 2 paths gave an answer to vote on")


async def test_reflexion_whose_trials_all_give_none_is_an_error_and_so_are_its_trials(store: TraceStore) -> None:
    def model(req: CompletionRequest) -> str:
        if req.messages[0].content.startswith("You are an advanced reasoning agent"):
            return "Use finish[...] with the number."
        return LOOP

    task = Task(id="q", input="What is 1+1?", expected="2")
    agent = Reflexion(max_trials=2, inner_config={"mode": "text", "max_steps": 1})
    result = await agent.arun(task, backend=ScriptedBackend(model, supports_tools=False), store=store)
    assert result.status == "error" and result.answer is None and result.correct is False
    assert result.error == (
        "no answer: trial 2, the last, gave none (ReAct stopped after 1 step without finish[answer])"
    )
    trials = store.child_runs(result.run_id)
    assert [(t.status, t.error) for t in trials] == [
        ("error", "no answer: ReAct stopped after 1 step without finish[answer]")
    ] * 2


async def test_bench_counts_a_run_without_an_answer_as_an_error_with_its_reason(store: TraceStore) -> None:
    registry.register("envs", "toy", ToyEnv)

    def model(req: CompletionRequest) -> str:
        if "What is 1 + 1?" in req.messages[1].content:
            return LOOP  # never finishes
        return "Thought: easy\nAction: finish[0]"

    exp = await abench(
        "react",
        "toy",
        backend=ScriptedBackend(model, supports_tools=False),
        store=store,
        n=2,
        config={"max_steps": 2, "mode": "text"},
        concurrency=1,
    )
    s = exp.summary
    assert (s.n, s.ok, s.errors, s.correct, s.accuracy) == (2, 1, 1, 1, 0.5)
    assert s.error_reasons == {"no answer: ReAct stopped after 2 steps without finish[answer]": 1}


async def test_a_no_answer_run_recorded_as_ok_by_older_ponder_replays_identical(store: TraceStore) -> None:
    result = await ReAct(max_steps=2).arun("loop", backend=looping(), store=store)
    path = store.path
    db = sqlite_utils.Database(path)
    with db.conn:  # what ponder before this change wrote for the same run
        db.execute("update runs set status = 'ok', error = null where id = ?", [result.run_id])
    db.close()
    old = TraceStore(path)
    report = await areplay(old, result.run_id)
    assert report.identical, report.render()
    assert any("older ponder" in n and "status error" in n for n in report.notes)
    assert report.store is not None and report.store.get_run(report.replay_run_id).status == "error"


async def test_replay_still_tells_a_different_status_apart(store: TraceStore) -> None:
    result = await ReAct(max_steps=2).arun("loop", backend=looping(), store=store)
    db = sqlite_utils.Database(store.path)
    with db.conn:
        db.execute("update runs set status = 'timeout' where id = ?", [result.run_id])
    db.close()
    report = await areplay(TraceStore(store.path), result.run_id)
    d = report.divergence
    assert d is not None and d.field == "status" and (d.recorded, d.new) == ("timeout", "error")


# -- a reply cut off at max_tokens ------------------------------------------------------------

CUT = "17 * 23 = (17 + 23) * 1\nSo the expression simplifies to 40 * 1\nThe product of"


def cut_after(text: str) -> Choice:
    return Choice(text=text, finish_reason="length")


async def test_a_cut_reply_without_a_stated_answer_has_none(store: TraceStore) -> None:
    b = ScriptedBackend([cut_after(CUT)])
    result = await CoT().arun("What is 17 * 23?", backend=b, store=store)
    assert result.status == "error" and result.answer is None  # not "1", where the reasoning stopped
    assert result.error is not None and "stopped at max_tokens" in result.error and "max_tokens=N" in result.error
    # a reply that stopped on its own still gives its last number; a cut one still gives what it stated
    done = await CoT().arun("What is 17 * 23?", backend=ScriptedBackend([CUT + " 391"]), store=store)
    assert done.answer == "391"
    stated = await CoT().arun("q", backend=ScriptedBackend([cut_after("The answer is 391.\nTo check, 3")]), store=store)
    assert stated.answer == "391"


async def test_a_cut_path_does_not_vote_with_its_last_number(store: TraceStore) -> None:
    replies = [cut_after(CUT), cut_after("17 * 23 = 391. The answer is 391.\nAlso 1"), "The answer is 401."]
    sc = SelfConsistency(k=3, inner_config={"max_tokens": 64})
    for n in (True, False):
        b = ScriptedBackend(replies, supports_n=n, supports_seed=True)
        result = await sc.arun("What is 17 * 23?", backend=b, store=store)
        paths = [e for e in store.iter_events(result.run_id, with_data=True) if e.kind == "path"]
        assert [(e.status, e.data["answer"]) for e in paths] == [("invalid", None), ("ok", "391"), ("ok", "401")]
        assert result.answer == "391"  # the tie between 391 and 401 goes to the first path; "1" never counted


def test_an_env_with_its_own_extraction_reads_a_cut_reply_with_it() -> None:
    from ponder.envs.game24 import Game24Env

    env, generic = Game24Env(), ToyEnv()
    text = "Steps: 4 + 9 = 13\nAnswer: (4 + 9) * (13 - 10) = 39"
    assert env.extract_cut_answer(text) == env.extract_answer(text)
    assert generic.extract_cut_answer("so far 12 and 40") is None and generic.extract_answer("so far 12 and 40") == "40"
