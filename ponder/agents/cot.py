"""Chain-of-Thought: one reasoning pass, zero-shot ("Let's think step by step") or few-shot."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field

from ponder.agents._parsing import extract_answer
from ponder.agents._prompts import (
    COT_ANSWER_FORMAT,
    COT_EXEMPLAR,
    COT_FEW_SHOT,
    COT_SYSTEM,
    COT_TRIGGER,
    COT_ZERO_SHOT,
)
from ponder.agents.base import BaseAgent, RunContext
from ponder.types import Completion, CompletionRequest, Message, Result, Task


class Exemplar(BaseModel):
    """One worked example for few-shot CoT."""

    question: str
    reasoning: str
    answer: str


class CoT(BaseAgent):
    """Chain-of-Thought prompting with answer extraction.

    exemplars: worked examples; none means zero-shot with `trigger`.
    """

    name: ClassVar[str] = "cot"

    exemplars: list[Exemplar] = Field(default_factory=list)
    system: str = COT_SYSTEM
    trigger: str = COT_TRIGGER
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=512, ge=1)

    def prompt(self, task: Task) -> list[Message]:
        """The messages CoT sends for `task`."""
        if self.exemplars:
            shots = "\n\n".join(
                COT_EXEMPLAR.substitute(question=e.question, reasoning=e.reasoning, answer=e.answer)
                for e in self.exemplars
            )
            user = COT_FEW_SHOT.substitute(exemplars=shots, question=task.input)
        else:
            user = COT_ZERO_SHOT.substitute(question=task.input, format=COT_ANSWER_FORMAT, trigger=self.trigger)
        return [Message.system(self.system), Message.user(user)]

    def request(
        self, task: Task, *, temperature: float | None = None, n: int = 1, seed: int | None = None
    ) -> CompletionRequest:
        return CompletionRequest(
            messages=tuple(self.prompt(task)),
            temperature=self.temperature if temperature is None else temperature,
            max_tokens=self.max_tokens,
            n=n,
            seed=seed,
        )

    def result_from_text(self, text: str, ctx: RunContext, *, parent: int | None = None) -> Result:
        """Record the reasoning as a thought and extract the answer from it."""
        answer = extract_answer(text)
        ctx.event(
            "thought",
            "reasoning",
            text,
            parent=ctx.parent if parent is None else parent,
            status="ok" if answer is not None else "invalid",
            data={"text": text, "answer": answer},
        )
        return Result(answer=answer, status="ok")

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        completion: Completion = await ctx.complete(self.request(task), label="cot")
        return self.result_from_text(completion.text, ctx)
