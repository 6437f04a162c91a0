"""RAP on GSM8K-format word problems: sub-question decomposition with the confidence reward.

After llm-reasoners `examples/RAP/gsm8k/{world_model.py, search_config.py}` (Apache-2.0):

- a **state** is the list of (sub-question, sub-answer, confidence) answered so far;
- an **action** is the next sub-question: the model writes `n_actions` of them (temperature
  `temperature`), duplicates dropped; at the depth limit one, greedily, that starts `Now we can answer
  the question:`; a sub-question with that prefix is replaced by the prefix and the question's own
  asking sentence, and so is one that repeats that sentence;
- the **world model** answers a sub-question: `n_confidence` samples, drawn `early_stop_base` at a time
  and stopped early once the most frequent answer has `early_stop_threshold` of the samples drawn (and
  no tie); the state's confidence is that answer's share of the samples, its sub-answer the first
  sample stating it. Answers are read with ponder's extraction (`extract_answer`): llm-reasoners reads
  `The answer is N.` only and files a sample without it under the answer None (which can then win
  with confidence 1); here an unreadable sample counts against the confidence and never wins;
- **rewards**: the fast reward of a sub-question is `r_useful^α · conf_default^(1−α)`, the reward of
  the state it reaches `r_useful^α · confidence^(1−α)`; `r_useful` is the probability that the model
  answers "Yes" to `Is the new question useful?`. llm-reasoners takes the softmax of the next-token
  logits of Yes and No; a chat server gives the log-probability of the token it generates only, so
  here the model writes one token: p if it says Yes, 1 − p if No (`how=logprob`); without logprobs
  Yes 1, No 0 (`answer`); neither word 0.5 (`unreadable`) — recorded per sub-question (`rap_useful`);
- **terminal**: the last sub-question is the overall question (`Now we can answer`); its answer is
  the run's, read with `extract_answer`.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ponder.agents.rap.gsm8k_prompts import GSMPrompts, unecho
from ponder.agents.rap.kinds import RapConfidenceData, RapUsefulData
from ponder.parsing import extract_answer, normalize_answer
from ponder.search.graph import Node, SearchGraph
from ponder.search.world import Step
from ponder.types import CompletionRequest, Message

if TYPE_CHECKING:
    from ponder.runtime.context import RunContext

TERMINAL_MARK = "Now we can answer"


@dataclass(frozen=True)
class SubResult:
    """One answered sub-question: what was asked, the answer kept, and the confidence in it."""

    sub_question: str
    sub_answer: str
    confidence: float


@dataclass(frozen=True)
class SubQuestion:
    """An action: the next sub-question, with how useful the model found it before it was answered."""

    text: str
    useful: float

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class GSMState:
    """The sub-questions answered so far; `useful` is the last one's r_useful."""

    steps: tuple[SubResult, ...] = ()
    useful: float = 0.0

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return [(s.sub_question, s.sub_answer) for s in self.steps]


@dataclass(frozen=True)
class GSMSettings:
    depth_limit: int
    n_actions: int
    n_confidence: int
    early_stop_base: int
    early_stop_threshold: float
    temperature: float
    top_p: float
    max_tokens: int
    reward_alpha: float
    reward_confidence_default: float
    force_terminating_on_depth_limit: bool


def answer_of(text: str) -> str | None:
    """The answer a sub-answer states (ponder's extraction, in its voting form); None if it states none."""
    got = extract_answer(text)
    return normalize_answer(got) if got is not None else None


def combined(useful: float, confidence: float, alpha: float) -> float:
    """llm-reasoners' `calculate_reward`: r_useful^α · confidence^(1−α)."""
    return float(max(useful, 0.0) ** alpha * max(confidence, 0.0) ** (1 - alpha))


async def sample(prompt: str, n: int, s: GSMSettings, ctx: RunContext, label: str, temperature: float) -> list[str]:
    """`n` one-line continuations of `prompt` (fewer only if the backend stops giving any)."""
    req = CompletionRequest(
        messages=(Message.user(prompt),),
        temperature=temperature,
        top_p=s.top_p if temperature > 0 else 1.0,
        max_tokens=s.max_tokens,
        stop=("\n",),
        n=n,
    )
    texts: list[str] = []
    while len(texts) < n:
        c = await ctx.branch(f"s{len(texts)}").complete(req.model_copy(update={"n": n - len(texts)}), label=label)
        if not c.choices:
            break
        texts += [ch.text for ch in c.choices[: n - len(texts)]]
    return texts


def settled(counts: list[int], drawn: int, threshold: float) -> bool:
    """llm-reasoners' early stop: the most frequent answer has `threshold` of the samples drawn, untied."""
    ranked = sorted(counts, reverse=True)
    return bool(ranked) and ranked[0] / drawn >= threshold and not (len(ranked) >= 2 and ranked[1] == ranked[0])


class GSMWorld:
    """The world model: the language model answers each sub-question, `n_confidence` times."""

    def __init__(self, prompts: GSMPrompts, settings: GSMSettings) -> None:
        self.prompts = prompts
        self.s = settings

    def init_state(self) -> GSMState:
        return GSMState()

    async def step(self, state: GSMState, action: SubQuestion, ctx: RunContext) -> GSMState:
        s = self.s
        prompt = self.prompts.world_input(state.pairs, action.text)
        tally: dict[str, list[str]] = {}  # answer -> the samples stating it, in order of first appearance
        last, drawn, unread = "", 0, 0
        while drawn < s.n_confidence:
            want = min(s.early_stop_base, s.n_confidence - drawn)
            texts = await sample(prompt, want, s, ctx.branch(f"c{drawn}"), "answer", s.temperature)
            for t in texts:
                last = unecho(t)
                a = answer_of(last)
                if a is None:
                    unread += 1
                else:
                    tally.setdefault(a, []).append(last)
            drawn += len(texts)
            if len(texts) < want:
                break
            if settled([len(v) for v in tally.values()], drawn, s.early_stop_threshold):
                break
        best = max(tally, key=lambda a: len(tally[a])) if tally else None
        confidence = len(tally[best]) / drawn if best is not None and drawn else 0.0
        sub_answer = tally[best][0] if best is not None else last
        ctx.event(
            "rap_confidence",
            f"confidence {confidence:g}",
            f"{action.text} → {best}",
            data=RapConfidenceData(
                sub_question=action.text,
                answers={a: len(v) for a, v in tally.items()},
                samples=drawn,
                unread=unread,
                answer=best,
                confidence=round(confidence, 6),
            ).model_dump(),
        )
        return GSMState(steps=(*state.steps, SubResult(action.text, sub_answer, confidence)), useful=action.useful)

    def is_terminal(self, state: GSMState) -> bool:
        return bool(state.steps) and TERMINAL_MARK in state.steps[-1].sub_question

    def answer(self, state: GSMState) -> str | None:
        return answer_of(state.steps[-1].sub_answer) if self.is_terminal(state) else None

    def describe(self, state: GSMState) -> str:
        return "".join(
            f"Q{k}: {r.sub_question}\nA{k}: {r.sub_answer} (confidence {r.confidence:g})\n"
            for k, r in enumerate(state.steps, start=1)
        )


class SubQuestions:
    """The actions of a state: the sub-questions the model proposes, each with its fast reward."""

    def __init__(self, world: GSMWorld) -> None:
        self.world = world

    def _force(self, outputs: list[str], at_limit: bool) -> list[str]:
        """llm-reasoners' forcing of the overall question (`force_overall_*`), then duplicates dropped."""
        p = self.world.prompts
        prefix, overall = p.overall_prefix, p.overall
        out = []
        for o in outputs:
            if at_limit and not o.startswith(prefix):
                o = prefix + " " + o
            if prefix in o or o.lower() == overall.lower():
                o = prefix + " " + overall
            out.append(o)
        return list(dict.fromkeys(out))

    async def actions(self, world: Any, node: Node, ctx: RunContext) -> list[Step]:
        state: GSMState = node.state
        s = self.world.s
        at_limit = s.force_terminating_on_depth_limit and len(state.steps) + 1 >= s.depth_limit
        prompt = self.world.prompts.actions_input(state.pairs, at_limit)
        n, temperature = (1, 0.0) if at_limit else (s.n_actions, s.temperature)
        texts = await sample(prompt, n, s, ctx.branch("q"), "sub-question", temperature)
        questions = self._force([unecho(t) for t in texts], at_limit)
        asked = [r.sub_question for r in state.steps]
        valid = [q for q in questions if q]
        rated = await asyncio.gather(*(self._useful(asked, q, ctx.branch(f"u{i}")) for i, q in enumerate(valid)))
        fast = [round(combined(u, s.reward_confidence_default, s.reward_alpha), 6) for u, _ in rated]
        steps = [Step(SubQuestion(q, u[0]), text=q, fast_reward=f) for q, u, f in zip(valid, rated, fast, strict=True)]
        if len(valid) < len(questions):
            steps.append(Step(SubQuestion("", 0.0), error="the model wrote no sub-question", text="(empty reply)"))
        ctx.event(
            "rap_useful",
            "usefulness",
            ", ".join(f"{q}: {u:g}" for q, (u, _) in zip(valid, rated, strict=True)) or "(no sub-question)",
            data=RapUsefulData(
                sub_questions=valid,
                useful=[round(u, 6) for u, _ in rated],
                how=[h for _, h in rated],
                fast_reward=fast,
            ).model_dump(),
        )
        # the best fast reward first: MCTS visits unvisited children in this order, rollouts take the first
        return sorted(steps, key=lambda st: -(st.fast_reward or 0.0) if st.error is None else math.inf)

    async def _useful(self, asked: list[str], question: str, ctx: RunContext) -> tuple[float, str]:
        prompt = self.world.prompts.useful_input(asked, question)
        req = CompletionRequest(messages=(Message.user(prompt),), temperature=0.0, max_tokens=1, logprobs=True)
        c = await ctx.complete(req, label="useful")
        word = c.text.strip().strip("*_`'\".").lower()
        yes, no = word.startswith("yes"), word.startswith("no")
        if not (yes or no):
            return 0.5, "unreadable"
        lp = c.choices[0].logprob if c.choices else None
        if lp is None:
            return (1.0 if yes else 0.0), "answer"
        p = math.exp(min(lp, 0.0))
        return (p if yes else 1.0 - p), "logprob"


class ConfidenceReward:
    """The reward of a reached state: r_useful^α · confidence^(1−α) (llm-reasoners' `GSM8kConfig.reward`)."""

    def __init__(self, settings: GSMSettings) -> None:
        self.s = settings

    async def reward(self, graph: SearchGraph, nodes: list[Node], ctx: RunContext) -> None:
        for n in nodes:
            st: GSMState = n.state
            conf = st.steps[-1].confidence if st.steps else 0.0
            n.value = round(combined(st.useful, conf, self.s.reward_alpha), 6)
