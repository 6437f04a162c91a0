"""A kind is declared once (a second declaration elsewhere is refused), and ponder itself refuses an
event of an undeclared kind, or with data its kind does not declare, when it is written: one line
naming the kind and the field."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import ClassVar

import pytest
from typer.testing import CliRunner

from ponder import registry
from ponder.backends.scripted import ScriptedBackend
from ponder.cli import app
from ponder.errors import ConfigError, PonderError
from ponder.runtime.base import BaseAgent
from ponder.runtime.context import RunContext
from ponder.runtime.runner import run_agent
from ponder.traces import kinds
from ponder.traces.kinds import EventDataError, kind_spec
from ponder.traces.store import TraceStore
from ponder.types import Result, Task


@pytest.fixture(autouse=True)
def _events_match_their_kinds() -> None:
    """Replaces the suite's own check of every write (conftest.py): here ponder's check is under test."""


_STEALS_PLAN = """
from ponder.traces.event_data import EventData
from ponder.traces.kinds import declare_kind

class MyPlan(EventData):
    steps: list[str]

declare_kind("plan", data=MyPlan)
"""

_OWN_KIND = """
from ponder.traces.event_data import EventData
from ponder.traces.kinds import declare_kind

class HopData(EventData):
    hops: int

declare_kind("kind_checks_hop", data=HopData)
"""


def test_a_kind_declared_elsewhere_is_refused_at_declaration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ponder.agents.plan_execute.plan  # declares `plan`

    before = kind_spec("plan")
    (tmp_path / "kind_checks_steals.py").write_text(_STEALS_PLAN)
    (tmp_path / "kind_checks_own.py").write_text(_OWN_KIND)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with pytest.raises(ConfigError) as e:
            importlib.import_module("kind_checks_steals")
        msg = str(e.value)
        assert "\n" not in msg
        assert "'plan'" in msg and "ponder.agents.plan_execute.plan" in msg and "kind_checks_steals" in msg
        assert kind_spec("plan") is before  # plan_execute's declaration stands
        own = importlib.import_module("kind_checks_own")
        importlib.reload(own)  # the same module declaring again (a reload) is no collision
        assert kind_spec("kind_checks_hop").data is own.HopData
    finally:
        kinds._KINDS.pop("kind_checks_hop", None)
        for mod in ("kind_checks_steals", "kind_checks_own"):
            sys.modules.pop(mod, None)
    assert ponder.agents.plan_execute.plan is not None


class Writer(BaseAgent):
    """A plugin strategy that writes whatever event it is configured to."""

    name: ClassVar[str] = "kind_checks_writer"
    kind: str = "info"
    data: dict[str, object] | None = None
    update: dict[str, object] | None = None

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        seq = ctx.event(self.kind, "step", "one step", status="running" if self.update else "ok", data=self.data)
        if self.update is not None:
            ctx.update(seq, status="ok", data=self.update)
        return Result(answer="done")


@pytest.mark.parametrize(
    ("writer", "expected"),
    [
        (Writer(kind="kind_checks_undeclared"), "event kind 'kind_checks_undeclared' is not declared"),
        (Writer(kind="vote", data={"tally": {"a": "three"}}), "'vote' event: data field 'tally.a': "),
        (Writer(kind="vote", data={"tally": {}, "surprise": 1}), "'vote' event: data field 'surprise': "),
        (Writer(kind="vote", data={"winner": "a"}), "'vote' event: data field 'tally': Field required"),
        (Writer(kind="step", data={"x": 1}), "'step' event declares no data"),
        (Writer(kind="path", data={"index": 0}, update={"index": "zero"}), "'path' event: data field 'index': "),
    ],
)
async def test_a_bad_event_fails_fast_with_one_line(writer: Writer, expected: str, store: TraceStore) -> None:
    with pytest.raises(EventDataError) as e:
        await run_agent(writer, "q", backend=ScriptedBackend([]), store=store)
    msg = str(e.value)
    assert expected in msg and "\n" not in msg, msg
    assert isinstance(e.value, PonderError)
    (run,) = store.list_runs()
    assert run.status == "error" and expected in (run.error or "")


async def test_good_events_are_written(store: TraceStore) -> None:
    writer = Writer(kind="path", data={"index": 0}, update={"index": 0, "answer": "a"})
    assert (await run_agent(writer, "q", backend=ScriptedBackend([]), store=store)).answer == "done"


def test_the_cli_says_it_in_one_line(tmp_path: Path) -> None:
    registry.register("agents", "kind_checks_writer", Writer)
    args = ["run", "q", "--agent", "kind_checks_writer", "--set", "kind=kind_checks_nope", "--backend", "scripted"]
    res = CliRunner().invoke(app, [*args, "--db", str(tmp_path / "t.db")])
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "event kind 'kind_checks_nope' is not declared" in lines[0], res.stderr
