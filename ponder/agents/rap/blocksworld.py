"""RAP on Blocksworld: the model is the world model (it predicts each action's change) and rates actions.

After llm-reasoners `examples/RAP/blocksworld/{world_model.py, search_config.py}` (Apache-2.0). A state
is the model's own description of the blocks (`blocks_state`), with RAP's buffer: a pick-up/unstack
is buffered until the put-down/stack that completes it, and the in-context prompt is built from the
state before the buffered action. Rewards, as RAP's `BWConfig`:

- intuition — how likely the model finds the action as the next plan line. llm-reasoners scores the
  given continuation with `get_loglikelihood`; a chat server gives the log-probabilities of the
  tokens it *generates* only, so here the model writes `n_action_samples` next lines (with logprobs)
  and an action's intuition is the highest log-probability of a sample that names it; an action no
  sample names gets `min(found) - 1` (the floor is recorded). A backend without logprobs gives the
  share of samples naming it, `log((count + 1) / (n + 1))`, and the event says `frequency`.
- self-evaluation — the log-probability that the model calls the action "good" (RAP's self-eval
  prompt, one token): the chosen token's logprob if it says good, log(1 - p) if it says bad; no
  logprobs: log(0.99) or log(0.01); a reply that is neither word: log(0.5) (`self_eval_how` says
  which, per action).
- goal — 100 when the predicted state meets every goal, else the share of goals met.
reward = (intuition + self_eval) · α + goal · (1 − α); fast reward uses the goal default (0).

One difference in shape: ponder's search steps every valid child when a state is expanded (one
world-model call per child), where llm-reasoners steps a child when it is first selected.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ponder.agents.rap.bw_text import ChangeError, apply_change, generate_all_actions, goal_check, goals_of
from ponder.agents.rap.kinds import RapRewardData
from ponder.envs.blocksworld.domain import parse_action
from ponder.envs.blocksworld.env import problem_of, prompts, statement
from ponder.search.graph import Node, SearchGraph
from ponder.search.world import Step
from ponder.types import Choice, CompletionRequest, Message, Task

if TYPE_CHECKING:
    from ponder.runtime.context import RunContext


@dataclass(frozen=True)
class RapAction:
    """An action with the rewards the model gave it before it was taken."""

    text: str
    intuition: float
    self_eval: float

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class BWState:
    """RAP's Blocksworld state: the model's description of the blocks, the buffered action, the plan so far."""

    step_idx: int
    blocks_state: str
    last_blocks_state: str = ""
    buffered_action: str = ""
    plan: tuple[str, ...] = ()
    intuition: float = 0.0
    self_eval: float = 0.0
    goal_reached: bool = False
    goal_share: float = 0.0
    error: str | None = None


@dataclass(frozen=True)
class RapSettings:
    depth_limit: int
    reward_alpha: float
    goal_reached_reward: float
    goal_reward_default: float
    n_action_samples: int
    temperature: float


class BlocksworldWorld:
    """The world model: the language model predicts how each action changes the described state."""

    def __init__(self, task: Task, settings: RapSettings) -> None:
        init, goal, _ = problem_of(task)
        self.init_text, self.goal_text = statement(init, goal)
        self.goals = goals_of(self.goal_text)
        self.s = settings

    def init_state(self) -> BWState:
        return BWState(step_idx=0, blocks_state=self.init_text)

    async def step(self, state: BWState, action: RapAction, ctx: RunContext) -> BWState:
        text = action.text
        key = (
            "world_update_pickup"
            if "pick" in text
            else "world_update_unstack"
            if "unstack" in text
            else "world_update_putdown"
            if "put" in text
            else "world_update_stack"
        )
        prompt = prompts()[key].format(state.blocks_state, text.capitalize() + ".")
        # to the blank line that ends a scenario: a chat model may restate the scenario before its change
        req = CompletionRequest(messages=(Message.user(prompt),), temperature=0.0, max_tokens=256, stop=("\n\n",))
        reply = (await ctx.complete(req, label="world model")).text
        base = replace(
            state,
            step_idx=state.step_idx + 1,
            last_blocks_state=state.blocks_state,
            buffered_action="" if state.buffered_action else text,
            plan=(*state.plan, text),
            intuition=action.intuition,
            self_eval=action.self_eval,
        )
        try:
            blocks = apply_change(change_of(reply, text), state.blocks_state)
        except ChangeError as e:
            return replace(base, error=f"the predicted change cannot be applied: {e}")
        reached, share = goal_check(self.goals, blocks)
        return replace(base, blocks_state=blocks, goal_reached=reached, goal_share=share)

    def is_terminal(self, state: BWState) -> bool:
        return state.error is not None or state.goal_reached or state.step_idx >= self.s.depth_limit

    def answer(self, state: BWState) -> str | None:
        if state.error is not None or not state.plan or not self.is_terminal(state):
            return None
        return "\n".join(state.plan)

    def describe(self, state: BWState) -> str:
        plan = "; ".join(state.plan) or "(start)"
        return f"{plan}\n{state.blocks_state}" + (f"\n{state.error}" if state.error else "")


def change_of(reply: str, action: str) -> str:
    """The change a world-model reply predicts for `action`.

    The prompt ends at `[CHANGE]`: a completion model goes on with the change on that line (its first
    line, then maybe `[STATE 1] ...`). A chat model may instead write a scenario of its own
    (`[SCENARIO 3]`, `[STATE 0] ...`, `[ACTION] ...`, `[CHANGE] ...`): then its `[CHANGE]` line for this
    action (one after no `[ACTION]`, or after one naming this action) is the prediction; a reply that
    only restates another action's change predicts nothing for this one (`ChangeError`).
    """
    lines = [ln.strip() for ln in reply.strip().splitlines() if ln.strip()]
    if not lines or not lines[0].startswith("["):
        return lines[0] if lines else ""
    want, ours = parse_action(action), True  # before any [ACTION] line, a [CHANGE] is this action's
    for ln in lines:
        if ln.startswith("[ACTION]"):
            ours = parse_action(ln.removeprefix("[ACTION]")) == want
        elif ln.startswith("[CHANGE]") and ours:
            return ln.removeprefix("[CHANGE]").strip()
    raise ChangeError(f"the reply predicts no change for {action!r}: {lines[0][:80]!r}")


def _same_action(sample: str, action: str) -> bool:
    a, b = parse_action(sample.split("\n")[0]), parse_action(action)
    return a is not None and a == b


class RapActions:
    """The actions of a described state, each with RAP's fast reward (intuition + self-evaluation)."""

    def __init__(self, world: BlocksworldWorld) -> None:
        self.world = world

    async def actions(self, world: Any, node: Node, ctx: RunContext) -> list[Step]:
        state: BWState = node.state
        if state.error is not None:
            return []
        acts = generate_all_actions(state.blocks_state)
        if not acts:
            return []
        current = state.last_blocks_state if state.buffered_action else state.blocks_state
        previous = state.buffered_action + "\n" if state.buffered_action else ""
        icl = (
            prompts()["icl"]
            .replace("<init_state>", current)
            .replace("<goals>", self.world.goal_text)
            .replace("<action>", previous)
        )
        intuitions, how, floor = await self._intuition(icl, acts, ctx)
        judged = await asyncio.gather(*(self._self_eval(current, a, ctx.branch(f"e{i}")) for i, a in enumerate(acts)))
        self_evals = [e for e, _ in judged]
        self_eval_how = [h for _, h in judged]
        s = self.world.s
        steps = []
        for a, i, e in zip(acts, intuitions, self_evals, strict=True):
            fast = (i + e) * s.reward_alpha + s.goal_reward_default * (1 - s.reward_alpha)
            steps.append(Step(RapAction(a, i, e), text=a, fast_reward=round(fast, 6)))
        ctx.event(
            "rap_reward",
            "rewards",
            ", ".join(f"{a}: {st.fast_reward:g}" for a, st in zip(acts, steps, strict=True)),
            data=RapRewardData(
                actions=acts,
                intuition=intuitions,
                self_eval=self_evals,
                how=how,
                floor=floor,
                self_eval_how=self_eval_how,
            ).model_dump(exclude_none=True),
        )
        # the best fast reward first: MCTS visits unvisited children in this order, and rollouts take the first
        return sorted(steps, key=lambda st: -(st.fast_reward or 0.0))

    async def _intuition(self, icl: str, acts: list[str], ctx: RunContext) -> tuple[list[float], str, float | None]:
        n = self.world.s.n_action_samples
        req = CompletionRequest(
            messages=(Message.user(icl),),
            temperature=self.world.s.temperature,
            max_tokens=24,
            stop=("\n",),
            n=n,
            logprobs=True,
        )
        choices: list[Choice] = []
        while len(choices) < n:
            c = await ctx.branch(f"a{len(choices)}").complete(
                req.model_copy(update={"n": n - len(choices)}), label="intuition"
            )
            if not c.choices:
                break
            choices += c.choices[: n - len(choices)]
        if choices and all(ch.logprob is not None for ch in choices):
            best: list[float | None] = []
            for a in acts:
                lps = [ch.logprob for ch in choices if ch.logprob is not None and _same_action(ch.text, a)]
                best.append(max(lps) if lps else None)
            found = [b for b in best if b is not None]
            floor = (min(found) - 1.0) if found else math.log(1 / (n + 1))
            return [b if b is not None else floor for b in best], "logprob", round(floor, 6)
        counts = [sum(1 for ch in choices if _same_action(ch.text, a)) for a in acts]
        return [math.log((k + 1) / (n + 1)) for k in counts], "frequency", None

    async def _self_eval(self, current: str, action: str, ctx: RunContext) -> tuple[float, str]:
        prompt = (
            prompts()["self-eval"]
            .replace("<init_state>", current)
            .replace("<goals>", self.world.goal_text)
            .replace("<action>", action)
        )
        req = CompletionRequest(messages=(Message.user(prompt),), temperature=0.0, max_tokens=2, logprobs=True)
        c = await ctx.complete(req, label="self-eval")
        word = c.text.strip().strip("*_`'\".").lower()
        good, bad = word.startswith("good"), word.startswith("bad")
        if not (good or bad):  # neither word (the 0.5B: "Based on"): no judgement either way
            return math.log(0.5), "unreadable"
        lp = c.choices[0].logprob if c.choices else None
        if lp is None:
            return math.log(0.99 if good else 0.01), "answer"
        p = math.exp(min(lp, 0.0))
        return math.log(max(p if good else 1.0 - p, 1e-6)), "logprob"


class RapReward:
    """RAP's reward of a reached state: (intuition + self-eval) · α + goal · (1 − α)."""

    def __init__(self, settings: RapSettings) -> None:
        self.s = settings

    def of(self, state: BWState) -> float:
        s = self.s
        goal = s.goal_reached_reward if state.goal_reached else state.goal_share
        return (state.intuition + state.self_eval) * s.reward_alpha + goal * (1 - s.reward_alpha)

    async def reward(self, graph: SearchGraph, nodes: list[Node], ctx: RunContext) -> None:
        for n in nodes:
            n.value = round(self.of(n.state), 6)
            if n.state.error is not None:
                n.reason = n.state.error
