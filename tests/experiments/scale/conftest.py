"""A sweep for the shard and Ray tests: sums over the `arithmetic` env, answered by a local fake server."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ponder.backends.config import BackendConfig
from ponder.experiments.results import Experiment
from ponder.experiments.scale.shard_job import ShardJob
from ponder.traces.store import TraceStore
from tests.fake_openai import FakeOpenAI, text

TASKS = 8
WRONG = 5  # the fake model gets problem p5 wrong
KEY_ENV = "PONDER_TEST_RAY_KEY"
KEY = "sk-ray-test-secret-0123456789"


def question(i: int) -> str:
    return f"What is {i} + {3 * i}?"


def numbers(body: dict[str, Any]) -> tuple[int, int]:
    a, b = re.findall(r"What is (\d+) \+ (\d+)", str(body["messages"][-1]["content"]))[-1]
    return int(a), int(b)


def answer(body: dict[str, Any]) -> dict[str, Any]:
    a, b = numbers(body)
    total = a + b + (1 if a == WRONG else 0)
    return text(f"{a} plus {b} makes {total}.\nAnswer: {total}")


@pytest.fixture
def problems(tmp_path: Path) -> Path:
    path = tmp_path / "sums.jsonl"
    rows = [{"id": f"p{i}", "question": question(i), "answer": f"#### {4 * i}"} for i in range(TASKS)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


class Server(FakeOpenAI):
    """The fake server with a hook that runs before each answer (to crash a worker, say)."""

    def __init__(self) -> None:
        self.before: Callable[[dict[str, Any]], None] = lambda _body: None
        super().__init__(self._answer)

    def _answer(self, body: dict[str, Any]) -> dict[str, Any]:
        self.before(body)
        return answer(body)

    def asked(self, i: int) -> int:
        """How many requests asked question i."""
        return sum(1 for b in self.requests if numbers(b)[0] == i)


@pytest.fixture
def server() -> Iterator[Server]:
    with Server() as s:
        yield s


@pytest.fixture
def job(server: Server, problems: Path, monkeypatch: pytest.MonkeyPatch) -> ShardJob:
    monkeypatch.setenv(KEY_ENV, KEY)
    backend = BackendConfig(backend="openai", base_url=server.url, model="fake-model", api_key_env=KEY_ENV)
    return ShardJob(agent="cot", env="arithmetic", env_config={"path": str(problems)}, backend=backend, concurrency=1)


def outcomes(exp: Experiment) -> dict[str, tuple[str | None, bool | None, str]]:
    return {r.task_id: (r.answer, r.correct, r.status) for r in exp.results}


def requests_by_task(store: TraceStore, exp: Experiment) -> dict[str, list[str]]:
    calls = {r.task_id: store.llm_calls(store.descendant_run_ids(r.run_id)) for r in exp.results}
    return {task_id: [c.request_key for c in cs] for task_id, cs in calls.items()}


@pytest.fixture(scope="session")
def cluster() -> Iterator[None]:
    """A local Ray cluster of 2 CPUs started in this process; its workers inherit the API key
    variable, as a node's would. The tests that take it are skipped without the ray extra."""
    ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")
    os.environ[KEY_ENV] = KEY
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()
        os.environ.pop(KEY_ENV, None)
