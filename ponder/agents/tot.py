"""Tree-of-Thoughts (Yao et al. 2023): search over thought states, composed from three parts.

The search (`bfs`/`dfs`, in `tot_search`), the generator (`propose`/`sample`, in `tot_generate`)
and the evaluator (`value`/`vote`, in `tot_evaluate`) are separate objects chosen by config;
the thing searched is a `ThoughtProblem` (`tot_problem`), supplied by the env where it has one.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from ponder import registry
from ponder.agents.base import BaseAgent
from ponder.agents.context import RunContext
from ponder.agents.tot_evaluate import ValueEvaluator, VoteEvaluator
from ponder.agents.tot_generate import Proposer, Sampler
from ponder.agents.tot_problem import GenericThoughts, ThoughtProblem
from ponder.agents.tot_search import BFS, DFS
from ponder.agents.tot_tree import Evaluator, Generator, ThoughtTree
from ponder.errors import ConfigError
from ponder.parsing import extract_answer
from ponder.types import CompletionRequest, Message, Result, Task

# the names the ToT paper's code uses for these settings
_PAPER_NAMES = {"n_select_sample": "breadth", "steps": "depth", "n_evaluate_sample": "n_evaluate"}


class TreeOfThoughts(BaseAgent):
    """Tree-of-Thoughts: generate, evaluate and search thought states; the tree is recorded node by node.

    env: an env whose prompts, step checker and default settings to use (`game24` gives the
        paper's: propose, value x3, BFS breadth 5, depth 4); None for generic prompts.
    breadth: states kept per level in BFS (the paper's n_select_sample).
    depth: levels (the paper's steps). n_generate_sample: samples per state for `sample`.
    n_evaluate / n_vote: samples per value / vote. value_threshold, max_steps: for DFS.
    """

    name: ClassVar[str] = "tot"

    env: str | None = None
    method_generate: Literal["propose", "sample"] = "propose"
    method_evaluate: Literal["value", "vote"] = "value"
    search: Literal["bfs", "dfs"] = "bfs"
    breadth: int = Field(default=3, ge=1)
    depth: int = Field(default=3, ge=1)
    n_generate_sample: int = Field(default=3, ge=1)
    n_evaluate: int = Field(default=3, ge=1)
    n_vote: int = Field(default=5, ge=1)
    value_threshold: float = 1.0
    max_steps: int = Field(default=30, ge=1)
    n_propose: int = Field(default=3, ge=1, description="steps the generic propose prompt asks for")
    cache_value: bool = True
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(default=512, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _env_defaults(cls, data: Any) -> Any:
        # the ToT code's names are accepted too; `--set env=game24` brings the env's settings,
        # and anything set explicitly wins over them
        if isinstance(data, dict):
            data = {_PAPER_NAMES.get(k, k): v for k, v in data.items()}
        if isinstance(data, dict) and data.get("env"):
            env_cls = registry.load("envs", str(data["env"]))
            defaults = env_cls.tot_defaults
            data = {**defaults, **data}
        return data

    # -- composition ------------------------------------------------------------------------

    def _env(self) -> Any:
        if self.env is None:
            return None
        env = registry.load("envs", self.env)()
        if not env.searchable:
            raise ConfigError(f"env {self.env!r} has no Tree-of-Thoughts problem; run tot without env")
        return env

    def problem(self, task: Task, env: Any = None) -> ThoughtProblem:
        """The thing searched: the env's problem for `task`, else generic prompts."""
        if env is None:
            return GenericThoughts(task.input, k=self.n_propose)
        problem: ThoughtProblem = env.thought_problem(task)
        return problem

    def request(self, prompt: str) -> CompletionRequest:
        """One user message with this agent's sampling settings."""
        return CompletionRequest(
            messages=(Message.user(prompt),), temperature=self.temperature, max_tokens=self.max_tokens
        )

    def generator(self) -> Generator:
        """The generator `method_generate` names."""
        if self.method_generate == "propose":
            return Proposer(self.request)
        return Sampler(self.request, self.n_generate_sample)

    def evaluator(self) -> Evaluator:
        """The evaluator `method_evaluate` names (a new one per run: it holds the value cache)."""
        if self.method_evaluate == "value":
            return ValueEvaluator(self.request, self.n_evaluate, cache=self.cache_value)
        return VoteEvaluator(self.request, self.n_vote)

    def searcher(self) -> BFS | DFS:
        """The search `search` names."""
        if self.search == "bfs":
            return BFS(self.breadth, self.depth)
        return DFS(self.depth, self.value_threshold, self.max_steps)

    # -- the run ----------------------------------------------------------------------------

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        """Search the tree, mark the chosen path, and answer (asking for one if the env has a final step)."""
        env = self._env()
        problem = self.problem(task, env)
        evaluator = self.evaluator()
        tree = ThoughtTree(problem, ctx, self.generator(), evaluator, task.input)
        chosen = await self.searcher().run(tree)
        answer = problem.answer(chosen.y) if chosen is not None else None
        if chosen is not None and answer is None:
            prompt = problem.final_prompt(chosen.y)
            if prompt is not None:
                c = await ctx.complete(self.request(prompt), label="final answer", parent=chosen.seq)
                answer = extract_answer(c.text)
                ctx.event(
                    "thought",
                    "final answer",
                    c.text,
                    parent=chosen.seq,
                    status="ok" if answer is not None else "invalid",
                    data={"text": c.text, "answer": answer},
                )
        tree.finish(chosen if answer is not None else None)
        correct = None
        if env is not None:
            correct = env.evaluate(task, answer).correct
        g = tree.graph
        meta = {
            "nodes": g.number_of_nodes() - 1,
            "invalid": tree.invalid,
            "expansions": tree.expansions,
            "chosen_path": [n.line for n in tree.path(chosen)][1:] if chosen is not None else [],
            "value_calls_saved": getattr(evaluator, "calls_saved", 0),
        }
        return Result(
            answer=answer,
            correct=correct,
            score=None if correct is None else float(correct),
            status="ok",
            metadata=meta,
        )
