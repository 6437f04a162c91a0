"""The typed `data` of each built-in event kind (pydantic v2; one model per kind, as inspect_ai's events).

A data model may carry its kind's declaration in its class statement, so the kind is declared
where its data is (`ponder.traces.kinds.declare_kind`'s options as class keywords)::

    class PlanStepData(EventData, kind="plan_step", tag="step", style="blue"):
        index: int
        done: bool = False

and a strategy writes one with `ctx.emit(PlanStepData(index=1), "step 1")`. Events may also be
written with plain dicts (`ctx.event(kind, ..., data={...})`); `ponder.traces.kinds` pairs each
built-in model below with its kind, and every event written is validated against its kind's
model. Open events (`status="running"`) are written with part of their data and completed by an
update, so the fields filled in later are optional. Models forbid unknown keys: a new key is
declared here (or in the plugin's own model) first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

# `ponder.traces.kinds.declare_kind`, which that module hands over when it loads (this module does not
# import it: kinds imports this one); declarations made before then wait in `_pending`
_declarer: Callable[..., Any] | None = None
_pending: list[tuple[str, type[BaseModel], dict[str, Any]]] = []


def take_declarations(declare: Callable[..., Any]) -> None:
    """Hand the kind registry over (`declare(name, data=..., **options)`): kinds declared by data classes
    so far are declared now, later ones at once."""
    global _declarer
    _declarer = declare
    while _pending:
        name, cls, declaration = _pending.pop(0)
        declare(name, data=cls, **declaration)


class EventData(BaseModel):
    """Base of every kind's data model: unknown keys are an error, so the declaration stays complete.

    `kind`: the event kind this model is the data of, when its class statement declares one
    (`class VoteData(EventData, kind="vote", ...)`; the other keywords are `declare_kind`'s).
    """

    model_config = ConfigDict(extra="forbid")
    kind: ClassVar[str | None] = None

    def __init_subclass__(cls, **declaration: Any) -> None:
        super().__init_subclass__()  # the declaration is read once the model is built (below)

    @classmethod
    def __pydantic_init_subclass__(cls, **declaration: Any) -> None:
        name = declaration.pop("kind", None)
        if name is None:
            if declaration:
                raise TypeError(f"{cls.__name__}: {sorted(declaration)} declare a kind; give its name too (kind=...)")
            return
        cls.kind = name
        if _declarer is None:
            _pending.append((name, cls, declaration))
        else:
            _declarer(name, data=cls, **declaration)


class LLMCallData(EventData):
    """`llm_call`: one backend call (the request and response are in `llm_calls`, keyed by the event)."""

    request_key: str
    latency_ms: float | None = None
    n: int | None = None


class ThoughtData(EventData):
    """`thought`: what the model wrote (CoT reasoning, a ReAct thought, ToT's final answer step)."""

    text: str | None = None
    answer: str | None = None


class ActionData(EventData):
    """`action`: a ReAct action: text format (`tool`, `input`), native call (`arguments`, `id`), unparsed (`raw`),
    or the native calls of one reply refused past `max_tool_calls` (`refused` of them)."""

    tool: str | None = None
    input: str | None = None
    arguments: str | None = None
    id: str | None = None
    raw: str | None = None
    refused: int | None = None
    max_tool_calls: int | None = None


class TextData(EventData):
    """`observation`, `reflection`: one text."""

    text: str | None = None


class NodeData(EventData):
    """`node`: a search state. `y` is the state as the world model words it (ToT: the steps so far),
    `step` the action that reached it, `value` its score; `parents` its parents' ids when it has
    several (an aggregation: the event nests under the first); `visits`/`q` MCTS's statistics, `stats`
    any other algorithm's."""

    id: int
    depth: int
    y: str = ""
    step: str | None = None
    error: str | None = None
    value: float | None = None
    reason: str | None = None
    parents: list[int] | None = None
    fast_reward: float | None = None
    visits: int | None = None
    q: float | None = None
    stats: dict[str, float | int | str | bool | None] | None = None


class BackupData(EventData):
    """`backup`: one MCTS iteration's backpropagation — the node `path` from the root, each node's
    reward, and the returns added to them (the sum of the rewards from that node down)."""

    iteration: int
    path: list[int]
    rewards: list[float]
    returns: list[float]


class RolloutData(EventData):
    """`rollout`: an MCTS simulation from node `start`: the `steps` taken (not added to the tree),
    the depth reached and the value of the state reached."""

    start: int
    steps: list[str] = []
    depth: int | None = None
    value: float | None = None


class ValueSample(EventData):
    """One rating reply of a value evaluation and the value read from it (None: unparseable)."""

    text: str
    value: float | None = None


class Finalist(EventData):
    """One final state of a faithful ToT run: its value, the answer its last line gives, and whether it is right."""

    id: int
    value: float | None = None
    answer: str | None = None
    correct: bool | None = None


class EvaluationData(EventData):
    """`evaluation`: a node's value (mean of `samples`), or a vote over `nodes` (`votes`, `picks`, `samples` texts)."""

    value: float | None = None
    samples: list[ValueSample] | list[str] | None = None
    invalid: int | None = None
    duplicate_of: int | None = None
    rule: bool | None = None
    cached: bool | None = None
    from_node: int | None = None
    nodes: list[int] | None = None
    votes: list[float] | None = None
    picks: list[int | None] | None = None
    error: str | None = None
    finalists: list[Finalist] | None = None
    any_correct: bool | None = None


class PathData(EventData):
    """`path`: one sampled reasoning path of self-consistency, its answer and the normalized vote key."""

    index: int
    answer: str | None = None
    normalized: str | None = None
    text: str | None = None
    error: str | None = None


class VoteData(EventData):
    """`vote`: self-consistency's majority vote — `tally` answer -> paths, in vote order."""

    tally: dict[str, int]
    winner: str | None = None
    answer: str | None = None
    samples: int | None = None
    saved: int | None = None
    invalid: int | None = None
    paths: list[int] | None = None  # older recordings: the path events' numbers (they depend on scheduling)
    failed: int | None = None


class TrialData(EventData):
    """`trial`: one Reflexion trial (a child run `run_id`) and the evaluator's verdict."""

    run_id: str | None = None
    answer: str | None = None
    success: bool | None = None
    score: float | None = None
    feedback: str = ""
    how: str = ""


class MemoryReadData(EventData):
    """`memory_read`: reflections read from episodic memory (`ids` are the memory rows)."""

    namespace: str
    reflections: list[str]
    ids: list[int]


class MemoryWriteData(EventData):
    """`memory_write`: a reflection stored under `namespace`."""

    namespace: str


class AnswerData(EventData):
    """`answer`: the run's final answer and whether it was judged correct."""

    answer: str | None = None
    correct: bool | None = None
    metrics: dict[str, float] | None = None
    eval_error: str | None = None  # why the answer could not be judged (its check failed to run)


class InfoData(BaseModel):
    """`info`: free-form notes (any keys)."""

    model_config = ConfigDict(extra="allow")

    def items(self) -> dict[str, Any]:
        """The notes as a dict."""
        return dict(self.model_extra or {})
