"""RAP's Blocksworld state text: the actions a described state allows, a predicted change applied, goals checked.

Ported from llm-reasoners `reasoners/benchmark/bw_utils.py` (`generate_all_actions`, `apply_change`,
`goal_check`, `extract_goals`; Apache-2.0, notice in `ponder/envs/blocksworld/data/`). RAP's world
model is the language model: a state is the *text* the model predicted, so these work on that text,
not on the true state. Where the official `apply_change` raises on a change it cannot read, this one
returns `ChangeError` with the reason: the search records that state as invalid and goes on.
"""

from __future__ import annotations

import re


class ChangeError(ValueError):
    """The model's predicted change could not be applied to the state text."""


def generate_all_actions(state: str) -> list[str]:
    """Every action the state text allows (the official order: by the order the blocks are described)."""
    actions = []
    if "hand is empty" in state:
        for color in re.findall(r"the ([a-z]{0,10}) block is clear", state):
            if f"the {color} block is on the table" in state:
                actions.append(f"pick up the {color} block")
            else:
                below = re.search(f"the {color} block" + r" is on top of the ([a-z]{0,10}) block", state)
                if below:
                    actions.append(f"unstack the {color} block from on top of the {below.group(1)} block")
    else:
        held = re.search(r"is holding the ([a-z]{0,10}) block", state)
        if held is None:
            return []
        c = held.group(1)
        for c_ in re.findall(r"the ([a-z]{0,10}) block is clear", state):
            actions.append(f"stack the {c} block on top of the {c_} block")
        actions.append(f"put down the {c} block")
    return actions


def _priority(s: str) -> int:
    if "have that" in s:
        return 0
    if "clear" in s or "in the hand" in s:
        return 1
    if "the hand is" in s:
        return 2
    if "on top of" in s:
        return 3
    if "on the table" in s:
        return 4
    raise ChangeError(f"unknown fact in the state: {s!r}")


def apply_change(change: str, state: str) -> str:
    """The state text after the model's `[CHANGE]` line (the official `apply_change`)."""
    if "and the " in state and ", and the" not in state:
        state = state.replace("and the ", ", and the ")
    facts = [
        s.strip()[4:].strip(".") if s.strip().startswith("and ") else s.strip().strip(".") for s in state.split(", ")
    ]
    for c in change.lower().strip().strip(".").split(", "):
        if c.startswith("and "):
            c = c[4:]
        success = 0
        if c.startswith("the hand"):
            if "was" not in c or "now" not in c:
                raise ChangeError(f"cannot read the change {c!r}")
            old = c.split("was")[1].split("and")[0].strip()
            new = c.split("now")[1].strip()
            for i, f in enumerate(facts):
                if ("hand is " + old) in f:
                    facts[i] = f.replace(old, new)
                    success += 1
        else:
            colors = re.findall(r"the (\w+) block", c)
            if not colors or not c.startswith(f"the {colors[0]} block"):
                raise ChangeError(f"cannot read the change {c!r}")
            color = colors[0]
            if "no longer" in c:
                old = c.split("no longer")[1].strip()
                for i, f in enumerate(facts):
                    if f"{color} block is " + old in f:
                        facts[i] = ""
                        success += 1
            elif "was" in c and "now" in c:
                old = c.split("was")[1].split(" and")[0].strip()
                new = c.split("now")[1].strip()
                for i, f in enumerate(facts):
                    if f"{color} block is " + old in f:
                        facts[i] = f.replace(old, new)
                        success += 1
            elif "now" in c:
                facts.append("the " + color + " block is " + c.split("now")[1].strip())
                success += 1
        if success == 0:
            raise ChangeError(f"the change {c!r} matches nothing in the state")
    kept = [f for f in facts if f != ""]
    if not kept:
        raise ChangeError("the change left no facts")
    ordered = [x.strip() for _, x in sorted((_priority(f), f) for f in kept)]
    ordered[-1] = "and " + ordered[-1]
    return ", ".join(ordered) + "."


def goals_of(goal_text: str) -> list[str]:
    """The `on top of` goals in a goal statement (the official `extract_goals`)."""
    return re.findall(r"the [a-z]{0,10} block is on top of the [a-z]{0,10} block", goal_text)


def goal_check(goals: list[str], state: str) -> tuple[bool, float]:
    """Whether every goal is in the state text, and the share that is (the official `goal_check`)."""
    if not goals:
        return True, 1.0
    met = [g in state for g in goals]
    return all(met), sum(met) / len(met)
