"""An outside framework end to end: smolagents, installed from the package index into a throw-away
venv, runs a tool-calling agent through `ponder proxy` in front of a loopback OpenAI server; the
recording then answers the same agent with the upstream stopped, and it gets the same answer.

smolagents rather than DSPy: `pip download "smolagents[openai]"` is 22 MB with its dependencies,
`pip download dspy` 83 MB (litellm, optuna, ...).
"""

from __future__ import annotations

import json
import subprocess
import venv
from pathlib import Path
from typing import Any

import pytest

from ponder.interop.loopback import CliServer, LoopbackOpenAI, Reply
from ponder.traces.store import TraceStore

pytestmark = pytest.mark.slow

SMOLAGENTS = "smolagents[openai]==1.26.0"
AGENT = Path(__file__).with_name("smolagents_agent.py")


@pytest.fixture(scope="module")
def framework_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a throw-away venv with smolagents installed from the package index."""
    where = tmp_path_factory.mktemp("smolagents-venv")
    venv.EnvBuilder(with_pip=True).create(where)
    python = where / "bin" / "python"
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", SMOLAGENTS],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        pytest.fail(f"pip install {SMOLAGENTS} failed (needs the package index): {done.stderr[-2000:]}")
    return python


def model(body: dict[str, Any]) -> Reply:
    """A deterministic model: multiply first, then the final answer once the observation is in."""
    if "391" in json.dumps(body["messages"]):
        return Reply("", tool_calls=[("final_answer", {"answer": "391"})])
    return Reply("", tool_calls=[("multiply", {"a": 17, "b": 23})])


def run_agent(python: Path, url: str) -> str:
    done = subprocess.run([str(python), str(AGENT), url], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return str(json.loads(done.stdout.strip().splitlines()[-1])["answer"])


def test_a_smolagents_run_recorded_through_the_proxy_replays_with_the_upstream_gone(
    framework_python: Path, tmp_path: Path
) -> None:
    db = tmp_path / "smolagents.db"
    upstream = LoopbackOpenAI(model).start()
    with CliServer(["proxy", "--port", "0", "--db", str(db), "--upstream", upstream.url]) as proxy:
        recorded = run_agent(framework_python, proxy.url)
    upstream.stop()
    assert recorded == "391" and len(upstream.requests) == 2

    with CliServer(["proxy", "--port", "0", "--replay", str(db)]) as replay:
        assert run_agent(framework_python, replay.url) == recorded
    assert len(upstream.requests) == 2  # the replay never reached the (stopped) upstream

    store = TraceStore(db, readonly=True)
    [run] = store.list_runs()
    assert (run.agent, run.status, run.calls) == ("proxy", "ok", 2)
    actions = [(e.kind, e.label) for e in store.iter_events(run.id) if e.kind == "action"]
    assert actions == [("action", "multiply"), ("action", "final_answer")]
    first = store.llm_calls(run.id)[0]
    assert first.request["extra"]["tool_choice"] == "required"  # what the model does not model is kept
    assert b"sk-agent-key-5150" not in db.read_bytes()
