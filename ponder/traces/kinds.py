"""Event kinds, declared once: each kind's typed `data`, how it is labelled and styled, whether it shows a score.

Everything that reads events derives from these declarations: the TUI's tree labels and
legend, `ponder show`'s Markdown, Reflexion's trajectory, and the test suite's check that
every event written has the data its kind declares. A strategy that writes a kind of its
own declares it once, next to its code::

    from ponder.traces.kinds import declare_kind
    from ponder.traces.event_data import EventData

    class StepData(EventData):
        index: int
        done: bool = False

    declare_kind("plan_step", data=StepData, tag="step", style="blue", shows_score=False,
                 describe=lambda d: "done" if d.done else None)

or, the same in one place, in the data's class statement (`ponder.traces.event_data`)::

    class StepData(EventData, kind="plan_step", tag="step", style="blue"):
        index: int
        done: bool = False

which a strategy writes with `ctx.emit(StepData(index=1), "step 1")`; and it renders properly
without any change to the TUI. A viewer need not have imported that strategy: the module that
declares a strategy's kinds is registered under the `ponder.kinds` entry-point group (a light
module: the kinds and their data, not the strategy), and the first lookup of a kind not declared
yet loads every registered kind module (through `ponder.registry`; one that fails to import is
skipped) and looks again — never the strategies themselves. A kind still not declared after that
renders with a generic tag; only validation refuses it.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from ponder.errors import ConfigError
from ponder.traces import event_data as d

# how the label and summary of an event are joined into its one line:
# "colon"  label: summary (the label is left out when it is just the kind's name)
# "dot"    label · summary (actions, calls: the label is the thing done)
# "arrow"  label → summary (a path and the answer it reached)
Body = Literal["colon", "dot", "arrow"]


class EventDataError(ConfigError, ValueError):
    """An event of an undeclared kind, or whose `data` does not match what its kind declares (one line)."""


@dataclass(frozen=True)
class KindSpec:
    """What one event kind is. `data`: its pydantic model (None: the kind carries no data).

    `tag` (short; the name by default, never cut) and `style` (a Rich style) are how lists label it; `shows_score`: the
    score is drawn next to it; `body`: how label and summary join; `describe`: a short text
    from the typed data appended to the line (a vote's tally), which makes lists read the
    data with the row (`label_data`); `legend`: one line explaining its marks and numbers;
    `trajectory`: part of what an agent did (the steps Reflexion reflects on), with
    `trajectory_text` choosing what stands for it there; `volatile`: data fields that a provider
    assigns (a native tool call's id) or that scheduling decided, which replay and diff do not compare;
    `shared_under`: the data field listing the labels of the events of this kind an event was made
    from; one made from two or more is shown under each of them too (a GoT aggregated thought).
    """

    name: str
    data: type[BaseModel] | None = None
    tag: str = ""
    style: str = ""
    shows_score: bool = False
    body: Body = "colon"
    describe: Callable[[Any], str | None] | None = None
    legend: str | None = None
    trajectory: bool = False
    trajectory_text: Literal["text", "label"] = "text"
    doc: str = ""
    volatile: frozenset[str] = frozenset()
    shared_under: str | None = None

    @property
    def label_data(self) -> bool:
        """Whether a one-line label of this kind needs the event's data (read with the listing)."""
        return self.describe is not None

    def parse(self, data: dict[str, Any] | None) -> BaseModel | None:
        """The typed data, or None when there is none or it does not validate (recordings are untrusted)."""
        if self.data is None or not isinstance(data, dict):
            return None
        try:
            return self.data.model_validate(data)
        except ValidationError:
            return None

    def detail(self, data: dict[str, Any] | None) -> str | None:
        """`describe` applied to the typed data; None when there is nothing to add or the data is bad."""
        if self.describe is None:
            return None
        parsed = self.parse(data)
        if parsed is None:
            return None
        try:
            return self.describe(parsed)
        except Exception:  # a plugin's formatter must not break a viewer
            return None


_KINDS: dict[str, KindSpec] = {}
_OWNERS: dict[str, str] = {}  # kind -> the module that declared it
_load_lock = threading.RLock()
_kinds_loaded = False
_kinds_loading = False


def _load_registered_kinds() -> None:
    """Import every registered kind module (`ponder.kinds` entry points), once per process."""
    global _kinds_loaded, _kinds_loading
    if _kinds_loaded:
        return
    with _load_lock:  # another thread looking a kind up meanwhile waits for the declarations
        if _kinds_loaded or _kinds_loading:  # loading: a module being imported looked a kind up
            return
        _kinds_loading = True
        try:
            # imported here: the trace layer does not pull the plugin machinery in until a kind is missing
            from ponder import registry

            registry.load_all("kinds")
        finally:
            _kinds_loading = False
            _kinds_loaded = True


def _lookup(name: str) -> KindSpec | None:
    """The declaration of `name`, loading the registered kind modules first if it is not declared yet."""
    spec = _KINDS.get(name)
    if spec is None and not _kinds_loaded:
        _load_registered_kinds()
        spec = _KINDS.get(name)
    return spec


def declare_kind(
    name: str,
    *,
    data: type[BaseModel] | None = None,
    tag: str | None = None,
    style: str = "",
    shows_score: bool = False,
    body: Body = "colon",
    describe: Callable[[Any], str | None] | None = None,
    legend: str | None = None,
    trajectory: bool = False,
    trajectory_text: Literal["text", "label"] = "text",
    doc: str | None = None,
    volatile: Iterable[str] = (),
    shared_under: str | None = None,
) -> KindSpec:
    """Declare event kind `name`; returns its spec. See the module docstring.

    A kind is declared once: a declaration of a name that another module declared is refused
    (`ConfigError`), so a plugin cannot replace a built-in kind (or another plugin's). The module
    that declared it may declare it again (a reload).
    """
    module = str(sys._getframe(1).f_globals.get("__name__", "?"))
    if module == d.__name__ and data is not None:  # declared by a data class's statement: its module owns it
        module = data.__module__
    owner = _OWNERS.get(name)
    if owner is not None and owner != module and name in _KINDS:
        raise ConfigError(
            f"event kind {name!r} is already declared by {owner}; {module} cannot declare it again"
            " (kinds are shared by every strategy: give yours a name of its own, e.g. prefixed with your plugin's)"
        )
    spec = KindSpec(
        name=name,
        data=data,
        tag=tag if tag is not None else name,
        style=style,
        shows_score=shows_score,
        body=body,
        describe=describe,
        legend=legend,
        trajectory=trajectory,
        trajectory_text=trajectory_text,
        doc=doc if doc is not None else ((data.__doc__ or "").strip().splitlines() or [""])[0] if data else "",
        volatile=frozenset(volatile),
        shared_under=shared_under,
    )
    _KINDS[name] = spec
    _OWNERS[name] = module
    return spec


def kind_spec(name: str) -> KindSpec:
    """The declaration of `name`; an undeclared kind gets a plain one (its name as tag, no data)."""
    spec = _lookup(name)
    return spec if spec is not None else KindSpec(name=name, tag=name)


def is_declared(name: str) -> bool:
    """Whether some module (a registered kind module included) declared `name`."""
    return _lookup(name) is not None


def label_data_kinds() -> frozenset[str]:
    """The kinds whose one-line label reads their data (lists load it for these only), strategies' kinds included."""
    _load_registered_kinds()
    return frozenset(k for k, s in _KINDS.items() if s.label_data)


def validate_data(kind: str, data: dict[str, Any] | None) -> None:
    """Raise `EventDataError` unless `kind` is declared and `data` is what it declares (None is always fine).

    The message is one line naming the kind and the first field that does not fit.
    """
    spec = _lookup(kind)
    if spec is None:
        raise EventDataError(
            f"event kind {kind!r} is not declared: declare it with ponder.traces.kinds.declare_kind before writing it"
        )
    if data is None:
        return
    if spec.data is None:
        raise EventDataError(f"a {kind!r} event declares no data, got keys {sorted(data)}")
    try:
        spec.data.model_validate(data)
    except ValidationError as e:
        errors = e.errors()
        first = errors[0]
        field = ".".join(str(p) for p in first["loc"]) or "(the data)"
        got = " ".join(repr(first.get("input"))[:80].split())
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise EventDataError(
            f"a {kind!r} event: data field {field!r}: {first['msg']} (got {got}; {spec.data.__name__}){more}"
        ) from None


def child_run_role(branch: str) -> str:
    """What a child run is called in its parent's words: the last segment of its branch name ("trial2" -> "trial 2")."""
    last = branch.rsplit("/", 1)[-1].strip()
    if not last:
        return "run"
    head = last.rstrip("0123456789")
    tail = last[len(head) :]
    if head.endswith(("-", "_")):
        head = head[:-1]
    return f"{head} {tail}" if head and tail else last


def trajectory_lines(events: Iterable[Any]) -> list[str]:
    """`Kind: text` for each event that is part of an agent's trajectory (Reflexion's view of a trial).

    `events` are `EventRecord`s with their data; a kind's `trajectory_text` says whether its
    data's `text` (falling back to the summary, then the label) or its label stands for it.
    """
    lines = []
    for ev in events:
        spec = kind_spec(ev.kind)
        if not spec.trajectory:
            continue
        if spec.trajectory_text == "label":
            body = ev.label
        else:
            text = (ev.data or {}).get("text")
            body = text if isinstance(text, str) else (ev.summary or ev.label)
        lines.append(f"{ev.kind.capitalize()}: {body}")
    return lines


# data classes that carry their kind's declaration (`class X(EventData, kind=...)`) declare it here
d.take_declarations(declare_kind)


# -- built-in kinds ------------------------------------------------------------------------------


def _tally(v: d.VoteData) -> str | None:
    if not v.tally:
        return None
    parts = sorted(v.tally.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{' '.join(k.split())[:20]}:{n}" for k, n in parts[:4])
    more = f", +{len(parts) - 4}" if len(parts) > 4 else ""
    return f"[{shown}{more} of {sum(v.tally.values())}]"


def _g(x: float | None) -> str:
    return "?" if x is None else f"{x:.3g}"


def _samples(e: d.EvaluationData) -> str | None:
    if e.votes is not None and e.nodes is not None and len(e.nodes) > 1:
        return "votes " + " ".join(f"#{n}:{_g(v)}" for n, v in zip(e.nodes, e.votes, strict=False))
    if e.samples and all(isinstance(s, d.ValueSample) for s in e.samples):
        return "samples " + " ".join(_g(s.value) for s in e.samples if isinstance(s, d.ValueSample))
    if e.from_node is not None:
        return f"same as node {e.from_node}"
    return None


def _answer(a: d.AnswerData) -> str | None:
    if a.eval_error is not None:
        return "? not judged: the check could not run"
    return None if a.correct is None else ("✓ correct" if a.correct else "✗ wrong")


def _verdict(t: d.TrialData) -> str | None:
    # a trial judged wrong is closed `error` with this verdict: viewers mark it failed, not broken
    return None if t.success is None else ("passed" if t.success else "failed")


def _node(n: d.NodeData) -> str | None:
    if n.visits is None:
        return None
    return f"N={n.visits}" + ("" if n.q is None else f" Q={n.q:.3g}")


declare_kind("llm_call", data=d.LLMCallData, tag="llm", style="cyan", body="dot", doc="one backend call")
declare_kind("thought", data=d.ThoughtData, style="blue", trajectory=True, doc="what the model wrote")
declare_kind(
    "action",
    data=d.ActionData,
    style="magenta",
    body="dot",
    trajectory=True,
    trajectory_text="label",
    doc="an action",
    volatile=("id",),  # the provider's id of a native tool call: fresh on every call
)
declare_kind("observation", data=d.TextData, tag="obs", style="yellow", trajectory=True, doc="a tool's result")
declare_kind(
    "node",
    data=d.NodeData,
    style="green",
    shows_score=True,
    describe=_node,
    legend="★ chosen ✗ pruned",
    doc="a search state",
)
declare_kind(
    "evaluation",
    data=d.EvaluationData,
    tag="eval",
    style="cyan",
    shows_score=True,
    describe=_samples,
    legend="value: mean of samples, sure=20 likely=1 impossible=0.001",
    doc="how a state was valued",
)
declare_kind(
    "backup",
    data=d.BackupData,
    style="magenta",
    shows_score=True,
    legend="the path backed up, the return at the root",
    doc="an MCTS backpropagation",
)
declare_kind(
    "rollout",
    data=d.RolloutData,
    style="blue",
    shows_score=True,
    doc="an MCTS simulation (its states are not added to the tree)",
)
declare_kind(
    "vote",
    data=d.VoteData,
    style="magenta",
    describe=_tally,
    doc="a majority vote over sampled answers",
    volatile=("paths",),  # in older recordings: event numbers, which depend on how the paths were scheduled
)
declare_kind("path", data=d.PathData, style="blue", shows_score=True, body="arrow", doc="one sampled reasoning path")
declare_kind(
    "trial",
    data=d.TrialData,
    style="magenta",
    shows_score=True,
    body="dot",
    describe=_verdict,
    doc="one Reflexion trial",
)
declare_kind("reflection", data=d.TextData, tag="reflect", style="yellow", doc="a verbal reflection on a failure")
declare_kind("memory_read", data=d.MemoryReadData, tag="mem←", style="yellow", doc="episodic memory read")
declare_kind("memory_write", data=d.MemoryWriteData, tag="mem→", style="yellow", doc="episodic memory written")
declare_kind(
    "answer",
    data=d.AnswerData,
    style="bold green",
    shows_score=True,
    describe=_answer,
    trajectory=True,
    doc="the run's final answer",
)
declare_kind("error", style="bold red", trajectory=True, doc="what went wrong")
declare_kind("info", data=d.InfoData, style="dim", doc="free-form notes")
declare_kind("step", style="bold", doc="one step of an agent loop (ReAct), its events as siblings")
