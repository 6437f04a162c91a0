"""`ponder show --format md`: the event tree drawn by parent, labelled by each kind's declaration."""

from __future__ import annotations

from ponder.export.document import export_markdown, iter_markdown
from ponder.traces.recorder import Recorder
from ponder.traces.store import TraceStore


def test_markdown_nests_events_under_their_parent_not_by_event_order(store: TraceStore) -> None:
    rec = Recorder.start(store, agent="tot", task={"input": "q"})
    a = rec.event("node", "d1", "A", data={"id": 1, "depth": 1})
    b = rec.event("node", "d1", "B", data={"id": 2, "depth": 1})
    # concurrent branches interleave: A's child is written after B
    rec.event("node", "d2", "A.1", parent=a, score=20.0, status="chosen", data={"id": 3, "depth": 2})
    rec.event("node", "d2", "B.1", parent=b, score=0.001, status="pruned", data={"id": 4, "depth": 2})
    rec.event("vote", "vote", "x: 2 -> x", score=1.0, data={"tally": {"x": 2}, "winner": "x"})
    rec.finish(status="ok", answer="x")
    md = export_markdown(store, rec.run_id)
    events = md.split("## Events\n\n", 1)[1].splitlines()
    assert events == [
        "- 1. **node** d1: A",
        "  - 3. **node** [20] (chosen) d2: A.1",
        "- 2. **node** d1: B",
        "  - 4. **node** [0.001] (pruned) d2: B.1",
        "- 5. **vote** x: 2 -> x — [x:2 of 2]",  # a vote shows its tally, not its score
    ]


def test_markdown_pages_siblings_and_names_child_runs_by_their_role(store: TraceStore) -> None:
    rec = Recorder.start(store, agent="reflexion", task={"input": "q"})
    root = rec.event("step", "step 1")
    for i in range(7):
        rec.event("thought", "thought", f"t{i}", parent=root, data={"text": f"t{i}"})
    rec.event("answer", "answer", "42", data={"answer": "42"})
    child = Recorder.start(store, agent="cot", task={"input": "q"}, parent_id=rec.run_id, branch="trial2")
    child.event("answer", "answer", "41")
    lines = list(iter_markdown(store, rec.run_id))
    from ponder.export import document

    paged = list(document._tree_lines(store, rec.run_id, page=3))
    assert paged == [ln for ln in lines if ln.lstrip().startswith("- ") and "**" in ln][: len(paged)]
    assert [ln.strip() for ln in paged] == [
        "- 1. **step** step 1",
        *[f"- {i + 2}. **thought** t{i}" for i in range(7)],
        "- 9. **answer** 42",
    ]
    assert f"## Trial 2 {child.run_id} — cot" in lines
