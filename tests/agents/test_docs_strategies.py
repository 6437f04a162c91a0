"""docs/strategies.md: the plugin on the page is built from the page's own code blocks, installed
(a dist-info with its entry point on sys.path), listed by `ponder agents`, run, composed under
self-consistency and Reflexion, and tested with `ponder_replay` as the page says."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder import registry
from ponder.backends.scripted import ScriptedBackend
from ponder.types import CompletionRequest, Task
from tests._plugins import install

pytest_plugins = ["pytester"]

PAGE = Path(__file__).resolve().parents[2] / "docs" / "strategies.md"
_BLOCK = re.compile(r'^```\w+ title="(?P<name>[^"]+)"\n(?P<body>.*?)^```$', re.MULTILINE | re.DOTALL)


def page_files() -> dict[str, str]:
    """The page's titled code blocks, by file name."""
    return {m.group("name"): m.group("body") for m in _BLOCK.finditer(PAGE.read_text())}


def model(req: CompletionRequest) -> str:
    """A stand-in model: a plan for the plan prompt, a worked answer for the answer prompt."""
    text = req.messages[-1].content
    if "Write a numbered plan" in text:
        return "1. Multiply 17 by 20.\n2. Add 17 times 3."
    assert "Plan:\n1. Multiply" in text  # the answer prompt carries the plan
    return "17 * 20 = 340 and 17 * 3 = 51, so 340 + 51 = 391. The answer is 391."


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The page's package, installed as pip would: its module and a dist-info with its entry point."""
    files = page_files()
    assert {"pyproject.toml", "plan_answer.py", "test_plan_answer.py"} <= set(files)
    site = tmp_path / "site"
    install(site, files["pyproject.toml"], {"plan_answer.py": files["plan_answer.py"]})
    monkeypatch.syspath_prepend(str(site))
    registry._entry_points.cache_clear()
    yield site
    registry._entry_points.cache_clear()
    sys.modules.pop("plan_answer", None)


def test_the_example_is_about_thirty_lines() -> None:
    code = [ln for ln in page_files()["plan_answer.py"].splitlines() if ln.strip()]
    assert len(code) <= 36


def test_ponder_agents_lists_the_installed_plugin(installed: Path) -> None:
    from ponder.cli import app

    result = CliRunner().invoke(app, ["agents"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    line = next(ln for ln in result.stdout.splitlines() if ln.strip().startswith("plan_answer"))
    assert "Plan first, then answer" in line and "plan_answer:PlanAnswer" in line
    assert "plan_answer" in registry.names("kinds")  # where a viewer finds its `outline` kind


async def test_the_plugin_runs_and_records_its_steps(installed: Path) -> None:
    from ponder.runtime.runner import run_agent
    from ponder.traces.store import TraceStore

    agent = registry.build("agents", "plan_answer", {"steps": 2})
    assert agent.name == "plan_answer"  # the key equals the class's name
    store = TraceStore(":memory:")
    result = await run_agent(agent, "What is 17 * 23?", backend=ScriptedBackend(model), store=store)
    assert (result.answer, result.calls) == ("391", 2)
    events = list(store.iter_events(result.run_id))
    plan = next(e for e in events if e.kind == "outline")
    assert plan.status == "ok" and plan.summary.startswith("1. Multiply")
    assert [e.kind for e in events if e.parent_seq == plan.seq] == ["llm_call"]
    with pytest.raises(Exception, match="steps"):
        registry.build("agents", "plan_answer", {"steps": 0})


async def test_it_composes_under_self_consistency_and_reflexion(installed: Path) -> None:
    from ponder.agents.reflexion import Reflexion
    from ponder.agents.self_consistency import SelfConsistency
    from ponder.runtime.runner import run_agent
    from ponder.traces.store import TraceStore

    store = TraceStore(":memory:")
    sc = await run_agent(SelfConsistency(inner="plan_answer", k=3), "What is 17 * 23?",
                         backend=ScriptedBackend(model), store=store)  # fmt: skip
    assert sc.answer == "391" and sc.metadata["tally"] == {"391": 3} and sc.calls == 6
    task = Task(id="17x23", input="What is 17 * 23?", expected="391")
    rx = await run_agent(Reflexion(inner="plan_answer"), task, backend=ScriptedBackend(model), store=store)
    assert rx.correct is True and rx.metadata["evaluator"] == "exact"
    assert [r.agent for r in store.child_runs(rx.run_id)] == ["plan_answer"]


def test_the_page_s_replay_test_records_once_then_replays(
    installed: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def counted(req: CompletionRequest) -> str:
        calls.append(req.messages[-1].content)
        return model(req)

    registry.register("backends", "docfake", lambda **kw: ScriptedBackend(counted))
    monkeypatch.setenv("PONDER_BACKEND", "docfake")
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_plan_answer=page_files()["test_plan_answer.py"])
    args = ("-p", "no:textual-snapshot", "-p", "no:hypothesispytest", "-p", "no:cacheprovider", "--assert=plain")
    pytester.runpytest(*args, "--ponder-record=once").assert_outcomes(passed=1)
    assert len(calls) == 2 and (pytester.path / "recordings" / "plan_answer_17x23.db").exists()
    calls.clear()
    registry.register("backends", "docfake", lambda **kw: pytest.fail("replay must not build a backend"))
    pytester.runpytest(*args).assert_outcomes(passed=1)
    assert calls == []


def test_the_readme_links_the_page() -> None:
    readme = (PAGE.parents[1] / "README.md").read_text()
    assert "docs/strategies.md" in readme
