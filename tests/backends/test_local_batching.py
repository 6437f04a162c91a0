"""The strategies' concurrent branches reach the local backend's slots together (a stand-in server
counts the requests in flight): self-consistency's paths, a ToT frontier, MCTS's parallel
selections and plan-and-execute's ready steps fill the slots, and never more than the slots."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ponder import registry
from ponder.agents.plan_execute.agent import PLANNER_SYSTEM
from ponder.backends import _llama_server
from ponder.backends import local as local_mod
from ponder.backends.local import LocalBackend
from ponder.envs.game24 import propose_steps
from ponder.traces.store import TraceStore

PLAN = "1. Compute 12 * 3.\n2. Compute 7 * 8.\n3. Compute 9 * 9.\n4. Compute 15 * 4."


def reply(system: str, prompt: str) -> str:
    """Valid replies in the formats the prompts ask for (Game-24 steps and values, plans, CoT answers)."""
    if system == PLANNER_SYSTEM:
        return PLAN
    if system.startswith("You check progress on a plan"):
        return "FINISH: 233" if "[pending]" not in prompt else "CONTINUE"
    if "Do only step" in prompt:
        step = int(re.findall(r"Do only step (\d+) now", prompt)[0])
        return f"The answer is {[36, 56, 81, 60][step - 1]}."
    if prompt.rstrip().endswith("Possible next steps:"):
        return "\n".join(propose_steps(prompt.rstrip().split("\n")[-2].removeprefix("Input: ").strip(), limit=8))
    if "Evaluate if given numbers can reach 24" in prompt:
        return "likely"
    return "The answer is 391."


class CountingServer:
    """A stand-in for `LlamaServer` that answers in `DELAY` seconds and counts requests in flight."""

    DELAY = 0.05
    last: CountingServer | None = None

    def __init__(self, settings: _llama_server.ServerSettings, *, verbose: bool = False) -> None:
        self.in_flight = self.peak = self.requests = 0
        self.load_seconds, self.address, self.api_key = 0.0, None, None
        self._lock = threading.Lock()
        CountingServer.last = self

    def chat(self, body: dict[str, Any], stop: threading.Event) -> dict[str, Any]:
        n = int(body.get("n", 1))  # llama.cpp's own n: one request, n slots
        with self._lock:
            self.in_flight += n
            self.requests += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            time.sleep(self.DELAY)
            msgs = body["messages"]
            text = reply(msgs[0]["content"] if msgs[0]["role"] == "system" else "", msgs[-1]["content"])
            choices = [{"index": i, "message": {"content": text}, "finish_reason": "stop"} for i in range(n)]
            return {"choices": choices, "usage": {}}
        finally:
            with self._lock:
                self.in_flight -= n

    def stop(self) -> None:
        pass


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[LocalBackend]:
    monkeypatch.setattr(local_mod, "LlamaServer", CountingServer)
    f = tmp_path / "m.gguf"
    f.write_bytes(b"GGUF")
    b = LocalBackend(f, slots=4)
    yield b
    b.close()


@pytest.mark.parametrize(
    ("agent", "settings", "question"),
    [
        ("self_consistency", {"k": 8}, "What is 17 * 23?"),
        ("self_consistency", {"k": 8, "use_n": False}, "What is 17 * 23?"),
        ("tot", {"env": "game24"}, "4 9 10 13"),
        ("mcts", {"env": "game24", "n_iterations": 12, "parallel": 4, "rollout_depth": 0}, "4 9 10 13"),
        ("plan_execute", {}, "What is the total of 12 * 3, 7 * 8, 9 * 9 and 15 * 4?"),
    ],
    ids=["sc_n", "sc_branches", "tot_frontier", "mcts_parallel", "plan_execute_steps"],
)
async def test_concurrent_branches_fill_the_slots(
    backend: LocalBackend, agent: str, settings: dict[str, Any], question: str, store: TraceStore
) -> None:
    result = await registry.build("agents", agent, settings).arun(question, backend=backend, store=store)
    server = CountingServer.last
    assert server is not None and server.requests > 1, result.error
    assert server.peak == backend.slots, f"{agent}: at most {server.peak} of {backend.slots} slots were busy at once"
    assert backend.limiter.stats().peak_in_flight == backend.slots
