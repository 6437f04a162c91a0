"""Plan-and-execute's plan: steps with dependencies and status, and the parsers for the planner's
and the replanner's replies (untrusted model text: every failure is a reason, never an exception).

A plan is numbered lines; a step may name the steps whose results it needs, LLMCompiler-style:

    1. Find the population of France.
    2. Find the population of Spain.
    3. Add the two populations. (after 1, 2)

Steps that name none are independent of each other and may run at once.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

from ponder.parsing import answer_value
from ponder.traces.event_data import EventData
from ponder.traces.kinds import declare_kind

StepStatus = Literal["pending", "running", "done", "failed"]
STEP_TEXT_LIMIT = 500
RESULT_LIMIT = 1500


class PlanStep(BaseModel):
    """One step of a plan: its id (unique in the run), what to do, the steps it needs, how it went."""

    id: int
    text: str
    after: list[int] = Field(default_factory=list)
    status: StepStatus = "pending"
    result: str | None = None
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    def outcome(self) -> str:
        """What the step gave, as later prompts show it."""
        if self.status == "done":
            return _clip(self.result or "", RESULT_LIMIT)
        return f"(failed: {self.error or 'no result'})"


class PlanData(EventData):
    """The data of a `plan` event: one revision of the plan (revision 0 is the planner's)."""

    revision: int
    steps: list[PlanStep]
    reason: str | None = None  # why the plan could not be used, when it could not
    raw: str | None = None  # the model's text, kept when it was unusable


class StepData(EventData):
    """The data of a `plan_step` event: one step being executed by the inner agent."""

    id: int
    text: str
    after: list[int] = Field(default_factory=list)
    revision: int
    status: StepStatus
    result: str | None = None
    error: str | None = None


DecisionKind = Literal["finish", "continue", "revise", "invalid"]


class Decision(BaseModel):
    """What the replanner decided: finish with an answer, continue the plan, revise it, or nothing usable."""

    kind: DecisionKind
    answer: str | None = None
    plan_text: str = ""
    reason: str | None = None


class ReplanData(EventData):
    """The data of a `replan` event: the replanner's decision after a round of steps."""

    round: int
    decision: DecisionKind
    revision: int  # the plan revision in force after this decision
    answer: str | None = None
    reason: str | None = None
    refused: bool = False  # a revision asked for after max_replans was used up


def _plan_detail(p: PlanData) -> str | None:
    if p.reason is not None:
        return None
    done = sum(1 for s in p.steps if s.status == "done")
    failed = sum(1 for s in p.steps if s.status == "failed")
    return f"r{p.revision} · {done}/{len(p.steps)} done" + (f", {failed} failed" if failed else "")


def _step_detail(s: StepData) -> str | None:
    after = f" after {', '.join(map(str, s.after))}" if s.after else ""
    return f"[{s.status}{after}]"


def _replan_detail(r: ReplanData) -> str | None:
    return f"round {r.round} → r{r.revision}" + (" refused" if r.refused else "")


declare_kind(
    "plan",
    data=PlanData,
    style="bold blue",
    describe=_plan_detail,
    legend="plan: one revision of a plan-and-execute plan (r0 the planner's), its steps done of all",
    doc="a plan (one revision) and its steps' status",
)
declare_kind(
    "plan_step",
    data=StepData,
    tag="step",
    style="blue",
    describe=_step_detail,
    legend="step: one plan step run by the executor [pending/running/done/failed, after the steps it needs]",
    doc="one plan step executed by the inner agent",
)
declare_kind(
    "replan",
    data=ReplanData,
    style="magenta",
    describe=_replan_detail,
    doc="the replanner's decision after a round: finish, continue or revise",
)

_STEP_LINE = re.compile(
    r"^\s*(?:[-*>]\s*)?(?:\*\*)?\s*(?:step\s*)?(?P<n>\d{1,3})\s*[.):\]]\s*(?:\*\*)?\s*(?P<text>.*?)\s*$",
    re.IGNORECASE,
)
_AFTER = re.compile(
    r"\(\s*(?:after|depends\s+on|needs|uses|using|requires)\s*:?\s*(?:steps?|#|\$)?\s*(?P<refs>[#$\d,\s]*(?:and\s+[#$]?\d+)?)\s*\)",
    re.IGNORECASE,
)
# a bullet under a numbered step (a small model writes a heading, then what to do in bullets): part of that step
_SUB_LINE = re.compile(r"^\s*[-*•+]\s+(?P<text>\S.*?)\s*$")
_NONE = re.compile(r"\(\s*(?:independent|no\s+dependencies|none)\s*\)", re.IGNORECASE)
_DECISION = re.compile(r"^[\s*#>_`-]*(?P<kind>finish|continue|keep|revise|replan)\b[\s*_`]*:?\s*(?P<rest>.*)$",
                       re.IGNORECASE | re.MULTILINE)  # fmt: skip
# the replanner prompt's own words after `FINISH:` ("followed by the final answer ..."), echoed by a small model
_ECHOED_FORM = re.compile(r"^followed\s+by\b", re.IGNORECASE)
_ANSWER_LINE = re.compile(r"^[\s*]*(?:final\s+)?answer[\s*]*:\s*(?P<a>.+)$", re.IGNORECASE | re.MULTILINE)


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[:n] + " …"


def _clean(s: str) -> str:
    """One line of model text without control characters or markdown emphasis around it."""
    s = "".join(ch if ch.isprintable() else " " for ch in s)
    return " ".join(s.replace("**", "").split()).strip()


def parse_plan(
    text: str,
    *,
    first_id: int,
    done: dict[int, PlanStep] | None = None,
    sequential: bool = False,
) -> tuple[list[PlanStep], str | None]:
    """The steps of a numbered plan, with fresh ids from `first_id`; (steps, None) or ([], reason).

    done: steps already finished, which a revision's steps may name in `(after N)`; a number the
        new plan itself uses refers to the new step.
    sequential: each step needs the one before it (dependency notes are ignored).
    """
    done = done or {}
    lines: list[tuple[int, list[str]]] = []  # each step's number and its lines (the bullets under it too)
    for line in (text or "").splitlines():
        m = _STEP_LINE.match(line)
        if m is not None:
            lines.append((int(m.group("n")), [m.group("text")]))
        elif lines and (sub := _SUB_LINE.match(line)) is not None:
            lines[-1][1].append(sub.group("text"))
    written: list[tuple[int, str, list[int]]] = []
    for n, parts in lines:
        body = " ".join(parts)
        refs: list[int] = []
        for dep in _AFTER.finditer(body):
            refs += [int(x) for x in re.findall(r"\d+", dep.group("refs"))]
        body = _NONE.sub("", _AFTER.sub("", body))
        written.append((n, _clean(body), refs))
    if not written:
        return [], "no numbered steps found (write one step per line: '1. ...')"
    local: dict[int, int] = {}
    steps: list[PlanStep] = []
    for i, (n, body, refs) in enumerate(written):
        if n in local:
            return [], f"step number {n} appears twice"
        if not body:
            return [], f"step {n} says nothing to do"
        sid = first_id + i
        after: list[int] = []
        if sequential:
            after = [steps[-1].id] if steps else []
        else:
            numbers = {w for w, _, _ in written}
            for r in dict.fromkeys(refs):
                if r in local:
                    after.append(local[r])
                elif r in numbers:
                    return [], f"step {n} needs step {r}, which comes later or is itself"
                elif r in done:
                    after.append(r)
                else:
                    return [], f"step {n} needs step {r}, which does not exist"
        local[n] = sid
        steps.append(PlanStep(id=sid, text=_clip(body, STEP_TEXT_LIMIT), after=after))
    return steps, None


def parse_decision(text: str) -> Decision:
    """Read the replanner's reply: `FINISH: answer`, `CONTINUE`, or `REVISE:` with numbered steps."""
    text = text or ""
    m = _DECISION.search(text)
    if m is not None:
        kind = m.group("kind").lower()
        rest = m.group("rest").strip()
        after = text[m.end() :].strip()
        if kind == "finish":
            stated = _clean(rest) or _clean(next((ln for ln in after.splitlines() if ln.strip()), ""))
            if _ECHOED_FORM.match(stated):
                return Decision(kind="invalid", reason="FINISH with the prompt's own words, not an answer")
            answer = answer_value(stated)
            if not answer:
                why = "FINISH with only a placeholder, not an answer" if stated else "FINISH without an answer"
                return Decision(kind="invalid", reason=why)
            return Decision(kind="finish", answer=answer)
        if kind in ("continue", "keep"):
            return Decision(kind="continue")
        return Decision(kind="revise", plan_text=f"{rest}\n{after}".strip())
    am = _ANSWER_LINE.search(text)
    answer = answer_value(_clean(am.group("a"))) if am is not None else None
    if answer:
        return Decision(kind="finish", answer=answer)
    if any(_STEP_LINE.match(line) for line in text.splitlines()):
        return Decision(kind="revise", plan_text=text)
    return Decision(kind="invalid", reason="no decision found (reply FINISH: <answer>, CONTINUE, or REVISE: <steps>)")


def render_plan(steps: list[PlanStep], *, status: bool = True) -> str:
    """The plan as prompts show it: numbered steps with their dependencies (and status)."""
    lines = []
    for s in steps:
        after = f" (after {', '.join(map(str, s.after))})" if s.after else ""
        lines.append(f"{s.id}. {s.text}{after}" + (f" [{s.status}]" if status else ""))
    return "\n".join(lines)


def render_results(steps: list[PlanStep]) -> str:
    """The finished steps and what each gave, as prompts show them."""
    done = [s for s in steps if s.finished]
    if not done:
        return "(none yet)"
    return "\n".join(f"Step {s.id} ({s.text}): {s.outcome()}" for s in done)
