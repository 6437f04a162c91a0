"""One real run of every registered strategy on a real GGUF model (`local`; CI runs it on the 0.5B).

Each runs on the first task of an env it is made for, under a small call budget: what is checked
is that a real model's text never crashes a strategy (a run ends `ok`, or with an error ponder
raises on purpose: a budget spent, no answer), that its requests carry seeds, and that the
recording replays identically. Needs xllamacpp and `PONDER_TEST_GGUF` (a small chat model).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from ponder import errors, registry
from ponder.backends.local import LocalBackend
from ponder.experiments.sweeps import build_agent
from ponder.replay.rerun import areplay
from ponder.runtime.budget import Budget
from ponder.runtime.runner import env_evaluator, env_tools, run_agent
from ponder.traces.store import TraceStore

SHORT = {"max_tokens": 96}
# strategy -> (env, options): each on an env it is made for, with small settings
STRATEGIES: dict[str, tuple[str, dict[str, Any]]] = {
    "cot": ("arithmetic", SHORT),
    "self_consistency": ("arithmetic", {"k": 3, "inner_config": SHORT}),
    "best_of_n": ("arithmetic", {"n": 2, "select": "self_score", "inner_config": SHORT}),
    "react": ("arithmetic", {"max_steps": 3, **SHORT}),
    "reflexion": ("arithmetic", {"max_trials": 2, "inner_config": SHORT}),
    "plan_execute": ("arithmetic", {"max_steps": 3, **SHORT}),
    "tot": ("game24", {}),
    "mcts": ("game24", {}),
    "beam": ("game24", {}),
    "lats": ("household", {"max_depth": 2, **SHORT}),
    "rap": ("blocksworld", {"n_iters": 1, "depth_limit": 2}),
    "rap_gsm8k": ("arithmetic", {"n_iters": 1, "depth_limit": 2, "n_actions": 2, "n_confidence": 2, "max_tokens": 96}),
    "got": ("sorting", {"max_tokens": 160}),
    "llm_compiler": ("parallel_qa", {"max_replans": 1, "max_tokens": 160}),
}
MAX_CALLS = 12
# errors a run may end with on purpose (a small model's text, a spent budget); an error event the
# runner wrote for any other exception (labelled with its class: TypeError, KeyError...) is a crash
EXPECTED = {
    name
    for name, obj in vars(errors).items()
    if isinstance(obj, type) and issubclass(obj, errors.PonderError) and obj is not errors.ConfigError
}
EXCEPTION_LABEL = re.compile(r"^[A-Z]\w*(Error|Exception)$")


def test_every_registered_strategy_is_covered() -> None:
    # ponder's own strategies (other tests register plugins in the registry for their run)
    own = {ep.name for ep in entry_points(group="ponder.agents")}
    assert own <= set(STRATEGIES), "add the new strategy to STRATEGIES"


@pytest.fixture(scope="module")
def real() -> Iterator[LocalBackend]:
    path = os.environ.get("PONDER_TEST_GGUF")
    if not path:
        pytest.skip("PONDER_TEST_GGUF is not set: give the path of a small GGUF chat model (CI: the 0.5B Qwen)")
    b = LocalBackend(path, slots=4, context=2048, threads=int(os.environ.get("PONDER_TEST_THREADS", "2")))
    b.load()
    yield b
    b.close()


@pytest.mark.local
@pytest.mark.parametrize("name", sorted(STRATEGIES))
async def test_a_real_run_of_each_strategy(name: str, real: LocalBackend, tmp_path: Path) -> None:
    env_name, options = STRATEGIES[name]
    env = registry.build("envs", env_name, {}, "env")
    task = next(iter(env.tasks()))
    agent = build_agent(name, options, env=env)
    store = TraceStore(tmp_path / "t.db")
    run_id = f"real-{name}"
    with contextlib.suppress(errors.PonderError):  # recorded as the run's error (checked below)
        await run_agent(
            agent,
            task,
            backend=real,
            store=store,
            tools=env_tools(env, task),
            evaluator=env_evaluator(env),
            budget=Budget(max_calls=MAX_CALLS),
            run_id=run_id,
            env=env,
        )
    run = store.get_run(run_id)
    errors_written = [e for e in store.iter_events(run_id) if e.kind == "error"]
    crashes = [e for e in errors_written if EXCEPTION_LABEL.match(e.label) and e.label not in EXPECTED]
    assert not crashes, f"{name} crashed on real model text: {crashes[0].summary}"
    assert run.status in ("ok", "error"), (run.status, run.error)
    calls = store.llm_calls(store.descendant_run_ids(run_id))
    assert calls, f"{name} made no call: {run.error}"
    assert all(c.request.get("seed") is not None for c in calls)
    report = await areplay(store, run_id)
    assert report.identical, report.render()
    store.close()
