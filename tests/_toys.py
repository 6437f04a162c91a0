"""Small agents, envs and backends shared by the experiment and replay tests."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Iterator
from typing import Any, ClassVar

from pydantic import BaseModel

from ponder.agents.cot import CoT
from ponder.backends.scripted import ScriptedBackend
from ponder.envs.base import Env, Evaluation
from ponder.errors import BackendError
from ponder.runtime.base import BaseAgent
from ponder.runtime.context import RunContext
from ponder.types import CompletionRequest, Message, Result, Task, ToolSpec


class ToyEnv(Env, BaseModel):
    """Doubling questions `What is i + i?` with ids t0, t1, …"""

    name: ClassVar[str] = "toy"
    count: int = 4

    def tasks(self) -> Iterator[Task]:
        for i in range(self.count):
            yield Task(id=f"t{i}", input=f"What is {i} + {i}?", expected=str(2 * i))

    def reset(self, task: Task) -> str:
        return task.input

    def step(self, action: str) -> tuple[str, float, bool]:
        return "Nothing happens.", 0.0, True

    def evaluate(self, task: Task, answer: str | None) -> Evaluation:
        ok = answer is not None and answer.strip() == task.expected
        return Evaluation(correct=ok, score=1.0 if ok else 0.0)


def question_number(req: CompletionRequest) -> int:
    m = re.search(r"What is (\d+) \+", req.messages[-1].content)
    return int(m.group(1)) if m else -1


def adder(*, wrong: set[int] = frozenset(), fail: set[int] = frozenset()) -> ScriptedBackend:  # type: ignore[assignment]
    """A scripted model answering `i + i`: wrongly for `wrong`, with a BackendError for `fail`."""

    def answer(req: CompletionRequest) -> str:
        i = question_number(req)
        if i in fail:
            raise BackendError(f"server said 503 for question {i}")
        value = 2 * i + (1 if i in wrong else 0)
        return f"{i} plus {i} makes {value}. The answer is {value}."

    return ScriptedBackend(answer)


class Counter:
    """A tool with a side effect (it counts its calls), to prove replay never calls it."""

    name = "counter"
    description = "adds one to a counter and returns the new value"

    def __init__(self) -> None:
        self.calls = 0

    def spec(self) -> ToolSpec:
        return ToolSpec(name=self.name, description=self.description)

    async def acall(self, args: Any) -> str:
        self.calls += 1
        return f"count={self.calls} for {args}"


class FanOut(BaseAgent):
    """Explores `width` branches concurrently (each with an LLM call and a tool call), votes,
    then runs a CoT trial as a child run."""

    name: ClassVar[str] = "fanout"
    width: int = 4
    trial: bool = True

    async def branch(self, i: int, task: Task, ctx: RunContext) -> tuple[int, str]:
        node = ctx.event("node", f"branch {i}", f"exploring option {i}")
        sub = ctx.branch(i, parent=node)
        req = CompletionRequest(messages=(Message.user(f"Option {i} for: {task.input}"),), temperature=0.7)
        comp = await sub.complete(req, label=f"propose {i}")
        tool = await sub.call_tool("counter", {"branch": i})
        score = float(len(comp.text) % 7)
        sub.event("evaluation", f"value {i}", f"{comp.text} / {tool.observation}", score=score)
        return i, comp.text

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        results = await asyncio.gather(*(self.branch(i, task, ctx) for i in range(self.width)))
        best = max(sorted(results), key=lambda r: len(r[1]))
        ctx.event("info", "tally", f"best branch {best[0]}", data={"branches": [r[0] for r in results]})
        if self.trial:
            inner = await ctx.run_child(CoT(), task, "trial-1")
            return Result(answer=inner.answer or best[1])
        return Result(answer=best[1])


def shuffled_backend(seed: int = 7) -> ScriptedBackend:
    """Answers after a random number of event-loop turns, slowest for the first branches,
    so concurrent branches finish (and write events) out of order."""
    rng = random.Random(seed)

    async def answer(req: CompletionRequest) -> str:
        text = req.messages[-1].content
        m = re.match(r"Option (\d+)", text)
        turns = (10 - int(m.group(1))) * 3 + rng.randint(0, 3) if m else 0
        for _ in range(turns):
            await asyncio.sleep(0)
        if m:
            return f"idea {m.group(1)}: " + "x" * (int(m.group(1)) + 1)
        return "Let me think. 2 + 2 is 4. The answer is 4."

    return ScriptedBackend(answer)


class Remembering(BaseAgent):
    """Puts the task's past notes in its prompt and writes a new note (as Reflexion does with memory)."""

    name: ClassVar[str] = "remembering"

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        notes = [m.content for m in await ctx.memory.recent(task.id, 3)]
        ctx.event("memory_read", "notes", f"{len(notes)} notes")
        prompt = "\n".join([*notes, task.input])
        comp = await ctx.complete(CompletionRequest(messages=(Message.user(prompt),)), label="answer")
        await ctx.memory.add(task.id, f"last time I said {comp.text}")
        ctx.event("memory_write", "note", comp.text)
        return Result(answer=comp.text)


COUNTER = Counter()


class ToolEnv(ToyEnv):
    """A toy env that hands the agent a tool with a side effect."""

    name: ClassVar[str] = "toolenv"

    def tools(self, task: Task) -> dict[str, Any]:
        return {"counter": COUNTER}


class ToolUser(BaseAgent):
    """Calls the env's counter tool, then answers with the model."""

    name: ClassVar[str] = "tooluser"

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        seen = await ctx.call_tool("counter", {"task": task.id})
        ctx.event("observation", "counter", seen.observation)
        comp = await ctx.complete(CompletionRequest(messages=(Message.user(task.input),)), label="answer")
        return Result(answer=comp.text.rsplit(" ", 1)[-1].rstrip("."))
