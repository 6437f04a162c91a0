"""A noisy stand-in model for the compute-matched comparison (benchmarks/compute_matched.py), served by the
loopback fake OpenAI server: it answers Game of 24 (the ToT paper's prompts, CoT) and sorting (the official
Graph-of-Thoughts prompts, and the generic tree-search prompts) in the formats asked, right only some of
the time, so that sampling more or searching more changes the outcome.

Every reply is drawn from a generator seeded by the prompt and how many times that prompt was asked
before (in this server process), so sample i of a prompt is the same reply in every run of the script
whatever the order the requests arrive in, and n samples of one prompt differ. Rates (probability of a
right reply): Game-24 CoT 0.3, a value judgement 0.8, a last-step answer 0.85; a sort 0.25 (else 1-3
digits wrong), a merge 0.6, an improvement 0.5.
"""

from __future__ import annotations

import hashlib
import json
import random
import re

from ponder.envs.game24 import propose_steps, solve, verify
from ponder.envs.game24.puzzles import _paths
from ponder.types import CompletionRequest

_SEEN: dict[str, int] = {}


def _rng(prompt: str) -> random.Random:
    k = _SEEN.get(prompt, 0)
    _SEEN[prompt] = k + 1
    return random.Random(hashlib.sha256(f"{k}\0{prompt}".encode()).digest())


# -- Game of 24 ---------------------------------------------------------------------------


def _reachable(nums: str) -> bool:
    try:
        values = tuple(sorted(float(t) for t in nums.split()))
    except ValueError:
        return False
    if len(values) == 1:
        return abs(values[0] - 24) < 1e-6
    from fractions import Fraction

    return _paths(tuple(sorted(Fraction(t) for t in nums.split()))) > 0


def _wrong_expression(numbers: list[int], rng: random.Random) -> str:
    a, b, c, d = [*rng.sample(numbers, len(numbers)), 1, 1, 1, 1][:4]
    return f"({a} + {b}) * {c} - {d}"


def _game24(p: str, rng: random.Random) -> str:
    last = p.rstrip("\n").split("\n")[-1]
    if p.rstrip().endswith("Possible next steps:"):
        nums = p.rstrip().split("\n")[-2].removeprefix("Input: ").strip()
        steps = propose_steps(nums, limit=12)
        rng.shuffle(steps)
        # a fair model puts a step that keeps 24 reachable first more often than not
        good = [st for st in steps if _reachable(st.split("left: ")[-1].rstrip(")"))]
        if good and rng.random() < 0.7:
            steps.remove(good[0])
            steps.insert(0, good[0])
        return "\n".join(steps[:8]) or f"{nums} (left: {nums})"
    if p.startswith("Evaluate if given numbers can reach 24"):
        nums = last.strip()
        truth = _reachable(nums)
        if rng.random() < 0.8:
            word = ("sure" if len(nums.split()) <= 2 else "likely") if truth else "impossible"
        else:
            word = rng.choice(["sure", "likely", "impossible"])
        return f"{nums}\n{word}"
    if p.rstrip().endswith("Judge:"):
        m = re.search(r"Input: ([\d ]+)\nAnswer: (.*)\nJudge:\s*$", p)
        ok = bool(m) and verify([int(t) for t in m[1].split()], m[2])  # type: ignore[index]
        return "sure" if ok == (rng.random() < 0.9) else "impossible"
    inputs = re.findall(r"Input: (\d+ \d+ \d+ \d+)\n", p)
    numbers = [int(t) for t in inputs[-1].split()]
    expr = solve(numbers)
    answer = "Answer: {} = 24"
    if re.fullmatch(r"Input: [\d ]+", last):  # CoT / IO: one try at the whole puzzle, steps first
        ok = expr is not None and rng.random() < 0.3
        steps = propose_steps(" ".join(map(str, numbers)), limit=6)
        rng.shuffle(steps)
        answer = "Steps:\n" + "\n".join(steps[:3]) + "\n" + answer
    else:  # ToT's last step, after steps that (mostly) reach 24
        ok = expr is not None and rng.random() < 0.85
    return answer.format(expr if ok else _wrong_expression(numbers, rng))


# -- sorting --------------------------------------------------------------------------------


def _noisy_sort(nums: list[int], rng: random.Random, p_right: float) -> list[int]:
    out = sorted(nums)
    if rng.random() < p_right or len(out) < 2:
        return out
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(out) - 1)
        if rng.random() < 0.5:
            out[i], out[i + 1] = out[i + 1], out[i]
        else:
            del out[i]
    return out


def _last_list(text: str) -> list[int]:
    found = re.findall(r"\[[\d,\s]*\]", text)
    return json.loads(found[-1]) if found else []


def _sorting(p: str, rng: random.Random) -> str:
    if "<Instruction> Split the following list" in p:
        nums = json.loads(p.rsplit("Input: ", 1)[1])
        return json.dumps({f"List {i + 1}": nums[16 * i : 16 * (i + 1)] for i in range(len(nums) // 16)})
    if "Merge the following" in p:
        a = json.loads(re.findall(r"\n1: (\[.*?\])", p)[-1])
        b = json.loads(re.findall(r"\n2: (\[.*?\])", p)[-1])
        return str(_noisy_sort(a + b, rng, 0.6))
    if "Incorrectly Sorted:" in p:
        original = json.loads(re.findall(r"Input: (\[.*?\])", p)[-1])
        return "Reason: fixed.\nOutput: " + str(_noisy_sort(original, rng, 0.5))
    nums = _last_list(p.split("</Examples>")[-1]) if "</Examples>" in p else _last_list(p)
    return "Output: " + str(_noisy_sort(nums, rng, 0.25))


def _generic(p: str, rng: random.Random) -> str:
    """The generic tree-search prompts on sorting (its question is the official instruction and the list): a
    first step, then candidate answers (each a noisy sort); values judge an answer's order right 80% of the time."""
    question = p.split("Steps so far:")[0].split("Steps:")[0]
    nums = _last_list(question)
    steps = p.split("Steps so far:\n")[-1].split("\nEvaluate")[0].split("\nPropose")[0].split("\nWrite")[0]
    if "Evaluate whether these steps" in p:
        answer = _last_list(steps) if "Answer:" in steps else None
        right = answer == sorted(nums) if answer is not None else rng.random() < 0.5
        judged = right if rng.random() < 0.8 else not right
        word = ("sure" if answer is not None else "likely") if judged else "impossible"
        return "Checking the order.\n" + word
    if "The best choice is" in p:
        return f"The best choice is {rng.randint(1, 2)}"
    if "(none yet)" in steps:  # a first step, then the answers
        half = len(nums) // 2
        return f"Split into {nums[:half]} and {nums[half:]}\nCount each digit\nSort the first half"
    lines = [f"Answer: {_noisy_sort(nums, rng, 0.35)}" for _ in range(3)]
    return "\n".join(lines)


def respond(req: CompletionRequest) -> str:
    """One reply to one of the comparison's prompts."""
    p = req.messages[-1].content
    rng = _rng(p)
    if p.startswith("Question: "):
        return _generic(p, rng)
    if "<Instruction>" in p:
        return _sorting(p, rng)
    return _game24(p, rng)
