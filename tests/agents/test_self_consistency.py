"""Self-consistency: majority vote, ties, n=k vs concurrent paths, concurrency cap, adaptive stopping."""

from __future__ import annotations

import asyncio
import random

import pytest

from ponder.agents.self_consistency import SelfConsistency
from ponder.backends.base import current_call_site
from ponder.backends.scripted import ScriptedBackend
from ponder.errors import ConfigError
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest

Q = "What is 17 * 23?"


def _vote(store: TraceStore, run_id: str) -> dict:
    votes = [e for e in store.events(run_id, with_data=True) if e.kind == "vote"]
    assert len(votes) == 1, "one vote event per run"
    assert votes[0].data is not None
    return votes[0].data


def _paths(store: TraceStore, run_id: str) -> list:
    return [e for e in store.events(run_id, with_data=True) if e.kind == "path"]


async def test_majority_wins_with_one_n_k_request(store: TraceStore) -> None:
    replies = ["The answer is 391.", "The answer is 400", "Answer: 391", "#### 391", "The answer is 7"]
    backend = ScriptedBackend(replies, supports_n=True)
    r = await SelfConsistency(k=5).arun(Q, backend=backend, store=store)
    assert r.answer == "391"
    assert [req.n for req in backend.requests] == [5], "a CoT inner on an n-capable backend makes one n=k request"
    assert backend.requests[0].temperature == 0.7
    vote = _vote(store, r.run_id)
    assert vote["tally"] == {"391": 3, "400": 1, "7": 1}
    assert vote["winner"] == "391" and vote["samples"] == 5 and vote["saved"] == 0
    paths = _paths(store, r.run_id)
    assert [p.summary for p in paths] == ["391", "400", "391", "391", "7"]
    assert all(p.parent_seq is None for p in paths), "each path is a child of the run"
    assert r.metadata["tally"] == vote["tally"]


async def test_concurrent_paths_without_n(store: TraceStore) -> None:
    def responder(req: CompletionRequest) -> str:
        site = current_call_site.get()
        assert site is not None
        return {"0": "The answer is 5", "1": "The answer is 6", "2": "The answer is 6"}[site.branch]

    backend = ScriptedBackend(responder, supports_n=False)
    r = await SelfConsistency(k=3).arun(Q, backend=backend, store=store)
    assert r.answer == "6"
    assert len(backend.requests) == 3 and all(req.n == 1 for req in backend.requests)
    assert len({req.key() for req in backend.requests}) == 1, "the k requests are identical; branches tell them apart"
    calls = store.llm_calls(r.run_id)
    assert sorted((c.branch, c.sample_index) for c in calls) == [("0", 0), ("1", 0), ("2", 0)]
    # each path's call is nested under its path event, which carries the reasoning
    paths = {p.seq: p for p in _paths(store, r.run_id)}
    llm = [e for e in store.events(r.run_id) if e.kind == "llm_call"]
    assert len(llm) == 3 and all(e.parent_seq in paths for e in llm)
    assert all(p.data and p.data["text"].startswith("The answer is") for p in paths.values())


async def test_use_n_false_forces_branches(store: TraceStore) -> None:
    backend = ScriptedBackend(lambda req: "The answer is 1", supports_n=True)
    await SelfConsistency(k=4, use_n=False).arun(Q, backend=backend, store=store)
    assert [req.n for req in backend.requests] == [1, 1, 1, 1]


async def test_server_returning_fewer_choices_is_asked_for_the_rest(store: TraceStore) -> None:
    from ponder.types import Choice, Completion

    def one_choice(req: CompletionRequest) -> Completion:
        # like llama.cpp's server: n=3 answered with a single choice
        return Completion(choices=[Choice(text="The answer is 2")])

    backend = ScriptedBackend(one_choice, supports_n=True)
    r = await SelfConsistency(k=3).arun(Q, backend=backend, store=store)
    assert [req.n for req in backend.requests] == [3, 2, 1]
    assert _vote(store, r.run_id)["samples"] == 3


@pytest.mark.parametrize(
    ("replies", "winner"),
    [
        (["The answer is 5", "The answer is 7", "The answer is 7", "The answer is 5"], "5"),
        (["The answer is 7", "The answer is 5", "The answer is 5", "The answer is 7"], "7"),
        (["no idea", "The answer is 9", "The answer is 8", "nothing"], "9"),
    ],
)
async def test_ties_go_to_the_first_sampled(store: TraceStore, replies: list[str], winner: str) -> None:
    r = await SelfConsistency(k=4).arun(Q, backend=ScriptedBackend(replies), store=store)
    assert r.answer == winner


async def test_unparseable_paths_are_invalid_and_not_counted(store: TraceStore) -> None:
    replies = ["I cannot say.", "The answer is 12", "", "The answer is 12"]
    r = await SelfConsistency(k=4).arun(Q, backend=ScriptedBackend(replies), store=store)
    assert r.answer == "12"
    vote = _vote(store, r.run_id)
    assert vote["tally"] == {"12": 2} and vote["invalid"] == 2
    assert [p.status for p in _paths(store, r.run_id)] == ["invalid", "ok", "invalid", "ok"]


async def test_no_answer_at_all(store: TraceStore) -> None:
    r = await SelfConsistency(k=2).arun(Q, backend=ScriptedBackend(["hm", "hmm"]), store=store)
    assert r.answer is None
    assert _vote(store, r.run_id)["winner"] is None


async def test_concurrency_cap_bounds_calls_in_flight(store: TraceStore) -> None:
    in_flight = 0
    peak = 0

    async def slow(req: CompletionRequest) -> str:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        for _ in range(5):
            await asyncio.sleep(0)
        in_flight -= 1
        return "The answer is 3"

    backend = ScriptedBackend(slow, supports_n=False)
    await SelfConsistency(k=8, concurrency=2).arun(Q, backend=backend, store=store)
    assert len(backend.requests) == 8
    assert peak == 2, f"at most 2 calls in flight, saw {peak}"
    peak = 0
    await SelfConsistency(k=8).arun(Q, backend=ScriptedBackend(slow, supports_n=False), store=store)
    assert peak == 8, "without a cap all k paths run at once"


async def test_adaptive_stops_when_the_leader_cannot_be_overtaken(store: TraceStore) -> None:
    backend = ScriptedBackend(lambda req: "The answer is 391", supports_n=True)
    r = await SelfConsistency(k=10, adaptive=True, batch=3).arun(Q, backend=backend, store=store)
    # after 3: 3 vs 0 with 7 left (could be overtaken); after 6: 6 vs 0 with 4 left -> stop
    assert [req.n for req in backend.requests] == [3, 3]
    vote = _vote(store, r.run_id)
    assert vote["samples"] == 6 and vote["saved"] == 4
    assert r.metadata["saved"] == 4


async def test_adaptive_draws_everything_when_close(store: TraceStore) -> None:
    replies = ["The answer is 1", "The answer is 2"] * 3
    backend = ScriptedBackend(replies, supports_n=False)
    r = await SelfConsistency(k=6, adaptive=True, batch=2).arun(Q, backend=backend, store=store)
    assert len(backend.requests) == 6
    assert _vote(store, r.run_id)["saved"] == 0
    assert r.answer == "1"


async def test_adaptive_confidence_threshold(store: TraceStore) -> None:
    backend = ScriptedBackend(lambda req: "The answer is 8", supports_n=False)
    r = await SelfConsistency(k=20, adaptive=True, batch=4, confidence=0.75).arun(Q, backend=backend, store=store)
    assert len(backend.requests) == 4
    assert _vote(store, r.run_id)["saved"] == 16


async def test_adaptive_branches_are_numbered_across_batches(store: TraceStore) -> None:
    backend = ScriptedBackend(lambda req: "The answer is 4", supports_n=False)
    r = await SelfConsistency(k=8, adaptive=True, batch=2).arun(Q, backend=backend, store=store)
    branches = sorted(c.branch for c in store.llm_calls(r.run_id))
    # 2 vs 0 with 6 left, 4 vs 0 with 4 left: not decided; 6 vs 0 with 2 left: decided
    assert branches == ["0", "1", "2", "3", "4", "5"], "paths keep their numbers across batches"
    assert _vote(store, r.run_id)["saved"] == 2


def test_config_from_cli_strings_and_inner_validation() -> None:
    sc = SelfConsistency.model_validate({"k": "8", "adaptive": "true"})
    assert sc.k == 8 and sc.adaptive is True
    with pytest.raises(ConfigError, match="unknown agent"):
        SelfConsistency(inner="no_such_agent").inner_agent()
    with pytest.raises(ConfigError, match="inner_config"):
        SelfConsistency(inner_config={"temperature": "hot"}).inner_agent()
    inner = SelfConsistency(temperature=0.9).inner_agent()
    assert inner.temperature == 0.9


async def test_deterministic_under_random_delays_and_replayable(store: TraceStore) -> None:
    answers = {"0": "5", "1": "6", "2": "6", "3": "5", "4": "6"}

    def make(seed: int) -> ScriptedBackend:
        rng = random.Random(seed)

        async def responder(req: CompletionRequest) -> str:
            site = current_call_site.get()
            assert site is not None
            await asyncio.sleep(rng.random() / 1000)
            return f"The answer is {answers[site.branch]}"

        return ScriptedBackend(responder, supports_n=False)

    runs = []
    for seed in (1, 2):
        b = make(seed)
        r = await SelfConsistency(k=5).arun(Q, backend=b, store=store)
        runs.append((r, [req.key() for req in b.requests]))
    (r1, k1), (r2, k2) = runs
    assert k1 == k2
    assert r1.answer == r2.answer == "6"

    def shape(run_id: str) -> list:
        return sorted((e.kind, e.branch, e.label, e.summary, e.status) for e in store.events(run_id))

    assert shape(r1.run_id) == shape(r2.run_id)
    assert _vote(store, r1.run_id) | {"paths": None} == _vote(store, r2.run_id) | {"paths": None}


async def test_replay_reproduces_the_vote(store: TraceStore) -> None:
    from ponder.backends.replay import ReplayBackend

    replies = ["The answer is 391", "The answer is 390", "The answer is 391"]
    rec = await SelfConsistency(k=3, adaptive=True, batch=1).arun(Q, backend=ScriptedBackend(replies), store=store)
    rep = await SelfConsistency(k=3, adaptive=True, batch=1).arun(
        Q, backend=ReplayBackend(store, rec.run_id), store=store
    )
    assert rep.answer == rec.answer == "391"
    assert _vote(store, rep.run_id) | {"paths": None} == _vote(store, rec.run_id) | {"paths": None}


async def test_any_registered_agent_can_be_the_inner_one(store: TraceStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from typing import ClassVar

    from ponder import registry
    from ponder.runtime.base import BaseAgent
    from ponder.runtime.context import RunContext
    from ponder.types import Result, Task

    class Echo(BaseAgent):
        """A two-step inner agent: one call, one observation event."""

        name: ClassVar[str] = "echo"
        prefix: str = ""

        async def solve(self, task: Task, ctx: RunContext) -> Result:
            c = await ctx.complete(CompletionRequest(messages=(), temperature=0.0), label="echo")
            ctx.event("observation", "echo", c.text)
            return Result(answer=self.prefix + c.text)

    monkeypatch.setitem(registry._extra["agents"], "echo", Echo)

    def responder(req: CompletionRequest) -> str:
        site = current_call_site.get()
        assert site is not None
        return {"0": "a", "1": "b", "2": "b"}[site.branch]

    backend = ScriptedBackend(responder, supports_n=True)
    sc = SelfConsistency(k=3, inner="echo", inner_config={"prefix": "x"})
    r = await sc.arun(Q, backend=backend, store=store)
    assert r.answer == "xb"
    assert [q.n for q in backend.requests] == [1, 1, 1], "a non-CoT inner agent runs k times, even with n support"
    paths = {p.seq for p in _paths(store, r.run_id)}
    obs = [e for e in store.events(r.run_id) if e.kind == "observation"]
    assert len(obs) == 3 and {e.parent_seq for e in obs} == paths, "each inner run nests under its path"
    assert sorted(e.branch for e in obs) == ["0", "1", "2"]


async def test_replay_of_a_run_recorded_without_n(store: TraceStore) -> None:
    from ponder.backends.replay import ReplayBackend

    def responder(req: CompletionRequest) -> str:
        site = current_call_site.get()
        assert site is not None
        return f"The answer is {1 if site.branch == '1' else 2}"

    rec = await SelfConsistency(k=3).arun(Q, backend=ScriptedBackend(responder, supports_n=False), store=store)
    replay = ReplayBackend(store, rec.run_id)
    assert replay.capabilities.n is False, "the recording made k branch requests, so replay must too"
    rep = await SelfConsistency(k=3).arun(Q, backend=replay, store=store)
    assert rep.answer == rec.answer == "2" and replay.served == 3
