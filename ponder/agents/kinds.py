"""The event kinds of the built-in strategies, each declared where its data is (`class X(EventData, kind=...)`).

A light module — it imports only `ponder.traces` — registered under the `ponder.kinds` entry-point
group: a viewer (the TUI, `ponder show`, replay) that meets a kind it does not know loads the
registered kind modules, never the strategies themselves. Strategies write these with `ctx.emit`.
"""

from __future__ import annotations

from typing import Any

from ponder.traces.event_data import EventData


class CodeTestsData(EventData):
    """The tests a strategy checks code against: their origin (`feedback`) and source."""

    feedback: str
    tests: str | None = None
    count: int = 0
    error: str | None = None


def _tests_kind(kind: str, strategy: str, checks: str) -> dict[str, Any]:
    """The declaration of `kind`, the tests `strategy` checks code against (what `checks` says)."""
    return {
        "kind": kind,
        "tag": "tests",
        "style": "green",
        "describe": lambda d: d.feedback,
        "legend": f"tests: what {strategy} {checks} (visible examples, or the model's own)",
        "doc": f"the tests {strategy}'s feedback on code comes from",
    }


class LatsTestsData(CodeTestsData, **_tests_kind("lats_tests", "LATS", "checks code against during its search")):
    """`lats_tests`: the tests LATS's search checks code against."""


class ReflexionTestsData(
    CodeTestsData, **_tests_kind("reflexion_tests", "Reflexion", "judges a code trial by and reflects on")
):
    """`reflexion_tests`: the tests Reflexion judges a code trial by."""


class LatsValueData(
    EventData,
    kind="lats_value",
    tag="value",
    style="cyan",
    shows_score=True,
    describe=lambda d: d.outcome,
    legend="value: LATS's value of a state = weight × model score + (1 − weight) × env reward; 1 success, 0 failure",
    doc="a LATS state's value (model score and env reward)",
):
    """`lats_value`: a state's value: the model's `score` (0..1, None for terminal states) and the env's `reward`."""

    value: float | None = None
    score: float | None = None
    reward: float | None = None
    samples: list[str] | None = None
    outcome: str | None = None  # success / failure / depth, for states that end a trajectory
    error: str | None = None


class CandidateData(
    EventData, kind="candidate", tag="cand", style="blue", shows_score=True, doc="a best-of-N candidate"
):
    """`candidate`: one best-of-N candidate — its sample index, answer, and the score it was given."""

    index: int
    answer: str | None = None
    score: float | None = None
    how: str | None = None
    text: str | None = None


def _select_detail(d: SelectData) -> str | None:
    return None if d.chosen is None else f"#{d.chosen} of {len(d.scores)} by {d.how}"


class SelectData(
    EventData, kind="select", style="magenta", describe=_select_detail, doc="best-of-N's choice among its candidates"
):
    """`select`: best-of-N's choice — every candidate's score (by index) and the one kept."""

    scores: list[float | None]
    chosen: int | None = None
    answer: str | None = None
    how: str
