"""The world model a search explores, in llm-reasoners' shape (`reasoners/base.py`'s `WorldModel`).

A world model says what a state is and how an action changes it: `init_state()`, `step(state,
action, ctx)` -> the next state (a new value: the state given is never changed, so a search keeps
every state it reached and can step any of them again), `is_terminal(state)`, `answer(state)`, and
`describe(state)`, the text a state is recorded as (a node event's `y`). `step` is async and gets
the branch's `RunContext`: a world model may call the model (RAP predicts the next state) or act in
an env (LATS), and those calls are recorded like any other.

`TextSteps` is the world of Tree-of-Thoughts: a state is the text of the steps so far, one per line,
and an action is the next line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    from ponder.runtime.context import RunContext

S = TypeVar("S")
A = TypeVar("A", contravariant=True)


@runtime_checkable
class WorldModel(Protocol[S, A]):
    """States, how an action changes one, when a state ends the search, and the answer it gives."""

    def init_state(self) -> S:
        """The state the search starts from (the search graph's root)."""
        ...

    async def step(self, state: S, action: A, ctx: RunContext) -> S:
        """The state `action` reaches from `state` (a new one: `state` is left as it was)."""
        ...

    def is_terminal(self, state: S) -> bool:
        """Whether nothing follows `state` (an answer was given, or a dead end)."""
        ...

    def answer(self, state: S) -> str | None:
        """The final answer `state` gives, if it gives one."""
        ...

    def describe(self, state: S) -> str:
        """The text `state` is recorded as (its node event's `y`)."""
        ...


class _NotStepped:
    def __repr__(self) -> str:
        return "NOT_STEPPED"


NOT_STEPPED: Any = _NotStepped()


@dataclass(frozen=True)
class Step:
    """One candidate action from a state, as a search config proposes it.

    action: what the world steps with; text: how the step is recorded (its node event's `step`;
        default `str(action)`); error: why the action is invalid (None: valid — an invalid one is
        recorded, never stepped); state: the state the action reached, when the search config had to
        take it to word the step (LATS acts in an env to see the observation); NOT_STEPPED otherwise,
        and the world steps it. fast_reward: a cheap estimate of the action's worth before it is
        taken (llm-reasoners' `fast_reward`), None when the config gives none.
    """

    action: Any
    error: str | None = None
    text: str | None = None
    state: Any = NOT_STEPPED
    fast_reward: float | None = None

    @property
    def line(self) -> str:
        """The step as recorded."""
        return self.text if self.text is not None else str(self.action)

    @property
    def stepped(self) -> bool:
        """Whether the state it reaches is known already."""
        return self.state is not NOT_STEPPED


class TextSteps:
    """Tree-of-Thoughts' world: a state is the text of the steps so far, one per line; an action is
    the next line. (A problem adds the terminal test and the answer.)"""

    def init_state(self) -> str:
        return ""

    async def step(self, state: str, action: str, ctx: RunContext) -> str:
        return state + action + "\n"

    def describe(self, state: str) -> str:
        return state
