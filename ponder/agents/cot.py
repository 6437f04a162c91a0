"""Chain-of-Thought: one reasoning pass, zero-shot ("Let's think step by step") or few-shot."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

from ponder.agents._prompts import (
    COT_ANSWER_FORMAT,
    COT_EXEMPLAR,
    COT_FEW_SHOT,
    COT_SYSTEM,
    COT_TRIGGER,
    COT_ZERO_SHOT,
    IO_ANSWER_FORMAT,
    IO_EXEMPLAR,
    IO_FEW_SHOT,
    IO_SYSTEM,
    IO_ZERO_SHOT,
)
from ponder.envs.base import Env
from ponder.parsing import extract_answer
from ponder.runtime.base import BaseAgent
from ponder.runtime.context import RunContext
from ponder.runtime.env import build_env
from ponder.types import Completion, CompletionRequest, Message, Result, Task

COT_NO_ANSWER = "no answer: the reasoning did not state an answer"
COT_CUT_NO_ANSWER = (
    "no answer: the reply stopped at max_tokens before it stated one (give more with --set max_tokens=N)"
)


class Exemplar(BaseModel):
    """One worked example for few-shot CoT."""

    question: str
    reasoning: str
    answer: str


def _with_lessons(task: Task, prompt: str) -> str:
    """An env's own prompt (built from the task's metadata, not its input) with the lessons a caller put
    in `metadata["lessons"]` (Reflexion's reflections, which otherwise go before the input) first."""
    lessons = task.metadata.get("lessons")
    return f"{lessons}\n\n{prompt}" if isinstance(lessons, str) and lessons.strip() else prompt


class CoT(BaseAgent):
    """Chain-of-Thought prompting with answer extraction.

    exemplars: worked examples; none means zero-shot with `trigger`.
    style: `cot` (reason, then answer) or `io` (standard prompting: the answer directly, the
        baseline CoT is compared with; with an env, the env's own IO prompt — Game of 24's 5-shot).
    env / env_config: the env whose CoT prompt and answer format to use; unset, the run's env
        (`ctx.env`), if any.
    """

    name: ClassVar[str] = "cot"

    exemplars: list[Exemplar] = Field(default_factory=list)
    style: Literal["cot", "io"] = "cot"
    system: str = COT_SYSTEM
    trigger: str = COT_TRIGGER
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=512, ge=1)
    env: str | None = None
    env_config: dict[str, Any] = Field(default_factory=dict)

    def env_option(self) -> Env | None:
        """The env `env` / `env_config` name (built), or None: the run's env (`ctx.env`) is used."""
        return None if self.env is None else build_env(self.env, self.env_config)

    def prompt(self, task: Task, env: Env | None = None) -> list[Message]:
        """The messages CoT sends for `task` (the env's own CoT or IO prompt where `env` has one)."""
        if self.style == "io":
            return self._io_prompt(task, env)
        own = env.cot_prompt(task) if env is not None else None
        if own is not None:
            return [Message.user(_with_lessons(task, own))]
        if self.exemplars:
            shots = "\n\n".join(
                COT_EXEMPLAR.substitute(question=e.question, reasoning=e.reasoning, answer=e.answer)
                for e in self.exemplars
            )
            user = COT_FEW_SHOT.substitute(exemplars=shots, question=task.input)
        else:
            user = COT_ZERO_SHOT.substitute(question=task.input, format=COT_ANSWER_FORMAT, trigger=self.trigger)
        return [Message.system(self.system), Message.user(user)]

    def _io_prompt(self, task: Task, env: Any) -> list[Message]:
        own = env.io_prompt(task) if env is not None else None
        if own is not None:
            return [Message.user(_with_lessons(task, own))]
        if self.exemplars:
            shots = "\n\n".join(IO_EXEMPLAR.substitute(question=e.question, answer=e.answer) for e in self.exemplars)
            return [
                Message.system(IO_SYSTEM),
                Message.user(IO_FEW_SHOT.substitute(exemplars=shots, question=task.input)),
            ]
        return [
            Message.system(IO_SYSTEM),
            Message.user(IO_ZERO_SHOT.substitute(question=task.input, format=IO_ANSWER_FORMAT)),
        ]

    def request(
        self,
        task: Task,
        env: Env | None = None,
        *,
        temperature: float | None = None,
        n: int = 1,
        seed: int | None = None,
    ) -> CompletionRequest:
        """The request for `task` on `env` (the run's, `ctx.env`)."""
        return CompletionRequest(
            messages=tuple(self.prompt(task, env)),
            temperature=self.temperature if temperature is None else temperature,
            max_tokens=self.max_tokens,
            n=n,
            seed=seed,
        )

    def answer_of(self, text: str, env: Env | None = None, *, cut: bool = False) -> str | None:
        """The answer a reply gives, extracted as `env` says where it has a way, else generically.

        cut: the reply stopped at `max_tokens`; generically only a stated answer counts then
        (`Env.extract_cut_answer`), not the last number of reasoning that was cut off.
        """
        if env is None:
            return extract_answer(text, last_number=not cut)
        return env.extract_cut_answer(text) if cut else env.extract_answer(text)

    def result_from_text(
        self, text: str, ctx: RunContext, *, parent: int | None = None, cut: bool = False
    ) -> Result:
        """Record the reasoning as a thought and extract the answer from it (as the run's env says).

        cut: the reply stopped at `max_tokens` (see `answer_of`).
        """
        answer = self.answer_of(text, ctx.env, cut=cut)
        ctx.event(
            "thought",
            "reasoning",
            text,
            parent=ctx.parent if parent is None else parent,
            status="ok" if answer is not None else "invalid",
            data={"text": text, "answer": answer},
        )
        error = None if answer is not None else COT_CUT_NO_ANSWER if cut else COT_NO_ANSWER
        return Result(answer=answer, status="ok", error=error)

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        completion: Completion = await ctx.complete(self.request(task, ctx.env), label="cot")
        return self.result_from_text(completion.text, ctx, cut=completion.choices[0].cut)
