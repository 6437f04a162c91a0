"""`ponder bench --env household --agent lats --n 2` end to end against a local fake OpenAI-compatible
server (loopback, started and stopped by the test) whose replies come from tests/recordings/fake_models.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder.cli import app
from ponder.traces.store import TraceStore
from tests.fake_openai import FakeOpenAI
from tests.recordings.fake_models import lats_household_model

runner = CliRunner()
SEARCH = ["--set", "n_iterations=12", "--set", "parallel=2"]  # MCTS, the default search


def test_bench_household_with_lats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_KEY", "not-a-key")
    db = tmp_path / "t.db"
    with FakeOpenAI(lats_household_model) as server:
        res = runner.invoke(
            app,
            ["bench", "--env", "household", "--agent", "lats", "--n", "2", *SEARCH, "--set", "n_generate=2",
             "--backend", "openai", "--base-url", server.url, "--model", "fake-model", "--api-key-env", "FAKE_KEY",
             "--db", str(db), "--json"],
        )  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["summary"]["n"] == 2 and out["summary"]["accuracy"] == 1.0, out["summary"]
    store = TraceStore(db)
    runs = [r for r in store.list_runs() if r.agent == "lats"]
    assert len(runs) == 2 and all(r.correct for r in runs)
    kinds = {e.kind for r in runs for e in store.events(r.id)}
    assert {"node", "lats_value", "reflection", "memory_write"} <= kinds
    store.close()
