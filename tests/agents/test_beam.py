"""Beam search on the search layer: the best `width` states kept per step, path aggregation, sampling."""

from __future__ import annotations

import pytest

from ponder import registry
from ponder.agents.beam import BeamAgent
from ponder.backends.scripted import ScriptedBackend
from ponder.errors import ConfigError
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest
from tests._game24_model import gpt4_like

# a generic question: each state proposes steps A..D; the value prompt's last step says how good it is
SCORES = {"A": "sure", "B": "likely", "C": "impossible", "D": "likely"}


def model(req: CompletionRequest) -> str:
    p = req.messages[-1].content
    if "Possible next steps" in p:
        return "A\nB\nC\nD"
    if "Evaluate whether" in p:
        steps = p.split("Steps so far:\n")[1].split("\nEvaluate")[0].strip().split("\n")
        return SCORES.get(steps[-1].strip(), "impossible")
    return "Answer: 42"


async def test_beam_keeps_the_best_width(store: TraceStore) -> None:
    agent = BeamAgent(width=2, depth=1, n_propose=4, n_evaluate=1)
    r = await agent.arun("What is the answer?", backend=ScriptedBackend(model), store=store)
    nodes = [e for e in store.events(r.run_id, with_data=True) if e.kind == "node"][1:]
    kept = sorted(n.summary for n in nodes if n.status in ("kept", "chosen"))
    assert kept == ["A", "B"], "A (20) and B (1, generated before D) are the best two"
    assert {n.summary for n in nodes if n.status == "pruned"} == {"C", "D"}


async def test_beam_aggregates_values_over_the_path(store: TraceStore) -> None:
    # at depth 2 every state ends in A..D; with `sum`, a path through A leads, with `last` it ties on the step
    agent = BeamAgent(width=1, depth=2, n_propose=4, n_evaluate=1, search={"algorithm": "beam", "aggregate": "sum"})
    r = await agent.arun("What is the answer?", backend=ScriptedBackend(model), store=store)
    assert r.metadata["chosen_path"] == ["A", "A"]


async def test_beam_sampling_is_seeded(store: TraceStore) -> None:
    agent = BeamAgent.model_validate({"width": 2, "depth": 1, "n_propose": 4, "n_evaluate": 1, "sampling": "sample"})

    async def kept(seed: int) -> list[str]:
        r = await agent.arun("What is the answer?", backend=ScriptedBackend(model), store=store, seed=seed)
        nodes = [e for e in store.events(r.run_id) if e.kind == "node"][1:]
        return sorted(n.summary for n in nodes if n.status in ("kept", "chosen"))

    assert await kept(7) == await kept(7), "the same seed draws the same beam"
    assert len(await kept(3)) == 2


async def test_beam_on_game24(store: TraceStore) -> None:
    r = await BeamAgent.model_validate({"env": "game24", "width": 2}).arun(
        "4 9 10 13", backend=ScriptedBackend(gpt4_like), store=store
    )
    assert r.correct is True


def test_beam_settings_are_its_own() -> None:
    assert registry.build("agents", "beam", {"env": "game24"}).search.depth == 4
    with pytest.raises(ConfigError, match="breadth is a setting of search=bfs, not of search=beam"):
        registry.build("agents", "beam", {"breadth": 2})
    with pytest.raises(ConfigError, match="width"):
        registry.build("agents", "beam", {"width": 0})
