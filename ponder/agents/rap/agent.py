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
from ponder.errors import ConfigError
from ponder.runtime.base import BaseAgent
from ponder.runtime.context import RunContext
from ponder.search.config import SearchConfig
from ponder.search.graph import SearchGraph
from ponder.search.mcts import MCTS
from ponder.types import Result, Task


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
            raise ConfigError(f"rap plans in Blocksworld (--env blocksworld); this run has {where}")
        s = self.settings()
        world = BlocksworldWorld(task, s)
        config = SearchConfig(RapActions(world), RapReward(s))
        graph = SearchGraph(world, ctx, world.init_text)
        mcts = MCTS(
            n_iterations=self.n_iters,
            depth=self.depth_limit,
            c=self.w_exp,
            rollout_depth=self.depth_limit if self.rollout_depth is None else self.rollout_depth,
            reward="value",
            output=self.output_strategy,
            cum_reward=self.cum_reward,
            calc_q=self.calc_q,
        )
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
