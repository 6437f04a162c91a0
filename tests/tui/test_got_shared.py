"""A Graph-of-Thoughts thought made from several thoughts (Aggregate) is shown under each of them in the
event tree, marked as shared, as well as at its own place under its operation: the shipped recording."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Static
from textual.widgets.tree import TreeNode

from ponder.traces.store import TraceStore
from ponder.tui.app import PonderApp
from ponder.tui.widgets.event_tree import EventTree, NodeRef
from tests.tui.waiting import settle

# the scripted GoT recording (its ids pinned here); got_sorting32.db is the real 0.5B one
RECORDING = Path(__file__).parents[1] / "recordings" / "got_sorting32_scripted.db"
SIZE = (160, 48)


Got = tuple[Path, str, dict[str, tuple[int, int]]]


@pytest.fixture
def got_db(tmp_path: Path) -> Got:
    """A copy of the shipped GoT sorting-32 recording, its run, and (seq, its operation's seq) of each thought."""
    path = tmp_path / "got.db"
    shutil.copy(RECORDING, path)
    with TraceStore(path, readonly=True) as store:
        (run,) = store.list_runs()
        thoughts = [e for e in store.iter_events(run.id) if e.kind == "got_thought" and e.data]
    aggregated = [e for e in thoughts if len(e.data["parents"]) > 1]  # type: ignore[index]
    assert {tuple(e.data["parents"]) for e in aggregated} == {("op2.0", "op6.0")}, "what the recording holds"  # type: ignore[index]
    assert len(aggregated) == 10
    return path, run.id, {e.label: (e.seq, e.parent_seq or 0) for e in thoughts}


def label(node: TreeNode[NodeRef]) -> str:
    return node.label.plain if isinstance(node.label, Text) else str(node.label)


async def expand(pilot: Pilot, tree: EventTree, run_id: str, seq: int) -> TreeNode[NodeRef]:
    node = tree.node_for(run_id, seq)
    assert node is not None, f"event {seq} is not in the tree"
    node.expand()
    await settle(pilot)
    return node


async def test_an_aggregated_thought_is_shown_under_each_of_its_parents(got_db: Got) -> None:
    path, run_id, thoughts = got_db
    aggregated = [thoughts[f"op9.{i}"][0] for i in range(10)]
    app = PonderApp(path, run_id=run_id)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(EventTree)
        # the two thoughts it was made from, each under its own Generate operation, have it as a child
        for parent, other in (("op2.0", "op6.0"), ("op6.0", "op2.0")):
            seq, op_seq = thoughts[parent]
            await expand(pilot, tree, run_id, op_seq)
            node = await expand(pilot, tree, run_id, seq)
            shared = [c for c in node.children if c.data is not None and c.data.kind == "link"]
            assert [c.data.seq for c in shared if c.data] == aggregated, parent
            assert all(label(c).startswith(f"↳ also under {other} · ") for c in shared), label(shared[0])
            assert "op9.0" in label(shared[0]) and "⋈ 2 parents: op2.0, op6.0" in label(shared[0])
        # a thought no aggregated thought was made from has nothing under it
        single = tree.node_for(run_id, thoughts["op2.1"][0])
        assert single is not None and not single.children and not single.allow_expand
        # its own place: under the Aggregate operation, not marked
        own_seq, aggregate_op = thoughts["op9.0"]
        own_op = await expand(pilot, tree, run_id, aggregate_op)
        own = tree.node_for(run_id, own_seq)
        assert own is not None and own.parent is own_op and not label(own).startswith("↳")

        # the cursor on a shared node shows that thought; enter takes the cursor to its own place
        op20 = tree.node_for(run_id, thoughts["op2.0"][0])
        assert op20 is not None
        tree.move_cursor(op20.children[0])
        await settle(pilot)
        assert "op9.0" in str(app.screen.query_one("#detail-raw", Static).render())
        await pilot.press("enter")
        await settle(pilot)
        assert tree.cursor_node is own, label(tree.cursor_node) if tree.cursor_node else None


def test_shared_thought_snapshot(snap_compare, got_db: Got) -> None:  # type: ignore[no-untyped-def]
    """The tree with op2.0 expanded: its ten shared children, marked, the cursor on the first."""
    path, run_id, thoughts = got_db

    async def open_op20(pilot: Pilot) -> None:
        await settle(pilot)
        tree = pilot.app.screen.query_one(EventTree)
        seq, op_seq = thoughts["op2.0"]
        await expand(pilot, tree, run_id, op_seq)
        node = await expand(pilot, tree, run_id, seq)
        tree.move_cursor(node.children[0])
        await settle(pilot)

    assert snap_compare(PonderApp(path, run_id=run_id), terminal_size=SIZE, run_before=open_op20)
