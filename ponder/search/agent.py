"""A strategy composed from the search layer: a world model, a search config and an algorithm.

`SearchAgent` is the config users set with `--set` (flat keys, validated per algorithm) and
the run that composes the pieces: the problem (an env's `thought_problem`, else generic) is the
world model, its prompts are the operators of the search config, and `search` names a registered
algorithm. `tot`, `mcts` and `beam` are subclasses that differ only in the algorithm they take.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from ponder import registry
from ponder.envs.abilities import as_searchable
from ponder.envs.base import Env
from ponder.errors import ConfigError
from ponder.parsing import extract_answer
from ponder.runtime.base import BaseAgent
from ponder.runtime.context import RunContext
from ponder.runtime.env import build_env
from ponder.search.base import EnvReward, Search, SearchResult
from ponder.search.bfs import BFS, BFSSettings
from ponder.search.config import Evaluator, Generator, SearchConfig
from ponder.search.evaluate import ValueEvaluator, VoteEvaluator
from ponder.search.generate import Proposer, Sampler
from ponder.search.graph import SearchGraph
from ponder.search.problem import GenericThoughts, ThoughtProblem
from ponder.search.settings import AnySearch, fold_search, search_keys
from ponder.types import CompletionRequest, Message, Result, Task

# the names the ToT paper's code uses for these settings
_PAPER_NAMES = {"n_select_sample": "breadth", "steps": "depth", "n_evaluate_sample": "n_evaluate"}
# the paper's code asks for at most 1000 tokens per call
FAITHFUL_MAX_TOKENS = 1000


class SearchAgent(BaseAgent):
    """Search over thought states: generate (`method_generate`), value (`method_evaluate`), search (`search`).

    env: an env whose problem, prompts and default settings to use (`game24` gives the paper's:
        propose, value x3, BFS breadth 5, depth 4). Unset: the run's env (`ctx.env`) where it has a
        tree-search problem (its problem and prompts; its default settings come only with the
        option), else generic prompts.
    search: the algorithm and its own settings, given flat (`--set search=dfs --set value_threshold=0.5`).
    n_generate_sample: samples per state for `sample`. n_evaluate / n_vote: samples per value / vote.
    n_propose: steps the generic propose prompt asks for.
    faithful: the ToT paper's algorithm exactly where the env has it (Game of 24; see docs/reproducing.md).
    """

    name: ClassVar[str] = "search"
    # the algorithm a subclass always uses (mcts, beam); None lets `search` choose
    fixed_search: ClassVar[str | None] = None
    default_search: ClassVar[str] = "bfs"

    env: str | None = None
    method_generate: Literal["propose", "sample"] = "propose"
    method_evaluate: Literal["value", "vote"] = "value"
    search: AnySearch = BFSSettings()
    n_generate_sample: int = Field(default=3, ge=1)
    n_evaluate: int = Field(default=3, ge=1)
    n_vote: int = Field(default=5, ge=1)
    n_propose: int = Field(default=3, ge=1, description="steps the generic propose prompt asks for")
    cache_value: bool = True
    faithful: bool = False
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(default=512, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _flat_settings(cls, data: Any) -> Any:
        # the ToT code's names are accepted too; `--set env=game24` brings the env's settings,
        # anything set explicitly wins over them, and the search's own keys are folded into `search`
        if not isinstance(data, dict):
            return data
        data = {_PAPER_NAMES.get(k, k): v for k, v in data.items()}
        unknown = sorted(set(data) - set(cls.model_fields) - search_keys())
        if unknown:
            options = ", ".join([*sorted((set(cls.model_fields) | search_keys()) - {"search"}), "search"])
            raise ConfigError(f"agent {cls.name!r} has no option {unknown[0]!r}; its options: {options}")
        defaults: dict[str, Any] = {}
        if data.get("env"):
            defaults = dict(registry.load("envs", str(data["env"])).tot_defaults)
        if cls.fixed_search is not None:
            given = data.get("search", cls.fixed_search)
            name = given.get("algorithm") if isinstance(given, dict) else given
            if name != cls.fixed_search:
                raise ConfigError(f"{cls.name} always searches with {cls.fixed_search}; drop search={name}")
            defaults.pop("search", None)
        explicit = dict(data)
        merged = {**{k: v for k, v in defaults.items() if k != "search"}, **data}
        merged = {k: v for k, v in merged.items() if k in explicit or k in cls.model_fields}
        folded = fold_search(merged, defaults, cls.fixed_search or cls.default_search)
        if folded.get("faithful") in (True, "true", "True", "1", 1) and "max_tokens" not in explicit:
            folded["max_tokens"] = FAITHFUL_MAX_TOKENS
        return folded

    @model_validator(mode="after")
    def _env_is_searchable(self) -> SearchAgent:
        # said when the agent is built, so a bench on a code env runs generic steps (and the env's
        # answer format) instead of failing every task
        if self.env is not None and not registry.load("envs", self.env).searchable:
            raise ConfigError(f"env {self.env!r} has no tree-search problem; run {self.name} without env")
        return self

    @model_validator(mode="after")
    def _faithful_is_the_paper_setting(self) -> SearchAgent:
        if not self.faithful:
            return self
        if self.env is None or not registry.load("envs", self.env).tot_faithful:
            raise ConfigError("faithful=true is the ToT paper's Game-of-24 algorithm; use it with env=game24")
        if self.search.algorithm != "bfs" or self.method_generate != "propose" or self.method_evaluate != "value":
            raise ConfigError(
                "faithful=true runs the paper's setting: search=bfs, method_generate=propose, method_evaluate=value"
            )
        return self

    # -- composition ------------------------------------------------------------------------

    def env_option(self) -> Env | None:
        """The env `env` names (built; it must have a tree-search problem), or None: the run's env is used."""
        if self.env is None:
            return None
        env = build_env(self.env)
        if not env.searchable:
            raise ConfigError(f"env {self.env!r} has no tree-search problem; run {self.name} without env")
        return env

    @staticmethod
    def _env(env: Env | None) -> Env | None:
        """The run's env (`ctx.env`) where it has a tree-search problem (`Searchable`)."""
        return env if as_searchable(env) is not None else None

    @staticmethod
    def _asked_format(task: Task, run_env: Env | None, problem: ThoughtProblem) -> str | None:
        """The run env's own prompt where generic steps must end in its answer format (code), else None."""
        if run_env is None or not run_env.answer_format or not isinstance(problem, GenericThoughts):
            return None
        return run_env.cot_prompt(task)

    def problem(self, task: Task, env: Any = None) -> ThoughtProblem:
        """The thing searched: the env's problem for `task`, else generic prompts."""
        if env is None:
            return GenericThoughts(task.input, k=self.n_propose)
        problem: ThoughtProblem = (
            env.thought_problem(task, faithful=True) if self.faithful else env.thought_problem(task)
        )
        return problem

    def request(self, prompt: str) -> CompletionRequest:
        """One user message with this agent's sampling settings."""
        return CompletionRequest(
            messages=(Message.user(prompt),), temperature=self.temperature, max_tokens=self.max_tokens
        )

    def generator(self, problem: ThoughtProblem) -> Generator:
        """The generator `method_generate` names, over `problem`'s prompts."""
        if self.method_generate == "propose":
            return Proposer(self.request, problem)
        return Sampler(self.request, problem, self.n_generate_sample)

    def evaluator(self, problem: ThoughtProblem) -> Evaluator:
        """The evaluator `method_evaluate` names (a new one per run: it holds the value cache)."""
        if self.method_evaluate == "value":
            return ValueEvaluator(self.request, problem, self.n_evaluate, cache=self.cache_value)
        return VoteEvaluator(self.request, problem, self.n_vote)

    def search_config(self, problem: ThoughtProblem) -> SearchConfig:
        """How actions are generated and states valued: `problem`'s prompts applied by the chosen operators."""
        return SearchConfig(self.generator(problem), self.evaluator(problem))

    def algorithm(self, env_reward: EnvReward | None = None) -> Search:
        """The algorithm `search` names (the paper's top-1 choice when faithful)."""
        if self.faithful and isinstance(self.search, BFSSettings):
            return BFS(self.search.breadth, self.search.depth, answer_first=False)
        return self.search.build(env_reward=env_reward)

    def env_reward(self, task: Task, env: Any, problem: ThoughtProblem) -> EnvReward | None:
        """The env's reward of a state: its answer judged by the env (None without an env or an answer)."""
        if env is None:
            return None

        def reward(state: str) -> float | None:
            answer = problem.answer(state)
            return None if answer is None else env.evaluate(task, answer).score

        return reward

    # -- the run ----------------------------------------------------------------------------

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        """Search, mark the chosen path, and answer (asking for one if the problem has a final step)."""
        env = self._env(ctx.env)
        problem = self.problem(task, env)
        config = self.search_config(problem)
        graph = SearchGraph(problem, ctx, task.input)
        found = await self.algorithm(self.env_reward(task, env, problem)).run(graph, config)
        chosen = found.chosen
        state = found.state if found.state is not None else chosen.state if chosen is not None else None
        # generic steps on an env with its own answer format (code): the answer is asked for in that format
        asked = self._asked_format(task, ctx.env, problem)
        answer = problem.answer(state) if state is not None and asked is None else None
        source = problem.answer_source(state) if state is not None and asked is None else ""
        if chosen is not None and answer is None:
            prompt = (
                problem.final_prompt(chosen.state)
                if asked is None or not isinstance(problem, GenericThoughts)
                else problem.final_prompt_as_asked(chosen.state, asked)
            )
            if prompt is not None:
                c = await ctx.complete(self.request(prompt), label="final answer", parent=chosen.seq)
                answer = extract_answer(c.text) if asked is None or ctx.env is None else ctx.env.extract_answer(c.text)
                source = "final prompt" if answer is not None else ""
                ctx.event(
                    "thought",
                    "final answer",
                    c.text,
                    parent=chosen.seq,
                    status="ok" if answer is not None else "invalid",
                    data={"text": c.text, "answer": answer},
                )
        graph.finish(chosen if answer is not None else None)
        correct, metrics = None, None
        if env is not None:
            judged = env.evaluate(task, answer)
            correct, metrics = judged.correct, dict(judged.metrics) or None
        meta: dict[str, Any] = {
            "nodes": graph.graph.number_of_nodes() - 1,
            "invalid": graph.invalid,
            "errors": graph.errors,
            "expansions": graph.expansions,
            "chosen_path": [n.action for n in graph.path(chosen)][1:] if chosen is not None else [],
            "value_calls_saved": getattr(config.evaluator, "calls_saved", 0),
            "answer_source": source,
        }
        if self.faithful:
            meta["finalists"] = self._record_finalists(task, env, problem, found, ctx, graph)
        return Result(
            answer=answer,
            correct=correct,
            score=None if correct is None else float(correct),
            metrics=metrics,
            status="ok",
            error=None if answer is not None else f"no answer: the {self.name} search reached no state with an answer",
            metadata=meta,
        )

    def _record_finalists(
        self, task: Task, env: Any, problem: ThoughtProblem, found: SearchResult, ctx: RunContext, graph: SearchGraph
    ) -> list[dict[str, Any]]:
        # the paper's log judges each of the b final states: "any of b" is read from this event
        rows = []
        for n in found.finalists:
            ans = problem.answer(n.state)
            rows.append({"id": n.id, "value": n.value, "answer": ans, "correct": env.evaluate(task, ans).correct})
        hits = sum(1 for r in rows if r["correct"])
        ctx.event(
            "evaluation",
            "finalists",
            f"{hits} of {len(rows)} final states correct",
            parent=graph.root.seq,
            score=float(hits > 0),
            data={"finalists": rows, "any_correct": hits > 0},
        )
        return rows
