"""Graph of Thoughts' event kinds: `got_op` (one operation of the graph) and `got_thought` (one thought)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ponder.traces.event_data import EventData
from ponder.traces.kinds import declare_kind


class GotOpData(EventData):
    """`got_op`: one operation of a Graph of Operations — its index, type, the operations before it, the
    thoughts it took in and the thoughts it passed on (by thought id)."""

    index: int
    op: str
    predecessors: list[int] = Field(default_factory=list)
    inputs: list[str] = Field(default_factory=list)
    outputs: list[str] | None = None


class GotThoughtData(EventData):
    """`got_thought`: a thought made by an operation — its state (a dict), the thoughts it was made from
    (several for an aggregated thought), and what was found of it (score, validity)."""

    id: str
    parents: list[str] = Field(default_factory=list)
    state: dict[str, Any] = Field(default_factory=dict)
    score: float | None = None
    valid: bool | None = None


def _op_detail(d: GotOpData) -> str | None:
    if d.outputs is None:
        return f"#{d.index}"
    return f"#{d.index} {len(d.inputs)}→{len(d.outputs)}"


def _thought_detail(d: GotThoughtData) -> str | None:
    marks = []
    if len(d.parents) > 1:
        marks.append(f"⋈ {len(d.parents)} parents: {', '.join(d.parents)}")
    if d.valid is not None:
        marks.append("valid" if d.valid else "invalid")
    return "; ".join(marks) or None


declare_kind(
    "got_op",
    data=GotOpData,
    tag="op",
    style="bold magenta",
    describe=_op_detail,
    legend="op: one Graph-of-Thoughts operation (#index, thoughts in → out)",
    doc="one operation of a Graph of Operations",
)
declare_kind(
    "got_thought",
    data=GotThoughtData,
    tag="thought",
    style="blue",
    shows_score=True,
    describe=_thought_detail,
    shared_under="parents",
    legend="thought: a GoT thought with its score; ⋈ marks an aggregated thought and names all its parents; "
    "it is shown again under each of them (↳ also under …)",
    doc="one Graph-of-Thoughts thought",
)
