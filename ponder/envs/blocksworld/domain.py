"""The 4-operator Blocksworld domain (pick-up, put-down, stack, unstack) in pure Python, and a plan validator.

No VAL binary: a plan is valid when every action is applicable in turn (its preconditions hold in the
state it is applied to) and the goal holds after the last one. States are frozensets of ground facts
(`("on", "a", "b")`, `("ontable", "a")`, `("clear", "a")`, `("holding", "a")`, `("handempty",)`), as in
the PDDL instances of karthikv792/LLMs-Planning. Plans are read from a model's reply in either
English ("unstack the red block from on top of the blue block") or PDDL ("(unstack a b)"); text that
names no action is not an action, and a plan whose lines do not parse is invalid — never a crash.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Fact = tuple[str, ...]
State = frozenset[Fact]

# llm-reasoners' bw_config.yaml: the letters of the instances, by color (alphabetical)
COLORS: dict[str, str] = {
    "a": "red", "b": "blue", "c": "orange", "d": "yellow", "e": "white", "f": "magenta",
    "g": "black", "h": "cyan", "i": "green", "j": "violet", "k": "silver", "l": "gold",
}  # fmt: skip
LETTERS = {v: k for k, v in COLORS.items()}

ACTION_TEXT = {
    "pick-up": "pick up the {} block",
    "put-down": "put down the {} block",
    "stack": "stack the {} block on top of the {} block",
    "unstack": "unstack the {} block from on top of the {} block",
}
_NL = [
    ("unstack", re.compile(r"unstack the (\w+) block from (?:on )?top of the (\w+) block")),
    ("stack", re.compile(r"stack the (\w+) block on(?: top of)? the (\w+) block")),
    ("pick-up", re.compile(r"pick up the (\w+) block")),
    ("put-down", re.compile(r"put down the (\w+) block")),
]
_PDDL = re.compile(r"\(\s*(pick-up|put-down|stack|unstack)((?:\s+[a-l])+)\s*\)")


@dataclass(frozen=True)
class Action:
    """A ground action: `name` (pick-up, put-down, stack, unstack) and its blocks (letters)."""

    name: str
    args: tuple[str, ...]

    def text(self) -> str:
        """In English, as the RAP prompts write actions."""
        return ACTION_TEXT[self.name].format(*(COLORS[a] for a in self.args))

    def pddl(self) -> str:
        return f"({self.name} {' '.join(self.args)})"


def precondition(state: State, a: Action) -> list[Fact]:
    """The facts `a` needs that are missing from `state` (empty: applicable)."""
    x = a.args[0]
    need: list[Fact]
    if a.name == "pick-up":
        need = [("clear", x), ("ontable", x), ("handempty",)]
    elif a.name == "put-down":
        need = [("holding", x)]
    elif a.name == "stack":
        need = [("holding", x), ("clear", a.args[1])]
    else:  # unstack
        need = [("on", x, a.args[1]), ("clear", x), ("handempty",)]
    return [f for f in need if f not in state]


def apply(state: State, a: Action) -> State:
    """The state after `a` (which must be applicable)."""
    x = a.args[0]
    add: set[Fact]
    rem: set[Fact]
    if a.name == "pick-up":
        add, rem = {("holding", x)}, {("clear", x), ("ontable", x), ("handempty",)}
    elif a.name == "put-down":
        add, rem = {("clear", x), ("ontable", x), ("handempty",)}, {("holding", x)}
    elif a.name == "stack":
        y = a.args[1]
        add, rem = {("clear", x), ("on", x, y), ("handempty",)}, {("holding", x), ("clear", y)}
    else:
        y = a.args[1]
        add, rem = {("holding", x), ("clear", y)}, {("on", x, y), ("clear", x), ("handempty",)}
    return frozenset((state - rem) | add)


def applicable_actions(state: State, blocks: Iterable[str]) -> list[Action]:
    """Every applicable action in `state`, in a fixed order (RAP's `generate_all_actions`, as ground actions)."""
    blocks = sorted(blocks)
    cands = [Action("pick-up", (b,)) for b in blocks] + [Action("put-down", (b,)) for b in blocks]
    cands += [Action(n, (x, y)) for n in ("unstack", "stack") for x in blocks for y in blocks if x != y]
    return [a for a in cands if not precondition(state, a)]


def parse_action(line: str) -> Action | None:
    """One action from a line of a reply (English or PDDL), or None when it names none."""
    text = line.strip().lower()
    m = _PDDL.search(text)
    if m:
        return _checked(m.group(1), m.group(2).split())
    for name, rx in _NL:
        m = rx.search(text)
        if m:
            letters = [LETTERS.get(c) for c in m.groups()]
            if any(x is None for x in letters):
                return None
            return _checked(name, [x for x in letters if x is not None])
    return None


def _checked(name: str, args: Sequence[str]) -> Action | None:
    arity = 1 if name in ("pick-up", "put-down") else 2
    if len(args) != arity or any(a not in COLORS for a in args):
        return None
    return Action(name, tuple(args))


def parse_plan(text: str) -> list[Action]:
    """The plan a reply gives: the lines between `[PLAN]` and `[PLAN END]` when present, else every line;
    lines that name no action are skipped."""
    body = text
    if "[PLAN]" in body:
        body = body.rsplit("[PLAN]", 1)[1]
    body = body.split("[PLAN END]", 1)[0]
    plan = [parse_action(line) for line in body.splitlines()]
    return [a for a in plan if a is not None]


@dataclass(frozen=True)
class Validation:
    """What the validator found: `valid`, and where and why it failed (`step` counts from 1)."""

    valid: bool
    reason: str = ""
    step: int | None = None
    goals_met: float = 0.0


def goal_fraction(state: State, goal: Iterable[Fact]) -> float:
    goal = list(goal)
    return sum(1 for g in goal if g in state) / len(goal) if goal else 1.0


def validate(init: State, goal: Iterable[Fact], plan: Sequence[Action]) -> Validation:
    """Check `plan`: each action applicable in turn, the goal true at the end."""
    goal = list(goal)
    state = init
    for i, a in enumerate(plan, start=1):
        missing = precondition(state, a)
        if missing:
            what = ", ".join(" ".join(f) for f in missing)
            return Validation(
                False, f"step {i} ({a.text()}) is not applicable: needs {what}", i, goal_fraction(state, goal)
            )
        state = apply(state, a)
    met = goal_fraction(state, goal)
    if met < 1.0:
        unmet = ", ".join(" ".join(g) for g in goal if g not in state)
        return Validation(False, f"the goal does not hold after the plan: {unmet}", None, met)
    return Validation(True, "", None, 1.0)


_PRED = {
    "ontable": "the {} block is on the table",
    "clear": "the {} block is clear",
    "handempty": "the hand is empty",
    "on": "the {} block is on top of the {} block",
    "holding": "the hand is holding the {} block",
}


def describe(facts: Iterable[Fact], *, sort: bool = True) -> str:
    """Facts in English, as llm-reasoners' `parse_problem` writes them (sorted by predicate, joined with "and")."""
    items = sorted(facts, key=lambda f: f[0] + " " + " ".join(f[1:])) if sort else list(facts)
    texts = [_PRED[f[0]].format(*(COLORS[x] for x in f[1:])) for f in items]
    if len(texts) > 1:
        return ", ".join(texts[:-1]) + f" and {texts[-1]}"
    return texts[0] if texts else ""
