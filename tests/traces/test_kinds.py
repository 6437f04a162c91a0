"""Event kinds declared once: typed data, validation, labels, trajectory, child-run names."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from ponder.traces import kinds
from ponder.traces.event_data import EventData
from ponder.traces.events import EventRecord
from ponder.traces.kinds import (
    EventDataError,
    child_run_role,
    declare_kind,
    kind_spec,
    label_data_kinds,
    trajectory_lines,
    validate_data,
)

RECORDINGS = Path(__file__).parent.parent / "recordings"


def _ev(kind: str, label: str = "", summary: str = "", data: dict | None = None, **kw: object) -> EventRecord:
    return EventRecord(run_id="r", seq=1, kind=kind, label=label, summary=summary, data=data, started_at=0.0, **kw)


@pytest.fixture
def plugin_kind() -> Iterator[str]:
    class StepData(EventData):
        index: int
        done: bool = False

    declare_kind(
        "plan_step",
        data=StepData,
        tag="plan-step-long",
        style="blue",
        shows_score=True,
        describe=lambda d: "done" if d.done else "to do",
        legend="plan step: one step of the plan",
    )
    yield "plan_step"
    kinds._KINDS.pop("plan_step", None)


@pytest.mark.parametrize("db", sorted(RECORDINGS.glob("*.db")), ids=lambda p: p.name)
def test_every_shipped_recording_has_declared_kinds_and_valid_data(db: Path) -> None:
    conn = sqlite3.connect(db)
    rows = conn.execute("select kind, data_json from events").fetchall()
    assert rows, f"{db.name} has no events"
    for kind, data_json in rows:
        validate_data(kind, json.loads(data_json) if data_json else None)


def test_undeclared_kinds_and_bad_data_are_refused() -> None:
    with pytest.raises(EventDataError, match="not declared"):
        validate_data("no_such_kind", None)
    with pytest.raises(EventDataError, match="VoteData"):
        validate_data("vote", {"tally": {"a": "three"}})
    with pytest.raises(EventDataError, match="VoteData"):
        validate_data("vote", {"tally": {"a": 3}, "surprise": 1})  # unknown keys are declared first
    with pytest.raises(EventDataError, match="declares no data"):
        validate_data("step", {"x": 1})
    validate_data("vote", {"tally": {"a": 3}, "winner": "a"})
    validate_data("info", {"anything": [1, 2]})


def test_an_undeclared_kind_still_renders_plainly() -> None:
    spec = kind_spec("something_new")
    assert spec.tag == "somethi" and not spec.shows_score and spec.parse({"a": 1}) is None


def test_bad_recorded_data_is_not_an_error_when_rendering() -> None:
    spec = kind_spec("vote")
    assert spec.detail({"tally": "not a dict"}) is None
    assert spec.detail({"tally": {"391": 3, "381": 1, "401": 1}}) == "[391:3, 381:1, 401:1 of 5]"


def test_a_declared_kind_is_labelled_by_its_declaration_in_the_tui(plugin_kind: str) -> None:
    from ponder.tui.widgets.event_tree import event_label

    assert plugin_kind in label_data_kinds()
    line = event_label(_ev(plugin_kind, "step 2", "book the flight", {"index": 2, "done": True}, score=0.5))
    assert line.plain.split() == ["1", "plan-st", "0.5", "step", "2:", "book", "the", "flight", "done"]
    assert any(span.style == "blue" for span in line.spans)
    # without a declaration the same event shows no score and no extra text
    kinds._KINDS.pop(plugin_kind)
    assert event_label(_ev(plugin_kind, "step 2", "x", {"index": 2}, score=0.5)).plain.split() == [
        "1",
        "plan_st",
        "step",
        "2:",
        "x",
    ]


def test_value_evaluations_show_every_sample() -> None:
    spec = kind_spec("evaluation")
    data = {"value": 13.67, "samples": [{"text": "sure", "value": 20.0}, {"text": "likely", "value": 1.0}]}
    assert spec.detail(data) == "samples 20 1"
    assert spec.detail({"nodes": [3, 4], "votes": [2.0, 1.0]}) == "votes #3:2 #4:1"


def test_trajectory_is_what_the_kinds_declare() -> None:
    events = [
        _ev("llm_call", "react step 1", "Thought: ..."),
        _ev("thought", "thought", "short", {"text": "the full thought"}),
        _ev("action", "search[x]", "search[x]", {"tool": "search", "input": "x"}),
        _ev("observation", "observation", "found x", {"text": "found x"}),
        _ev("step", "step 1"),
        _ev("error", "max_steps", "stopped after max_steps=1"),
    ]
    assert trajectory_lines(events) == [
        "Thought: the full thought",
        "Action: search[x]",
        "Observation: found x",
        "Error: stopped after max_steps=1",
    ]


@pytest.mark.parametrize(
    ("branch", "role"), [("trial2", "trial 2"), ("p1/trial-1", "trial 1"), ("", "run"), ("step10", "step 10")]
)
def test_child_runs_are_named_in_their_parents_words(branch: str, role: str) -> None:
    assert child_run_role(branch) == role
