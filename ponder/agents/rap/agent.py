"""`rap` — Reasoning via Planning (Hao et al. 2023), as llm-reasoners runs it: MCTS over a world model
that the language model itself is, with RAP's rewards.

`ponder run --agent rap --env blocksworld` (or `ponder bench --agent rap --env blocksworld --env-set
steps=4`). The search is ponder's registered MCTS with llm-reasoners' settings: `depth_limit`,
`n_iters`, `w_exp` (the exploration weight), `cum_reward` (sum | mean), `calc_q` (mean | max),
`output_strategy` (max_reward | follow_max | max_visit). Rollouts (`rollout_depth`, default the
depth limit) take the action with the best fast reward, as llm-reasoners' `simulate_strategy=max`.
See `ponder.agents.rap.blocksworld` for the world model and the rewards.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from ponder.agents.rap import kinds as _kinds  # noqa: F401  (declares rap_reward)
from ponder.agents.rap.blocksworld import BlocksworldWorld, RapActions, RapReward, RapSettings
from ponder.agents.rap.gsm8k import ConfidenceReward, GSMSettings, GSMWorld, SubQuestions
from ponder.agents.rap.gsm8k_prompts import GSMPrompts, prompt_pool
from ponder.agents.rap.kinds import RapAggregateData
from ponder.errors import ConfigError
from ponder.runtime.base import BaseAgent
from ponder.runtime.context import RunContext
from ponder.search.aggregate import aggregate
from ponder.search.config import SearchConfig
from ponder.search.graph import SearchGraph
from ponder.search.mcts import MCTS
from ponder.types import Result, Task


def _mcts(agent: RAP | RapGSM8K) -> MCTS:
    """The MCTS both RAP tasks run, from llm-reasoners' settings as each agent holds them."""
    return MCTS(
        n_iterations=agent.n_iters,
        depth=agent.depth_limit,
        c=agent.w_exp,
        rollout_depth=agent.depth_limit if agent.rollout_depth is None else agent.rollout_depth,
        reward="value",
        output=agent.output_strategy,
        cum_reward=agent.cum_reward,
        calc_q=agent.calc_q,
    )


class RAP(BaseAgent):
    """Reasoning via Planning on Blocksworld: MCTS over the model's own predictions of each action's effect.

    depth_limit: the most actions in a plan. n_iters: MCTS iterations. w_exp: the exploration weight.
    reward_alpha: the weight of intuition + self-evaluation against the goal reward.
    goal_reached_reward / goal_reward_default: the goal part of a reached / not-yet-reached state.
    n_action_samples: next-line samples the intuition reward is read from (temperature `temperature`).
    """

    name: ClassVar[str] = "rap"

    depth_limit: int = Field(default=6, ge=1, le=20)
    n_iters: int = Field(default=10, ge=1)
    w_exp: float = Field(default=1.0, ge=0.0)
    cum_reward: Literal["sum", "mean"] = "sum"
    calc_q: Literal["mean", "max"] = "mean"
    output_strategy: Literal["max_reward", "follow_max", "max_visit"] = "max_reward"
    rollout_depth: int | None = Field(default=None, ge=0)
    reward_alpha: float = Field(default=0.5, ge=0.0, le=1.0)
    goal_reached_reward: float = 100.0
    goal_reward_default: float = 0.0
    n_action_samples: int = Field(default=4, ge=1)
    temperature: float = Field(default=0.8, ge=0.0, le=2.0)

    def settings(self) -> RapSettings:
        return RapSettings(
            depth_limit=self.depth_limit,
            reward_alpha=self.reward_alpha,
            goal_reached_reward=self.goal_reached_reward,
            goal_reward_default=self.goal_reward_default,
            n_action_samples=self.n_action_samples,
            temperature=self.temperature,
        )

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        env = ctx.env
        if env is None or env.name != "blocksworld":
            where = f"env {env.name!r}" if env is not None else "no env"
            other = "; word problems: --agent rap_gsm8k" if env is not None and env.name == "arithmetic" else ""
            raise ConfigError(f"rap plans in Blocksworld (--env blocksworld); this run has {where}{other}")
        s = self.settings()
        world = BlocksworldWorld(task, s)
        config = SearchConfig(RapActions(world), RapReward(s))
        graph = SearchGraph(world, ctx, world.init_text)
        mcts = _mcts(self)
        found = await mcts.run(graph, config)
        chosen = found.chosen
        state: Any = found.state if found.state is not None else chosen.state if chosen is not None else None
        plan = "\n".join(state.plan) if state is not None and state.plan else None
        graph.finish(chosen if plan is not None else None)
        return Result(
            answer=plan,
            error=None if plan is not None else "no answer: the search reached no plan",
            metadata={
                "nodes": graph.graph.number_of_nodes() - 1,
                "expansions": graph.expansions,
                "goal_reached": bool(state.goal_reached) if state is not None else False,
            },
        )


class RapGSM8K(BaseAgent):
    """RAP's second task: GSM8K-format word problems decomposed into sub-questions, MCTS with the
    usefulness and confidence rewards, the answer aggregated over the tree (llm-reasoners' defaults).

    n_actions: sub-questions proposed per state. n_confidence: answers sampled per sub-question, drawn
    early_stop_base at a time, stopped once the majority has early_stop_threshold of them.
    reward_alpha: the weight of usefulness against confidence; reward_confidence_default: the
    confidence a fast reward assumes. aggregate: the answer the tree backs most (weight_policy) rather
    than the output strategy's path. n_shots: pool examples in the prompt (drawn by the run's seed).
    """

    name: ClassVar[str] = "rap_gsm8k"

    depth_limit: int = Field(default=5, ge=1, le=20)
    n_iters: int = Field(default=10, ge=1)
    w_exp: float = Field(default=1.0, ge=0.0)
    cum_reward: Literal["sum", "mean"] = "mean"
    calc_q: Literal["mean", "max"] = "max"
    output_strategy: Literal["max_reward", "follow_max", "max_visit"] = "max_reward"
    rollout_depth: int | None = Field(default=None, ge=0)
    aggregate: bool = True
    weight_policy: Literal["edge", "edge_inverse_depth", "uniform"] = "edge"
    n_actions: int = Field(default=4, ge=1, le=16)
    n_confidence: int = Field(default=8, ge=1, le=32)
    early_stop_base: int = Field(default=2, ge=1)
    early_stop_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    temperature: float = Field(default=0.8, ge=0.0, le=2.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(default=128, ge=8)
    reward_alpha: float = Field(default=0.5, ge=0.0, le=1.0)
    reward_confidence_default: float = Field(default=0.8, ge=0.0, le=1.0)
    force_terminating_on_depth_limit: bool = True
    n_shots: int = Field(default=4, ge=1, le=10)

    def settings(self) -> GSMSettings:
        return GSMSettings(
            depth_limit=self.depth_limit,
            n_actions=self.n_actions,
            n_confidence=self.n_confidence,
            early_stop_base=self.early_stop_base,
            early_stop_threshold=self.early_stop_threshold,
            temperature=self.temperature,
            top_p=self.top_p,
            max_tokens=self.max_tokens,
            reward_alpha=self.reward_alpha,
            reward_confidence_default=self.reward_confidence_default,
            force_terminating_on_depth_limit=self.force_terminating_on_depth_limit,
        )

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        if ctx.env is not None and ctx.env.name == "blocksworld":
            raise ConfigError("rap_gsm8k answers word problems; Blocksworld plans: --agent rap")
        shots = tuple(sorted(ctx.rng.sample(range(len(prompt_pool()["interactive_examples"])), self.n_shots)))
        world = GSMWorld(GSMPrompts(task.input, shots), self.settings())
        graph = SearchGraph(world, ctx, task.input)
        mcts = _mcts(self)
        found = await mcts.run(graph, SearchConfig(SubQuestions(world), ConfidenceReward(self.settings())))
        chosen = found.chosen
        state: Any = found.state if found.state is not None else chosen.state if chosen is not None else None
        path_answer = world.answer(state) if state is not None else None
        answer = path_answer
        if self.aggregate:
            agg = aggregate(graph, mcts, self.weight_policy)
            answer = agg.answer
            ctx.event(
                "rap_aggregate",
                self.weight_policy,
                f"{agg.answer} (path: {path_answer})",
                data=RapAggregateData(
                    policy=self.weight_policy, weights=agg.weights, answer=agg.answer, path_answer=path_answer
                ).model_dump(),
            )
        graph.finish(chosen if path_answer is not None else None)
        return Result(
            answer=answer,
            error=None if answer is not None else "no answer: the search reached no answered overall question",
            metadata={
                "nodes": graph.graph.number_of_nodes() - 1,
                "expansions": graph.expansions,
                "shots": list(shots),
                "path_answer": path_answer,
            },
        )
