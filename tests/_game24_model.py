"""A scripted stand-in for GPT-4 on the ToT paper's Game-of-24 prompts (no local model plays it).

It writes what the official run's logs show GPT-4 writing: proposal lines in the paper's format
with the quirks ponder's parser must read (a `(repeated)` tag, an approximate decimal, now and
then wrong arithmetic), value judgements that try a few combinations and end with sure / likely /
impossible, last-step judgements, and an `Answer:` line once 24 is left. Deterministic.
"""

from __future__ import annotations

import re
from fractions import Fraction

from ponder.envs.game24 import propose_steps, solve, verify
from ponder.envs.game24.puzzles import _paths
from ponder.types import CompletionRequest


def _kind(p: str) -> str:
    if p.rstrip().endswith("Possible next steps:"):
        return "propose"
    if p.startswith("Evaluate if given numbers can reach 24"):
        return "value"
    if p.rstrip().endswith("Judge:"):
        return "judge"
    if "Steps:" in p:
        return "answer"
    return "other"


def _numbers(text: str) -> list[Fraction] | None:
    try:
        return [Fraction(t) for t in text.split()]
    except (ValueError, ZeroDivisionError):
        return None


def _propose(nums: str) -> str:
    steps = propose_steps(nums, limit=40)
    if not steps:
        return f"{nums} (left: {nums})"

    def promising(step: str) -> bool:
        left = _numbers(step.split("left: ")[-1].split(")")[0])
        return bool(left) and _paths(tuple(sorted(left or ()))) > 0

    # a good model proposes some steps that keep 24 reachable among others that do not
    good = [s for s in steps if promising(s)][:3]
    lines = (good + [s for s in steps if s not in good])[:8]
    if len(lines) > 2:
        lines[2] = lines[2] + " (repeated)"  # GPT-4 tags a step it has written before
    if len(lines) > 4:
        # wrong arithmetic, as GPT-4 sometimes writes it
        m = re.match(r"(\S+) \+ (\S+) = (\S+) (.*)", lines[4])
        if m:
            lines[4] = f"{m[1]} + {m[2]} = {m[3]}1 {m[4]}"
    return "\n".join(lines)


def _value(nums: str) -> str:
    values = _numbers(nums)
    if values is None:
        return f"{nums}\nThese are not numbers I can combine.\nimpossible"
    if len(values) == 1:
        return f"{nums}\n{'sure' if values[0] == 24 else 'impossible'}"
    reach = _paths(tuple(sorted(values)))
    ints = all(v.denominator == 1 for v in values)
    expr = solve([int(v) for v in values]) if ints and len(values) == 4 else None
    total = " + ".join(nums.split()) + f" = {sum(values)}"
    if reach and (len(values) <= 2 or reach > 6):
        shown = f"{expr} = 24" if expr else total
        return f"{total}\n{shown}\nsure"
    if reach:
        return f"{total}\nI cannot obtain 24 now, but numbers are within a reasonable range\nlikely"
    return f"{total}\n{nums} cannot make 24\nimpossible"


def _answer(prompt: str) -> str:
    x = re.findall(r"Input: (.*)\n", prompt)[-1]
    expr = solve([int(t) for t in x.split()])
    return f"Answer: {expr} = 24" if expr else "Answer: (no solution) = 24"


def gpt4_like(req: CompletionRequest) -> str:
    """The reply a GPT-4-like model gives to one of the paper's Game-of-24 prompts."""
    p = req.messages[-1].content
    kind = _kind(p)
    if kind == "propose":
        return _propose(p.rstrip().split("\n")[-2].removeprefix("Input: ").strip())
    if kind == "value":
        return _value(p.rstrip().split("\n")[-1].strip())
    if kind == "judge":
        m = re.search(r"Input: ([\d ]+)\nAnswer: (.*)\nJudge:\s*$", p)
        if m and verify([int(t) for t in m[1].split()], m[2]):
            return "sure"
        return "impossible"
    if kind == "answer":
        return _answer(p)
    return "Answer: 24"


def gpt4_like_brief(req: CompletionRequest) -> str:
    """As `gpt4_like`, proposing at most 4 next steps (smaller trees, for MCTS's shipped recording)."""
    text = gpt4_like(req)
    if _kind(req.messages[-1].content) == "propose":
        return "\n".join(text.split("\n")[:4])
    return text
