"""RAP's event kinds: `rap_reward` (Blocksworld: the rewards of a state's actions before one is taken);
GSM8K: `rap_useful` (proposed sub-questions), `rap_confidence` (one sub-question's answers), `rap_aggregate`."""

from __future__ import annotations

from ponder.traces.event_data import EventData
from ponder.traces.kinds import declare_kind


class RapRewardData(EventData):
    """`rap_reward`: per action of a state, its intuition and self-evaluation (log-probabilities), and how the
    intuition was read (`logprob`: the best sample naming it; `frequency`: no logprobs, the share of samples)."""

    actions: list[str]
    intuition: list[float]
    self_eval: list[float]
    how: str
    floor: float | None = None


declare_kind(
    "rap_reward",
    data=RapRewardData,
    tag="rewards",
    style="cyan",
    describe=lambda d: f"intuition by {d.how}",
    doc="RAP's action rewards at one state",
)


class RapUsefulData(EventData):
    """`rap_useful`: the sub-questions the model proposed at one state (GSM8K) and how useful it finds each
    (`r_useful`, a probability); `how` per sub-question: `logprob` (the Yes/No token's probability),
    `answer` (no logprobs: Yes 1, No 0) or `unreadable` (neither word: 0.5)."""

    sub_questions: list[str]
    useful: list[float]
    how: list[str]
    fast_reward: list[float]


class RapConfidenceData(EventData):
    """`rap_confidence`: the answers sampled for one sub-question (GSM8K), tallied by the answer each states;
    the majority answer's share of the samples is the state's confidence."""

    sub_question: str
    answers: dict[str, int]
    samples: int
    unread: int = 0
    answer: str | None = None
    confidence: float


class RapAggregateData(EventData):
    """`rap_aggregate`: llm-reasoners' MCTSAggregation — each answer's weight over the search tree, the one
    chosen, and the answer of the output strategy's path."""

    policy: str
    weights: dict[str, float]
    answer: str | None = None
    path_answer: str | None = None


declare_kind(
    "rap_useful",
    data=RapUsefulData,
    tag="rewards",
    style="cyan",
    describe=lambda d: f"{len(d.sub_questions)} sub-questions",
    doc="RAP-GSM8K's proposed sub-questions and their usefulness",
)
declare_kind(
    "rap_confidence",
    data=RapConfidenceData,
    tag="rewards",
    style="cyan",
    describe=lambda d: f"confidence {d.confidence:g} of {d.samples}",
    doc="RAP-GSM8K's answers to one sub-question and their majority share",
)
declare_kind(
    "rap_aggregate",
    data=RapAggregateData,
    tag="answer",
    style="green",
    describe=lambda d: f"{d.policy}: {d.answer}",
    doc="RAP-GSM8K's answer aggregated over the search tree",
)
