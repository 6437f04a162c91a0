"""`ponder diff` of runs that differ only in what a provider assigns (ids, timestamps): identical."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from ponder.cli import app
from tests.fake_openai import FakeOpenAI, text, tool_call

runner = CliRunner()


class FreshIds(FakeOpenAI):
    """A fake server that, as real ones do, assigns fresh ids and timestamps on every call."""

    def _completion(self, body: dict[str, Any], reply: Any) -> dict[str, Any]:
        out = super()._completion(body, reply)
        out |= {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": 1_700_000_000 + len(self.requests)}
        out["system_fingerprint"] = f"fp_{uuid.uuid4().hex[:10]}"
        return out


def _calculator_then_answer(body: dict[str, Any]) -> dict[str, Any]:
    if not any(m.get("role") == "tool" for m in body["messages"]):
        return tool_call("calculator", {"expression": "17 * 23"}, id=f"call_{uuid.uuid4().hex[:24]}")
    return tool_call("finish", {"answer": "391"}, id=f"call_{uuid.uuid4().hex[:24]}")


def test_runs_differing_only_in_provider_assigned_values_are_identical(tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")
    ids = []
    with FreshIds(_calculator_then_answer) as server:
        for _ in range(2):
            args = ["run", "What is 17 * 23?", "--agent", "react", "--set", "mode=native", "--backend", "openai"]
            res = runner.invoke(app, [*args, "--base-url", server.url, "--model", "m", "--db", db, "--json"])
            assert res.exit_code == 0, res.output
            ids.append(json.loads(res.stdout)["run_id"])
    sent = [c["id"] for r in server.requests for m in r["messages"] for c in m.get("tool_calls") or []]
    assert len(set(sent)) == len(sent) == 2  # the two runs really saw different tool-call ids
    out = runner.invoke(app, ["diff", *ids, "--db", db])
    assert out.exit_code == 0, out.output
    assert "events: identical" in out.stdout
    data = runner.invoke(app, ["diff", *ids, "--db", db, "--json"])
    assert data.exit_code == 0 and json.loads(data.stdout)["identical"] is True


def test_a_real_difference_still_shows(tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")
    ids = []
    for answer in ("391", "392"):
        with FreshIds(lambda body, a=answer: text(f"Thought: easy.\nAction: finish[{a}]")) as server:
            args = ["run", "What is 17 * 23?", "--agent", "react", "--set", "mode=text", "--backend", "openai"]
            res = runner.invoke(app, [*args, "--base-url", server.url, "--model", "m", "--db", db, "--json"])
            assert res.exit_code == 0, res.output
            ids.append(json.loads(res.stdout)["run_id"])
    out = runner.invoke(app, ["diff", *ids, "--db", db])
    assert out.exit_code == 1 and "first divergence" in out.stdout, out.output
