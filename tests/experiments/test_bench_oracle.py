"""`ponder bench --env game24` reports what the ToT paper reports: top-1 and any-of-b for ToT,
majority vote and best-of-k for sampling baselines (IO / CoT)."""

from __future__ import annotations

import re

from ponder.backends.scripted import ScriptedBackend
from ponder.experiments.bench import abench
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest
from tests._game24_model import gpt4_like


async def test_tot_reports_top1_and_any_of_b(store: TraceStore) -> None:
    def model(req: CompletionRequest) -> str:
        p = req.messages[-1].content
        if p.rstrip().endswith("Judge:"):
            return "likely"  # not a value word of the last step: every final state ties, top-1 is the first
        return gpt4_like(req)

    exp = await abench(
        "tot",
        "game24",
        backend=ScriptedBackend(model),
        store=store,
        n=2,
        config={"faithful": True, "breadth": 2},
        env_config={"n": 2, "seed": 1},
    )
    s = exp.summary
    assert s.oracle_kind == "any of b" and s.oracle_correct is not None
    assert s.oracle_correct >= s.correct, "any of b counts the top-1 answer too"
    assert all(r.oracle_kind == "any of b" for r in exp.results)
    assert "| any of b (oracle) |" in exp.to_markdown()


async def test_sampling_reports_majority_and_best_of_k(store: TraceStore) -> None:
    seen = {"n": 0}

    def io_model(req: CompletionRequest) -> str:
        # one sample in three answers right: majority vote loses, best of 3 wins
        seen["n"] += 1
        x = re.findall(r"Input: (.*)\n", req.messages[-1].content)[-1]
        good = gpt4_like(
            CompletionRequest(messages=(req.messages[-1].model_copy(update={"content": f"Steps:\nInput: {x}\n"}),))
        )
        return good if seen["n"] % 3 == 0 else "Answer: (1 + 1) * 12 = 24"

    exp = await abench(
        "self_consistency",
        "game24",
        backend=ScriptedBackend(io_model),
        store=store,
        n=2,
        concurrency=1,
        config={"k": 3, "use_n": False, "inner_config": {"style": "io", "env": "game24", "max_tokens": 1000}},
        env_config={"n": 2, "seed": 1},
    )
    s = exp.summary
    assert (s.correct, s.oracle_kind, s.oracle_correct) == (0, "best of k", 2)
