"""Per-request seeds: derived from the run's seed and the call site, never from scheduling; recorded
with the request; a recording made without seeds replays (and forks) without them."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import ClassVar

import pytest
from typer.testing import CliRunner

from ponder.agents.cot import CoT
from ponder.agents.self_consistency import SelfConsistency
from ponder.backends.base import current_call_site
from ponder.backends.config import pop_seed
from ponder.backends.replay import ReplayBackend
from ponder.backends.scripted import ScriptedBackend
from ponder.backends.seeds import SEED_BITS, derive_seed
from ponder.cli import app
from ponder.errors import ConfigError
from ponder.replay.rerun import areplay
from ponder.runtime.base import BaseAgent
from ponder.runtime.context import RunContext
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest, Message, Result, Task
from tests.fake_openai import FakeOpenAI, text

Q = "What is 17 * 23?"


def test_derived_seeds_are_pure_and_in_range() -> None:
    a = derive_seed(1, "0", "key", 0)
    assert a == derive_seed(1, "0", "key", 0)
    others = {derive_seed(2, "0", "key", 0), derive_seed(1, "1", "key", 0), derive_seed(1, "0", "k2", 0)}
    others.add(derive_seed(1, "0", "key", 1))
    assert a not in others and len(others) == 4
    assert all(0 <= s < 2**SEED_BITS for s in [a, *others])


def jittery(*, seeded: bool = True, n: bool = False) -> ScriptedBackend:
    """Answers after a random delay, so branches finish (and would be numbered) in a different order each run."""
    jitter = random.Random()

    async def answer(req: CompletionRequest) -> str:
        await asyncio.sleep(jitter.random() / 50)
        return f"The answer is {req.seed}"

    return ScriptedBackend(answer, supports_n=n, supports_seed=seeded)


def _seeds_by_branch(store: TraceStore, run_id: str) -> list[tuple[str, int | None]]:
    return sorted((c.branch, c.request.get("seed")) for c in store.llm_calls(run_id))


async def test_self_consistency_paths_get_distinct_seeds_that_a_rerun_repeats(store: TraceStore) -> None:
    b = jittery()
    first = await SelfConsistency(k=5).arun(Q, backend=b, store=store, seed=1)
    seeds = _seeds_by_branch(store, first.run_id)
    assert len({s for _, s in seeds}) == 5 and all(s is not None for _, s in seeds)
    sent = sorted(r.model_dump_json() for r in b.requests)
    b2 = jittery()
    again = await SelfConsistency(k=5).arun(Q, backend=b2, store=store, seed=1)
    assert _seeds_by_branch(store, again.run_id) == seeds
    assert sorted(r.model_dump_json() for r in b2.requests) == sent, "same seed, same requests"
    other = await SelfConsistency(k=5).arun(Q, backend=jittery(), store=store, seed=2)
    assert {s for _, s in _seeds_by_branch(store, other.run_id)}.isdisjoint({s for _, s in seeds})


async def test_one_n_k_request_carries_one_seed(store: TraceStore) -> None:
    b = ScriptedBackend(["The answer is 1"] * 5, supports_n=True, supports_seed=True)
    await SelfConsistency(k=5).arun(Q, backend=b, store=store, seed=4)
    (req,) = b.requests
    assert req.n == 5 and req.seed is not None  # the backend seeds its n choices from it (local: seed + i)


class AskTwice(BaseAgent):
    """Sends the same request twice from one branch."""

    name: ClassVar[str] = "ask_twice"

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        r = CompletionRequest(messages=(Message.user(task.input),), temperature=0.7)
        await ctx.complete(r)
        await ctx.complete(r)
        return Result(answer="done")


async def test_identical_requests_in_one_branch_get_different_seeds(store: TraceStore) -> None:
    b = ScriptedBackend(["a", "b"], supports_seed=True)
    await AskTwice().arun(Q, backend=b, store=store)
    first, second = b.requests
    assert first.seed is not None and second.seed is not None and first.seed != second.seed
    assert first.model_copy(update={"seed": None}) == second.model_copy(update={"seed": None})


async def test_a_seed_the_strategy_set_is_kept(store: TraceStore) -> None:
    b = ScriptedBackend(["The answer is 1"], supports_seed=True)

    class Fixed(CoT):
        def request(self, task, env=None, *, temperature=None, n=1, seed=None):  # type: ignore[no-untyped-def]
            return super().request(task, env, temperature=temperature, n=n, seed=1234)

    await Fixed().arun(Q, backend=b, store=store)
    assert b.requests[0].seed == 1234


async def test_a_backend_without_seeds_gets_none(store: TraceStore) -> None:
    b = ScriptedBackend(["The answer is 1"])
    await CoT().arun(Q, backend=b, store=store, seed=9)
    assert b.requests[0].seed is None


async def test_seeded_runs_replay_identically(store: TraceStore) -> None:
    r = await SelfConsistency(k=4).arun(Q, backend=jittery(), store=store, seed=3)
    assert ReplayBackend(store, r.run_id).capabilities.seed
    assert (await areplay(store, r.run_id)).identical


async def test_a_recording_without_seeds_replays_without_them(store: TraceStore) -> None:
    # recorded on a backend that takes no seeds (as every recording made before ponder derived them)
    r = await SelfConsistency(k=3).arun(Q, backend=jittery(seeded=False), store=store, seed=3)
    assert all(c.request.get("seed") is None for c in store.llm_calls(r.run_id))
    assert not ReplayBackend(store, r.run_id).capabilities.seed
    report = await areplay(store, r.run_id)
    assert report.identical, report.render()


def test_pop_seed() -> None:
    s = {"k": 3, "seed": 7}
    assert pop_seed(s, None, "self_consistency") == 7 and s == {"k": 3}
    assert pop_seed({"seed": 7}, 7, "cot") == 7
    assert pop_seed({"k": 3}, None, "cot") is None
    with pytest.raises(ConfigError, match="disagree"):
        pop_seed({"seed": 7}, 8, "cot")
    for bad in ("x", -1, True, 1.5):
        with pytest.raises(ConfigError, match="a seed is a whole number"):
            pop_seed({"seed": bad}, None, "cot")


@pytest.mark.parametrize("agent", ["cot", "self_consistency", "tot", "react", "reflexion", "mcts", "beam"])
def test_set_seed_seeds_a_run_of_any_agent(agent: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def responder(body: dict) -> dict:  # type: ignore[type-arg]
        return text("The answer is 4")

    monkeypatch.setenv("FAKE_KEY", "sk-fake-0123456789")
    db = tmp_path / "t.db"
    with FakeOpenAI(responder) as server:
        args = ["run", "What is 2 + 2?", "--agent", agent, "--set", "seed=11"]
        args += ["--backend", "openai", "--base-url", server.url, "--model", "fake-model", "--api-key-env", "FAKE_KEY"]
        result = CliRunner().invoke(app, [*args, "--db", str(db), "--json"])
        sent = list(server.requests)
    assert "has no option 'seed'" not in result.output
    run_id = json.loads(result.stdout)["run_id"]
    store = TraceStore(db)
    assert store.get_run(run_id).seed == 11
    calls = store.llm_calls(store.descendant_run_ids(run_id))
    assert calls and all(c.request.get("seed") is not None for c in calls)
    assert sent and all(isinstance(body.get("seed"), int) for body in sent), "the server is sent each seed"
    first = min(calls, key=lambda c: c.id)
    built = CompletionRequest.model_validate({**first.request, "seed": None})
    assert first.request["seed"] == derive_seed(11, first.branch, built.identity(), first.sample_index)
    store.close()


async def test_the_seed_is_derived_from_the_call_site_replay_serves_by(store: TraceStore) -> None:
    seen: list[tuple[str, int, int | None]] = []

    def responder(req: CompletionRequest) -> str:
        site = current_call_site.get()
        assert site is not None
        seen.append((site.branch, site.sample_index, req.seed))
        return "The answer is 1"

    b = ScriptedBackend(responder, supports_n=False, supports_seed=True)
    r = await SelfConsistency(k=2).arun(Q, backend=b, store=store, seed=5)
    calls = store.llm_calls(r.run_id)
    assert sorted(seen) == sorted((c.branch, c.sample_index, c.request["seed"]) for c in calls)
    for c in calls:
        built = CompletionRequest.model_validate({**c.request, "seed": None})
        assert c.request["seed"] == derive_seed(5, c.branch, built.identity(), c.sample_index)
