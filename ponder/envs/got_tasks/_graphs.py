"""Graph-building pieces the official GoT tasks share: a split solved part by part, and score-then-keep."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ponder.agents.got.operations import (
    Generate,
    GraphOfOperations,
    GroundTruth,
    KeepBestN,
    Operation,
    Score,
    Selector,
    State,
    Thought,
)


def part_selector(list_id: str) -> Any:
    """The official `Selector` function of one part of a split: the thoughts whose `part` is `list_id`."""

    def select(thoughts: list[Thought]) -> list[Thought]:
        return [t for t in thoughts if t.state.get("part") == list_id]

    return select


def score_and_keep(g: GraphOfOperations, predecessors: list[Operation], score: Callable[[], Score]) -> Operation:
    """Score the thoughts of `predecessors`, then keep the best one (lowest error count)."""
    scored = g.add_after(predecessors, score())
    return g.add_after([scored], KeepBestN(1, False))


def solve_parts(g: GraphOfOperations, plans: Operation, n_parts: int, score: Callable[[], Score]) -> list[Operation]:
    """For each part "List i" of the split `plans` made: select it, answer it 5 times, keep the best."""
    parts = []
    for i in range(1, n_parts + 1):
        list_id = f"List {i}"
        selected = g.add_after([plans], Selector(selector=part_selector(list_id), name=list_id))
        answered = g.add_after([selected], Generate(1, 5))
        parts.append(score_and_keep(g, [answered], score))
    return parts


def levels(
    branches: int,
    rounds: int,
    score: Callable[[], Score],
    ground_truth: Callable[[State], bool],
    *,
    final_keep: bool,
    extra_keeps: bool = False,
) -> GraphOfOperations:
    """The official ToT graphs: answer `branches` times, keep the best; then `rounds` times improve it
    `branches` times and keep the best of those and the previous best; then the ground truth.

    final_keep: one more KeepBestN(1) before the ground truth (sorting, keyword counting).
    extra_keeps: two more KeepBestN(1) after every level (the official sorting-64/128 tot2).
    """
    g = GraphOfOperations()
    g.append_operation(Generate(1, branches))
    g.append_operation(score())
    keep_best_1 = g.append_operation(KeepBestN(1, False))
    for _ in range(rounds):
        g.append_operation(Generate(1, branches))
        g.append_operation(score())
        keep_best_2 = KeepBestN(1, False)
        keep_best_2.add_predecessor(keep_best_1)
        g.append_operation(keep_best_2)
        keep_best_1 = keep_best_2
        if extra_keeps:
            g.append_operation(KeepBestN(1, False))
            g.append_operation(KeepBestN(1, False))
    if final_keep:
        g.append_operation(KeepBestN(1, False))
    g.append_operation(GroundTruth(ground_truth_evaluator=ground_truth))
    return g
