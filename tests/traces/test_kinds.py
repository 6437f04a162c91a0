"""Event kinds declared once: typed data, validation, labels, trajectory, child-run names."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from ponder import registry
from ponder.traces import kinds
from ponder.traces.event_data import EventData
from ponder.traces.events import EventRecord
from ponder.traces.kinds import (
    EventDataError,
    child_run_role,
    declare_kind,
    is_declared,
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

    name = "plugin_step"  # declared by no registered agent, so the fallback below is the fallback
    before = kinds._KINDS.get(name)
    declare_kind(
        name,
        data=StepData,
        tag="plugin-step-long",
        style="blue",
        shows_score=True,
        describe=lambda d: "done" if d.done else "to do",
        legend="plan step: one step of the plan",
    )
    yield name
    kinds._KINDS.pop(name, None)
    if before is not None:
        kinds._KINDS[name] = before


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
    from ponder.tui.widgets.event_labels import event_label

    spec = kind_spec("something_new")  # not declared even after the registered kind modules are loaded
    assert spec.tag == "something_new" and not spec.shows_score and spec.parse({"a": 1}) is None  # never cut
    assert not is_declared("something_new") and "something_new" not in kinds._KINDS
    line = event_label(_ev("something_new", "x", "y", {"a": 1}, score=0.5))
    assert line.plain.split() == ["1", "something_new", "x:", "y"]
    with pytest.raises(EventDataError, match="not declared"):
        validate_data("something_new", {"a": 1})


_PLUGIN_OK = """
from ponder.traces.event_data import EventData

class HopData(EventData, kind="kinds_test_hop", tag="hop", shows_score=True, describe=lambda d: f"{d.hops} hops"):
    hops: int
"""


def test_a_kind_not_declared_yet_loads_the_registered_kind_modules_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "kinds_test_plugin_ok.py").write_text(_PLUGIN_OK)
    (tmp_path / "kinds_test_plugin_broken.py").write_text("raise RuntimeError('this plugin is broken')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    group = "ponder.kinds"
    fake = {
        "broken": EntryPoint("broken", "kinds_test_plugin_broken", group),
        "missing": EntryPoint("missing", "kinds_test_no_such_module", group),
        "hopper": EntryPoint("hopper", "kinds_test_plugin_ok", group),
    }
    monkeypatch.setattr(registry, "_entry_points", lambda kind: fake if kind == "kinds" else {})
    monkeypatch.setattr(kinds, "_kinds_loaded", False)
    calls: list[str] = []
    real_load_all = registry.load_all

    def counted(kind: registry.Kind) -> dict[str, object]:
        calls.append(kind)
        return real_load_all(kind)

    monkeypatch.setattr(registry, "load_all", counted)
    try:
        assert "kinds_test_hop" not in kinds._KINDS and "kinds_test_plugin_ok" not in sys.modules
        spec = kind_spec("kinds_test_hop")  # the broken and the missing plugin are skipped, not fatal
        assert (spec.tag, spec.shows_score, spec.detail({"hops": 3})) == ("hop", True, "3 hops")
        validate_data("kinds_test_hop", {"hops": 3})
        assert kind_spec("kinds_test_still_unknown").tag == "kinds_test_still_unknown"  # the fallback, after one load
        assert not is_declared("kinds_test_other")
        assert calls == ["kinds"], "the registered kind modules are loaded once per process, not on every miss"
    finally:
        kinds._KINDS.pop("kinds_test_hop", None)
        for mod in ("kinds_test_plugin_ok", "kinds_test_plugin_broken"):
            sys.modules.pop(mod, None)


def _fresh(code: str, *args: str) -> str:
    """Run `code` in a new interpreter (no agent imported yet) and return its stdout; fail on a non-zero exit."""
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_ponder_show_in_a_fresh_process_labels_a_strategys_own_kinds() -> None:
    db = str(RECORDINGS / "lats_household.db")
    out = _fresh("from ponder.cli import main; main()", "show", "aeb8", "--db", db)
    # lats_value is declared by ponder.agents.kinds (a `ponder.kinds` module), which nothing imported
    assert "- 8. **lats_value** [0.24] value: score 0.3, reward 0\n" in out
    assert "**lats_value** [0] value: failed trajectory — failure\n" in out


_TUI_LABELS = """
import sys
from ponder.traces.store import TraceStore
from ponder.tui._data import with_label_data
from ponder.tui.widgets.event_labels import event_label

store = TraceStore(sys.argv[1], readonly=True)
run = store.resolve_run_id(sys.argv[2])
for e in with_label_data(store, list(store.iter_events(run, with_data=False))):
    if e.kind == sys.argv[3]:
        print(event_label(e).plain)
"""


@pytest.mark.parametrize(
    ("db", "run", "kind", "tag", "line"),
    [
        ("lats_household.db", "aeb8", "lats_value", "value", "  35 value   1 value: success: reward 1  success"),
        ("plan_execute_bottles.db", "1c76", "plan_step", "step", None),
    ],
)
def test_tui_labels_in_a_fresh_process_use_a_strategys_own_kinds(
    db: str, run: str, kind: str, tag: str, line: str | None
) -> None:
    lines = _fresh(_TUI_LABELS, str(RECORDINGS / db), run, kind).splitlines()
    assert lines, f"no {kind} events in {db}"
    assert all(ln.split()[1] == tag for ln in lines), lines
    if line is not None:
        assert line in lines, lines


def test_bad_recorded_data_is_not_an_error_when_rendering() -> None:
    spec = kind_spec("vote")
    assert spec.detail({"tally": "not a dict"}) is None
    assert spec.detail({"tally": {"391": 3, "381": 1, "401": 1}}) == "[391:3, 381:1, 401:1 of 5]"


def test_a_declared_kind_is_labelled_by_its_declaration_in_the_tui(plugin_kind: str) -> None:
    from ponder.tui.widgets.event_labels import event_label

    assert plugin_kind in label_data_kinds()
    line = event_label(_ev(plugin_kind, "step 2", "book the flight", {"index": 2, "done": True}, score=0.5))
    assert line.plain.split() == ["1", "plugin-step-long", "0.5", "step", "2:", "book", "the", "flight", "done"]
    assert any(span.style == "blue" for span in line.spans)
    # without a declaration the same event shows no score and no extra text
    kinds._KINDS.pop(plugin_kind)
    assert event_label(_ev(plugin_kind, "step 2", "x", {"index": 2}, score=0.5)).plain.split() == [
        "1",
        "plugin_step",
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


def test_a_data_class_declared_before_the_kind_registry_loads_is_declared_when_it_does() -> None:
    out = _fresh(
        "import sys\n"
        "from ponder.traces.event_data import EventData\n"
        "class Early(EventData, kind='kinds_test_early', tag='early'):\n"
        "    n: int = 0\n"
        "assert 'ponder.traces.kinds' not in sys.modules\n"
        "from ponder.traces.kinds import kind_spec, validate_data\n"
        "validate_data('kinds_test_early', {'n': 1})\n"
        "print(kind_spec('kinds_test_early').tag)\n"
    )
    assert out.strip() == "early"


def test_a_kind_declared_by_a_data_class_is_owned_by_the_class_s_module() -> None:
    out = _fresh(
        "from ponder.traces.event_data import EventData\n"
        "from ponder.traces import kinds\n"
        "class One(EventData, kind='kinds_test_owned'):\n"
        "    n: int = 0\n"
        "print(kinds._OWNERS['kinds_test_owned'])\n"
    )
    assert out.strip() == "__main__"


def test_a_second_data_class_declaring_the_same_kind_is_refused() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from ponder.traces.event_data import EventData\n"
            "import ponder.traces.kinds\n"
            "class One(EventData, kind='kinds_test_twice'):\n    n: int = 0\n"
            "ns = {'__name__': 'kinds_test_plugin_b'}\n"
            'exec("from ponder.traces.event_data import EventData\\n'
            "class Two(EventData, kind='kinds_test_twice'):\\n    n: int = 0\\n\", ns)\n",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0 and "already declared by __main__; kinds_test_plugin_b cannot" in proc.stderr
