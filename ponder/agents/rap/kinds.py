"""RAP's event kind: `rap_reward`, the rewards the model gave each action of a state before one was taken."""

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
