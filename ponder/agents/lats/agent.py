"""LATS, Language Agent Tree Search (Zhou et al. 2024): Monte-Carlo tree search over ReAct-style
trajectories in an environment, with the model's value, the env's reward and self-reflection.

The pieces are the search layer's (`ponder.search`): the problem is the trajectories of a world
(`world`: an interactive env like household, a code task checked against tests the model may
see — the prompt's examples or its own tests, `feedback`, never the env's hidden tests unless
`feedback=hidden` is asked for by name (`lats_tests`) — or a question answered with tool calls),
the generator samples `n_generate` Thought/Action replies to a trajectory and takes each
distinct action in the world, the evaluator values a state as `weight × model score +
(1 − weight) × env reward` (success 1, a failed trajectory 0) and writes a reflection on every
failed trajectory; reflections go to the run's memory (Reflexion's table, namespace the task
id) and into every later expansion's and valuation's prompt. The algorithm is the search
layer's (`search`, MCTS by default: its `n_iterations`, `c`, `parallel`, … are set flat).

The answer is the first trajectory that succeeded, else the search's choice; for household it
is the actions one per line (what `evaluate` replays), for code the solution.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, model_validator

from ponder.agents.code_tests import Feedback
from ponder.agents.lats.problem import LatsProblem, Trajectory
from ponder.agents.lats.search import ReflectionSink, TrajectorySampler, TrajectoryValue
from ponder.agents.lats.search_tests import search_tests
from ponder.agents.lats.world import CodeWorld, EnvWorld, ToolWorld, World
from ponder.envs.abilities import as_interactive
from ponder.envs.base import Env
from ponder.errors import ConfigError, ToolError
from ponder.runtime.base import BaseAgent
from ponder.runtime.context import RunContext
from ponder.runtime.env import build_env, episode_env
from ponder.search.base import SearchResult
from ponder.search.config import SearchConfig
from ponder.search.graph import Node, SearchGraph
from ponder.search.mcts import MCTS
from ponder.search.settings import AnySearch, fold_search, search_keys
from ponder.tools.base import ToolOptions, build_tools, fork_tools
from ponder.types import Result, Task

DEFAULT_SEARCH = "mcts"
DEFAULT_MAX_DEPTH = 8
_CODE_KEYS = {"prompt", "entry_point", "test"}


class MemorySink(ReflectionSink):
    """Stores each reflection in episodic memory (`ctx.memory`: recorded and replayable)."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace

    async def store(self, ctx: RunContext, text: str, parent: int) -> None:
        seq = ctx.event(
            "memory_write", "memory", f"storing a reflection in {self.namespace!r}", parent=parent, status="running"
        )
        try:
            await ctx.memory.add(self.namespace, text, score=0.0, parent=seq)
        except ToolError as e:
            ctx.update(seq, status="error", summary=f"could not store the reflection: {e}")
        else:
            ctx.update(
                seq,
                status="ok",
                summary=f"stored a reflection in {self.namespace!r}",
                data={"namespace": self.namespace},
            )


class Lats(BaseAgent):
    """Tree search over ReAct-style trajectories with the model's value, the env's reward and reflections.

    env / env_config: the world (default: the run's env, `ctx.env`, else the task's): an interactive
        env (household) is acted in,
        a code env's tests are run; otherwise the actions are `tools` (registered names) and the env
        (qa, arithmetic, …) judges the answer where it knows the expected one.
    search: the algorithm and its settings, given flat (`--set n_iterations=10 --set c=1.0`).
    n_generate: actions sampled per expansion; n_evaluate: value ratings per state.
    weight: how much the model's score counts against the env's reward in a state's value.
    max_depth: actions a trajectory may take before it ends as a failure.
    stop_at_success: expand nothing more once a trajectory reached the goal (as the paper's search returns).
    memory_k: reflections from earlier runs on the task that the search starts with.
    feedback: on a code task, the tests the search checks programs against (`ponder.agents.lats.search_tests`):
        `visible` (default) the prompt's examples, `generated` tests the model writes first, `hidden` the
        env's own tests (an oracle: it leaks the evaluation into the search). The answer is always
        judged by the env's hidden tests, which only `hidden` shows the model.
    """

    name: ClassVar[str] = "lats"

    env: str | None = None
    env_config: dict[str, Any] = Field(default_factory=dict)
    tools: list[str] = Field(default_factory=lambda: ["calculator", "search", "lookup"])
    search: AnySearch
    n_generate: int = Field(default=3, ge=1, le=20)
    n_evaluate: int = Field(default=1, ge=1, le=20)
    weight: float = Field(default=0.8, ge=0.0, le=1.0)
    max_depth: int = Field(default=DEFAULT_MAX_DEPTH, ge=1, le=50)
    reflect: bool = True
    stop_at_success: bool = True
    memory_k: int = Field(default=3, ge=0)
    namespace: str | None = None
    temperature: float = Field(default=1.0, ge=0.0, le=2.0)
    value_temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=512, ge=1)
    feedback: Feedback = "visible"

    @model_validator(mode="before")
    @classmethod
    def _flat_search(cls, data: Any) -> Any:
        # the algorithm's own keys are set flat and folded into `search`, validated per algorithm
        if not isinstance(data, dict):
            return data
        unknown = sorted(set(data) - set(cls.model_fields) - search_keys())
        if unknown:
            options = ", ".join([*sorted((set(cls.model_fields) | search_keys()) - {"search"}), "search"])
            raise ConfigError(f"agent 'lats' has no option {unknown[0]!r}; its options: {options}")
        if "feedback" not in data and set(cls.model_fields) - {"feedback"} <= set(data):
            # a whole recorded config from before `feedback` existed: it searched with the env's own tests
            data = {**data, "feedback": "hidden"}
        # the search goes as deep as a trajectory may (the algorithm's own `depth`, unless set)
        return fold_search(data, {"depth": data.get("max_depth", DEFAULT_MAX_DEPTH)}, DEFAULT_SEARCH)

    # -- composition ------------------------------------------------------------------------

    def env_option(self) -> Env | None:
        """The env `env` / `env_config` name (built), or None: the run's env (`ctx.env`) is used."""
        return None if self.env is None else build_env(self.env, self.env_config)

    @staticmethod
    def _judge(task: Task, env: Env | None) -> Env:
        """The env that judges (and, interactive, is acted in): the run's (`ctx.env`), else the code env
        for a code task, else a plain one."""
        if env is not None:
            return env
        return build_env("code") if set(task.metadata) >= _CODE_KEYS else Env()

    def world(self, task: Task, ctx: RunContext, tests: str | None = None) -> World:
        """Where the task's actions go: an interactive env, a code task's tests (`tests`, else with
        `feedback="hidden"` the env's own), or tools."""
        env = self._judge(task, ctx.env)
        acting = as_interactive(env)
        if acting is not None:
            return EnvWorld(lambda: episode_env(acting), task)  # stepped on a copy of the run's env
        if env.runs_tests:
            return CodeWorld(env, task, feedback=self.feedback, tests=tests)
        if ctx.tools:
            tools = fork_tools(ctx.tools)
        else:
            beside = ctx.resource("corpus.db")
            tools = build_tools(list(self.tools), ToolOptions(corpus=None if beside is None else str(beside)))
        if not tools:
            raise ConfigError("lats acts through an env or tools: give an interactive env, code tasks, or tools")
        return ToolWorld(env, task, tools)

    def search_config(self, namespace: str) -> SearchConfig:
        """The generator (sampled ReAct actions) and the evaluator (value + reward, reflections)."""
        return SearchConfig(
            TrajectorySampler(
                self.n_generate,
                temperature=self.temperature,
                max_tokens=self.max_tokens,
                stop_at_success=self.stop_at_success,
            ),
            TrajectoryValue(
                self.n_evaluate,
                weight=self.weight,
                temperature=self.value_temperature,
                max_tokens=self.max_tokens,
                reflect=self.reflect,
                sink=MemorySink(namespace),
            ),
        )

    async def _read_memory(self, ctx: RunContext, ns: str) -> list[str]:
        if not self.memory_k:
            return []
        try:
            entries = await ctx.memory.recent(ns, self.memory_k)
        except ToolError as e:
            ctx.event("error", "memory", f"could not read memory {ns!r}: {e}", status="error")
            return []
        texts = [e.content for e in entries]
        ctx.event(
            "memory_read",
            f"memory ({len(texts)})",
            f"{len(texts)} reflections from {ns!r}",
            data={"namespace": ns, "reflections": texts, "ids": [e.id for e in entries]},
        )
        return texts

    def _choose(
        self, graph: SearchGraph, problem: LatsProblem, found: SearchResult
    ) -> tuple[Node | None, Trajectory | None]:
        """(the node to mark chosen, the state whose answer to give): the first trajectory that succeeded
        (in the graph, or a rollout's end the search reports), else the search's choice, else the best value."""
        nodes = [graph.node(i) for i in sorted(graph.graph.nodes) if i != 0]
        solved = [n for n in nodes if n.status != "invalid" and problem.success(n.state)]
        if solved:
            return solved[0], solved[0].state
        chosen = found.chosen if found.chosen is not graph.root else None
        if chosen is not None:
            return chosen, found.state if found.state is not None else chosen.state
        valued = [n for n in nodes if n.value is not None and n.status not in ("invalid", "error")]
        best = max(valued, key=lambda n: (n.value or 0.0, -n.id)) if valued else None
        return best, None if best is None else best.state

    # -- the run ----------------------------------------------------------------------------

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        tests = None
        judge = self._judge(task, ctx.env)
        if judge.runs_tests and not judge.interactive:
            tests = await search_tests(self.feedback, task, ctx, max_tokens=self.max_tokens)
        world = self.world(task, ctx, tests)
        ns = self.namespace or task.id
        problem = LatsProblem(world, max_depth=self.max_depth, reflections=await self._read_memory(ctx, ns))
        config = self.search_config(ns)
        evaluator = config.evaluator
        assert isinstance(evaluator, TrajectoryValue)
        graph = SearchGraph(problem, ctx, world.intro())
        algorithm = self.search.build(env_reward=lambda state: state.reward)
        if isinstance(algorithm, MCTS):
            # a rollout's reflection (or success) takes effect in the order the search backs rollouts up
            algorithm.on_terminal = evaluator.publish
        found = await algorithm.run(graph, config)
        chosen, state = self._choose(graph, problem, found)
        graph.finish(chosen)
        answer = problem.answer(state) if state is not None else None
        meta: dict[str, Any] = {
            "nodes": graph.graph.number_of_nodes() - 1,
            "expansions": graph.expansions,
            "invalid": graph.invalid,
            "failed_trajectories": evaluator.failures,
            "reflections": len(problem.reflections),
            "solved": state is not None and problem.success(state),
            "actions": list(state.actions) if state is not None and world.kind == "env" else None,
        }
        if world.kind == "code":  # `solved`: passed the search's tests; `correct`: the env's hidden ones
            meta["feedback"] = self.feedback
        ev = self._judge(task, ctx.env).evaluate(task, answer)
        error = None if answer is not None else "no answer: no trajectory of the search reached an answer"
        return Result(answer=answer, correct=ev.correct, score=ev.score, error=error, metadata=meta)
