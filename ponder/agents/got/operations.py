"""Graph of Thoughts' operations and their graph, after spcl/graph-of-thoughts (BSD-style license, kept in
`ponder/envs/got_tasks/data/LICENSE-graph-of-thoughts.txt`).

Each operation is a small class with explicit predecessors and successors, as in the official
`operations/operations.py`; what differs is that an operation does not run itself: the
controller (`controller.py`) runs every operation whose predecessors are done, independent ones
concurrently, and records each. An operation here holds only its settings, its place in the
graph and — once run — its output thoughts.

A `Thought` is a dict state plus a score, a validity and a solved flag. New thoughts merge their
parent's state with what the parser returned (parent first, `{**parent, **update}`), exactly as
the official operations do; `Aggregate` merges its inputs in ascending score order first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

State = dict[str, Any]
ScoringFunction = Callable[[Any], Any]
"""A local scoring function: one state → a score, or (combined) a list of states → a list of scores."""


@dataclass
class Thought:
    """A thought: its state, and what operations found of it. `id` is stable: `op<operation>.<index>`."""

    state: State
    id: str = ""
    parents: tuple[str, ...] = ()
    score: float = 0.0
    scored: bool = False
    valid: bool = False
    validated: bool = False
    solved: bool = False
    seq: int | None = None
    """The event that recorded this thought (set by the controller)."""

    def copy(self) -> Thought:
        """The same thought (same id and state), as the official `Thought.from_thought` copies it."""
        return Thought(
            state=dict(self.state),
            id=self.id,
            parents=self.parents,
            score=self.score,
            scored=self.scored,
            valid=self.valid,
            validated=self.validated,
            solved=self.solved,
            seq=self.seq,
        )


@dataclass(eq=False)
class Operation:
    """One node of a Graph of Operations: settings, predecessors, successors and (after it ran) its thoughts."""

    kind: ClassVar[str] = "operation"
    predecessors: list[Operation] = field(default_factory=list, init=False, repr=False)
    successors: list[Operation] = field(default_factory=list, init=False, repr=False)
    thoughts: list[Thought] = field(default_factory=list, init=False, repr=False)
    index: int = field(default=-1, init=False)
    executed: bool = field(default=False, init=False)

    def add_predecessor(self, operation: Operation) -> None:
        self.predecessors.append(operation)
        operation.successors.append(self)

    def add_successor(self, operation: Operation) -> None:
        self.successors.append(operation)
        operation.predecessors.append(self)

    def can_be_executed(self) -> bool:
        return all(p.executed for p in self.predecessors)

    def previous_thoughts(self) -> list[Thought]:
        return [t for p in self.predecessors for t in p.thoughts]

    def label(self) -> str:
        """How the operation reads in a trace: `Generate(1, 5)`."""
        return self.kind


@dataclass(eq=False)
class Generate(Operation):
    """Prompt the model `num_branches_response` times per input thought (asking for `num_branches_prompt`)."""

    kind: ClassVar[str] = "Generate"
    num_branches_prompt: int = 1
    num_branches_response: int = 1

    def label(self) -> str:
        return f"Generate({self.num_branches_prompt}, {self.num_branches_response})"


@dataclass(eq=False)
class Score(Operation):
    """Score thoughts: with `scoring_function` (local) or by prompting the model `num_samples` times;
    `combined_scoring` scores all input thoughts in one go."""

    kind: ClassVar[str] = "Score"
    num_samples: int = 1
    combined_scoring: bool = False
    scoring_function: ScoringFunction | None = None

    def label(self) -> str:
        how = "local" if self.scoring_function is not None else f"model×{self.num_samples}"
        return f"Score({how}{', combined' if self.combined_scoring else ''})"


@dataclass(eq=False)
class Aggregate(Operation):
    """Merge all input thoughts into new ones with one prompt, `num_responses` replies."""

    kind: ClassVar[str] = "Aggregate"
    num_responses: int = 1

    def label(self) -> str:
        return f"Aggregate({self.num_responses})"


@dataclass(eq=False)
class Improve(Operation):
    """Ask the model to improve each input thought once."""

    kind: ClassVar[str] = "Improve"


@dataclass(eq=False)
class ValidateAndImprove(Operation):
    """Validate each thought (a local function or the model); improve an invalid one, up to `num_tries` times."""

    kind: ClassVar[str] = "ValidateAndImprove"
    num_samples: int = 1
    improve: bool = True
    num_tries: int = 3
    validate_function: Callable[[State], bool] | None = None

    def label(self) -> str:
        return f"ValidateAndImprove(tries={self.num_tries})"


@dataclass(eq=False)
class KeepBestN(Operation):
    """Keep the `n` best-scored input thoughts (`higher_is_better` False: lowest scores, e.g. error counts)."""

    kind: ClassVar[str] = "KeepBestN"
    n: int = 1
    higher_is_better: bool = True

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError("KeepBestN must keep at least one thought")

    def label(self) -> str:
        return f"KeepBestN({self.n}, {'max' if self.higher_is_better else 'min'})"


@dataclass(eq=False)
class KeepValid(Operation):
    """Keep the valid thoughts (and the ones never validated)."""

    kind: ClassVar[str] = "KeepValid"


@dataclass(eq=False)
class Selector(Operation):
    """Select thoughts with a function (e.g. one part of a split)."""

    kind: ClassVar[str] = "Selector"
    selector: Callable[[list[Thought]], list[Thought]] = lambda ts: ts
    name: str = ""

    def label(self) -> str:
        return f"Selector({self.name})" if self.name else "Selector"


@dataclass(eq=False)
class GroundTruth(Operation):
    """Mark each thought solved or not with the task's ground-truth check."""

    kind: ClassVar[str] = "GroundTruth"
    ground_truth_evaluator: Callable[[State], bool] = lambda s: False


class GraphOfOperations:
    """The execution plan: operations, their roots and leaves (the official `GraphOfOperations`)."""

    def __init__(self) -> None:
        self.operations: list[Operation] = []
        self.roots: list[Operation] = []
        self.leaves: list[Operation] = []

    def _register(self, operation: Operation) -> None:
        operation.index = len(self.operations)
        self.operations.append(operation)

    def append_operation(self, operation: Operation) -> Operation:
        """Add `operation` after every current leaf; it becomes the only leaf."""
        self._register(operation)
        if not self.roots:
            self.roots = [operation]
        else:
            for leaf in self.leaves:
                leaf.add_successor(operation)
        self.leaves = [operation]
        return operation

    def add_operation(self, operation: Operation) -> Operation:
        """Add `operation` with the predecessors it already has (none: a new root)."""
        self._register(operation)
        if not self.roots:
            if operation.predecessors:
                raise ValueError("the first operation of a graph has no predecessors")
            self.roots = [operation]
            self.leaves = [operation]
            return operation
        if not operation.predecessors:
            self.roots.append(operation)
        for p in operation.predecessors:
            if p in self.leaves:
                self.leaves.remove(p)
        if not operation.successors:
            self.leaves.append(operation)
        return operation

    def add_after(self, predecessors: list[Operation], operation: Operation) -> Operation:
        """Add `operation` after `predecessors` (the official `add_predecessor` calls, then `add_operation`)."""
        for p in predecessors:
            operation.add_predecessor(p)
        return self.add_operation(operation)

    def check(self) -> None:
        """Refuse a graph the controller cannot run: no roots, or an edge to an operation outside it."""
        if not self.roots:
            raise ValueError("the graph of operations has no root")
        members = {id(op) for op in self.operations}
        for op in self.operations:
            for s in op.successors:
                if id(s) not in members:
                    raise ValueError(f"operation {op.label()} has a successor outside the graph")
