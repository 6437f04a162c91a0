"""LLMCompiler's plan: numbered tool calls with `$N` references, parsed line by line as the text arrives,
and the joiner's decision. Untrusted model text: a line that cannot be read is a task that failed with
its reason (the joiner sees it), never an exception.

    1. search("Lionel Messi")
    2. search("Cristiano Ronaldo")
    3. join()

After SqueezeAILab/LLMCompiler, src/llm_compiler/output_parser.py (MIT License, Copyright (c) 2023
SqueezeAILab): the action pattern `N. tool(args)`, `$N` / `${N}` references, `join()` ends a plan.
"""

from __future__ import annotations

import ast
import re
from typing import Any, Literal

from pydantic import BaseModel, Field

from ponder.parsing import answer_value
from ponder.traces.event_data import EventData
from ponder.traces.kinds import declare_kind

TaskStatus = Literal["pending", "running", "done", "failed"]
RESULT_LIMIT = 1200

_ACTION = re.compile(r"^\s*(\d+)\s*\.\s*(\w+)\s*\((.*)\)\s*(?:#.*)?$")
_NUMBERED = re.compile(r"^\s*(\d+)\s*\.")
_THOUGHT = re.compile(r"^\s*Thought\s*:\s*(.*)$", re.IGNORECASE)
_REF = re.compile(r"\$\{?(\d+)\}?")


class CompilerTask(BaseModel):
    """One task of a plan: its number, the tool and its argument (with `$N` unresolved), the tasks it needs."""

    idx: int
    tool: str
    args: Any = None
    deps: list[int] = Field(default_factory=list)
    thought: str | None = None
    status: TaskStatus = "pending"
    result: str | None = None
    error: str | None = None

    @property
    def is_join(self) -> bool:
        return self.tool == "join"

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    def outcome(self) -> str:
        if self.status == "done":
            text = self.result or ""
            return text if len(text) <= RESULT_LIMIT else text[: RESULT_LIMIT - 1] + "…"
        return f"(failed: {self.error or 'no result'})"


def _literal(args: str) -> tuple[Any, str | None]:
    """The call's argument: one value (a string, a number) or a list of them; or the reason it cannot be read."""
    if not args.strip():
        return None, None
    try:
        value = ast.literal_eval(args.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None, f'the arguments {args.strip()[:80]!r} are not literals (write tool("text"))'
    if isinstance(value, tuple):
        value = list(value)
        if len(value) == 1:
            value = value[0]
    return value, None


def parse_line(line: str, thought: str | None, seen: set[int]) -> CompilerTask | None:
    """The task on one plan line; None when the line is no task (a thought, a blank, prose)."""
    m = _ACTION.match(line)
    if m is None:
        n = _NUMBERED.match(line)
        if n is None:
            return None
        unread = f'line {line.strip()[:80]!r} is not a call `N. tool("argument")`'
        return CompilerTask(idx=int(n.group(1)), tool="?", status="failed", error=unread, thought=thought)
    idx, tool, raw = int(m.group(1)), m.group(2), m.group(3)
    task = CompilerTask(idx=idx, tool=tool, thought=thought)
    if idx in seen:
        task.status, task.error = "failed", f"task {idx} is numbered twice"
        return task
    if tool == "join":
        task.deps = sorted(seen)
        return task
    task.args, why = _literal(raw)
    deps = sorted({int(d) for d in _REF.findall(raw)})
    bad = [d for d in deps if d not in seen or d >= idx]
    if why is None and bad:
        why = f"${bad[0]} names no earlier task"
    task.deps = [d for d in deps if d not in bad]
    if why is not None:
        task.status, task.error = "failed", why
    return task


class PlanStream:
    """Parses a plan as its text arrives: `feed` gives the tasks of the lines completed so far, `close` the rest.

    Everything after `join()` is ignored; `joined` says whether the plan ended with one.
    """

    def __init__(self) -> None:
        self._buffer = ""
        self._thought: str | None = None
        self.seen: set[int] = set()
        self.joined = False

    def feed(self, chunk: str) -> list[CompilerTask]:
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split("\n")
        return self._lines(lines)

    def close(self) -> list[CompilerTask]:
        rest, self._buffer = self._buffer, ""
        return self._lines([rest])

    def _lines(self, lines: list[str]) -> list[CompilerTask]:
        out: list[CompilerTask] = []
        for line in lines:
            if self.joined:
                break
            t = _THOUGHT.match(line)
            if t is not None:
                self._thought = t.group(1).strip() or None
                continue
            task = parse_line(line, self._thought, self.seen)
            if task is None:
                continue
            self._thought = None
            if task.idx in self.seen:  # a duplicate number keeps the first task; the second is reported
                task.idx = max(self.seen) + 1
            self.seen.add(task.idx)
            if task.is_join:
                self.joined = True
            else:
                out.append(task)
        return out


def resolve(value: Any, results: dict[int, str]) -> Any:
    """`value` with each `$N` in its strings replaced by task N's result."""
    if isinstance(value, str):
        return _REF.sub(lambda m: results.get(int(m.group(1)), m.group(0)), value)
    if isinstance(value, list):
        return [resolve(v, results) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, results) for k, v in value.items()}
    return value


class Decision(BaseModel):
    """The joiner's reply: finish with an answer, replan (with a reason), or unreadable."""

    kind: Literal["finish", "replan", "invalid"]
    answer: str | None = None
    reason: str | None = None


_FINISH = re.compile(r"Finish\s*\((.*)\)\s*$", re.IGNORECASE | re.DOTALL)
_REPLAN = re.compile(r"Replan\s*\((.*)\)\s*$", re.IGNORECASE | re.DOTALL)


def parse_decision(text: str) -> Decision:
    """Read the joiner's `Action: Finish(answer)` or `Action: Replan(reason)` (the last action line counts)."""
    for line in reversed([x.strip() for x in text.strip().splitlines() if x.strip()]):
        body = re.sub(r"^\s*Action\s*:\s*", "", line, flags=re.IGNORECASE)
        if (m := _FINISH.match(body)) is not None:
            stated = m.group(1).strip().strip("\"'").strip()
            answer = answer_value(stated)
            if answer:
                return Decision(kind="finish", answer=answer)
            why = "Finish() with only a placeholder, not an answer" if stated else "Finish() without an answer"
            return Decision(kind="invalid", reason=why)
        if (m := _REPLAN.match(body)) is not None:
            return Decision(kind="replan", reason=m.group(1).strip().strip("\"'") or None)
    return Decision(kind="invalid", reason="no action found (reply `Action: Finish(<answer>)` or `Action: Replan()`)")


class CompilerPlanData(EventData):
    """`compiler_plan`: one plan of LLMCompiler's planner (round 0 the first): its tasks as parsed."""

    round: int
    tasks: list[CompilerTask] = Field(default_factory=list)
    joined: bool = False


class CompilerTaskData(EventData):
    """`compiler_task`: one task of a plan — the tool call, the tasks it waited for, and how it went."""

    round: int
    idx: int
    tool: str
    args: Any = None
    deps: list[int] = Field(default_factory=list)
    status: TaskStatus = "pending"
    result: str | None = None
    error: str | None = None


class CompilerJoinData(EventData):
    """`compiler_join`: the joiner's decision after a plan's tasks: finish, replan or invalid."""

    round: int
    decision: str
    answer: str | None = None
    reason: str | None = None
    refused: bool = False


def _plan_detail(d: CompilerPlanData) -> str | None:
    done = sum(1 for t in d.tasks if t.status == "done")
    return f"round {d.round}: {done}/{len(d.tasks)} tasks done" + ("" if d.joined else " (no join())")


def _task_detail(d: CompilerTaskData) -> str | None:
    after = f" after ${', $'.join(map(str, d.deps))}" if d.deps else ""
    return f"[{d.status}]{after}"


declare_kind(
    "compiler_plan",
    data=CompilerPlanData,
    tag="plan",
    style="bold blue",
    describe=_plan_detail,
    legend="plan: one LLMCompiler plan (numbered tool calls, $N references), its tasks done of all",
    doc="an LLMCompiler plan and its tasks' status",
)
declare_kind(
    "compiler_task",
    data=CompilerTaskData,
    tag="task",
    style="blue",
    describe=_task_detail,
    legend="task: one tool call of an LLMCompiler plan, started once the tasks it names ($N) are done",
    doc="one tool call of an LLMCompiler plan",
)
declare_kind(
    "compiler_join",
    data=CompilerJoinData,
    tag="join",
    style="magenta",
    doc="LLMCompiler's joiner: finish with an answer or replan",
)
