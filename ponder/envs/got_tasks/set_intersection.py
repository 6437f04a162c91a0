"""Graph of Thoughts' set-intersection task: two sets of 32/64/128 numbers, the official prompter, parser,
scoring and graphs (ported from spcl/graph-of-thoughts `examples/set_intersection/`, BSD-style license,
see `data/LICENSE-graph-of-thoughts.txt`).

`num_errors` is the official count: walk the sorted true intersection and the sorted reply together;
every number in one and not the other is an error; a reply that does not parse scores 1000.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from ponder.agents.got.operations import (
    Aggregate,
    Generate,
    GraphOfOperations,
    GroundTruth,
    KeepBestN,
    Operation,
    Score,
    State,
)
from ponder.agents.got.problem import GoTProblem
from ponder.envs.got_tasks import set_intersection_prompts as P
from ponder.envs.got_tasks._graphs import levels, score_and_keep, solve_parts
from ponder.envs.got_tasks.sorting import _bracketed, _output_lines, string_to_list
from ponder.errors import ConfigError

SIZES = (32, 64, 128)
UNPARSEABLE = 1000


def string_to_set(string: str) -> set[int]:
    """The official `utils.string_to_set`."""
    return set(string_to_list(string))


def num_errors(state: State) -> float:
    """The official error count of `state["current"]` against set1 ∩ set2 (or set1 ∩ the subset in work)."""
    try:
        set1 = string_to_set(state["set1"])
        set2 = string_to_set(state["set2"])
        if state.get("subset") not in ("", None):
            set2 = string_to_set(state["subset"])
        common = sorted(set1 & set2)
        reply = sorted(string_to_list(state["current"]))
        errors = i = j = 0
        while i < len(common) and j < len(reply):
            if common[i] == reply[j]:
                i, j = i + 1, j + 1
            elif common[i] < reply[j]:
                i, errors = i + 1, errors + 1
            else:
                j, errors = j + 1, errors + 1
        return errors + len(common) - i + len(reply) - j
    except Exception:  # the official function: anything that does not parse scores 1000
        return UNPARSEABLE


def test_set_intersection(state: State) -> bool:
    """The official ground truth: the sorted reply equals the intersection the dataset gives."""
    try:
        return sorted(string_to_list(state["current"])) == string_to_list(state["result"])
    except Exception:
        return False


class SetIntersectionProblem(GoTProblem):
    """Intersect `set1` and `set2` (lists as the dataset writes them); `result` is the dataset's intersection."""

    name: ClassVar[str] = "set_intersection"
    presets: ClassVar[tuple[str, ...]] = ("io", "cot", "tot", "tot2", "got")
    higher_is_better: ClassVar[bool] = False

    def __init__(self, set1: str, set2: str, result: str, size: int) -> None:
        if size not in SIZES:
            raise ConfigError(f"set_intersection size must be one of {', '.join(map(str, SIZES))}, not {size}")
        self.set1, self.set2, self.result, self.size = set1, set2, result, size
        self.method = "got"

    def initial_state(self) -> State:
        return {
            "set1": self.set1,
            "set2": self.set2,
            "result": self.result,
            "current": "",
            "phase": 0,
            "method": self.method,
        }

    def local_score(self, state: State) -> float:
        return num_errors(state)

    def generate_prompt(self, num_branches: int, state: State) -> str:
        set1, set2, current, method = state["set1"], state["set2"], state.get("current", ""), state["method"]
        if method.startswith("io"):
            return P.INTERSECTION_PROMPT.format(set1=set1, set2=set2)
        if method.startswith("cot"):
            return P.INTERSECTION_PROMPT_COT.format(set1=set1, set2=set2)
        if method.startswith("tot"):
            if current in (None, ""):
                return P.INTERSECTION_PROMPT.format(set1=set1, set2=set2)
            return P.TOT_IMPROVE_PROMPT.format(set1=set1, set2=set2, incorrect_intersection=current)
        if state.get("phase") == 0:
            split = {32: P.GOT_SPLIT_PROMPT_032, 64: P.GOT_SPLIT_PROMPT_064, 128: P.GOT_SPLIT_PROMPT_128}[self.size]
            return split.format(input=set2)
        subset = state.get("subset")
        return P.INTERSECTION_PROMPT.format(set1=set1, set2=subset if subset not in (None, "") else set2)

    def aggregation_prompt(self, states: list[State]) -> str:
        if len(states) != 2:
            raise ConfigError("the set-intersection aggregation prompt merges exactly two thoughts")
        return P.GOT_MERGE_PROMPT.format(input1=states[0]["current"], input2=states[1]["current"])

    def parse_aggregation_answer(self, states: list[State], texts: list[str]) -> list[State]:
        if len(states) != 2:
            raise ConfigError("the set-intersection aggregation parser merges exactly two thoughts")
        ordered = sorted(states, key=lambda s: str(s.get("part", "")))
        first, second = (str(s.get("subset", "")) for s in ordered)
        merged = first[:-1] + ", " + second[1:]
        out = []
        for text in texts:
            answers = _output_lines(text)
            stripped = [a for a in answers if "[" in a and "]" in a]
            if not stripped:
                for a in answers:
                    try:
                        if string_to_list("[" + a + "]"):
                            stripped.append("[" + a + "]")
                    except ValueError:
                        pass
            answer = _bracketed(stripped[0]) if stripped and stripped[0].index("[") < stripped[0].index("]") else "[]"
            out.append({**ordered[0], "current": answer, "subset": merged})
        return out

    def parse_generate_answer(self, state: State, texts: list[str]) -> list[State]:
        new_states: list[State] = []
        for text in texts:
            if str(state["method"]).startswith("got") and state.get("phase") == 0:
                new_states.extend(self._parse_split(state, text))
                continue
            lines = _output_lines("\n".join(a for a in text.strip().split("\n") if "[" in a and "]" in a))
            answers = [_bracketed(a) for a in lines if "[" in a and "]" in a and a.index("[") < a.index("]")]
            new_states.append({**state, "current": answers[0] if answers else "[]", "phase": 2})
        return new_states

    def _parse_split(self, state: State, text: str) -> list[State]:
        try:
            obj: Any = json.loads(text[text.index("{") : text.index("}") + 1])
        except ValueError:
            return []
        if not isinstance(obj, dict):
            return []
        out = []
        for key, value in obj.items():
            if "List" not in str(key):
                continue
            try:
                items = value if isinstance(value, list) else string_to_list(str(value))
                subset = str([int(v) for v in items])
            except (ValueError, TypeError):
                continue
            out.append({**state, "current": "", "subset": subset, "phase": 1, "part": str(key)})
        return out

    # -- graphs -------------------------------------------------------------------------

    def graph(self, preset: str) -> GraphOfOperations:
        builders = {"io": self._io, "cot": self._io, "tot": self._tot, "tot2": self._tot2, "got": self._got}
        if preset not in builders:
            raise ConfigError(f"unknown set_intersection graph {preset!r}; the paper's presets: {', '.join(builders)}")
        self.method = preset
        return builders[preset]()

    def _score(self) -> Score:
        return Score(num_samples=1, combined_scoring=False, scoring_function=num_errors)

    def _io(self) -> GraphOfOperations:
        g = GraphOfOperations()
        g.append_operation(Generate(1, 1))
        g.append_operation(self._score())
        g.append_operation(GroundTruth(ground_truth_evaluator=test_set_intersection))
        return g

    def _tot(self) -> GraphOfOperations:
        branches, rounds = 25 if self.size == 128 else 20, 1 if self.size == 32 else 3
        return levels(branches, rounds, self._score, test_set_intersection, final_keep=False)

    def _tot2(self) -> GraphOfOperations:
        return levels(10, {32: 2, 64: 6, 128: 8}[self.size], self._score, test_set_intersection, final_keep=False)

    def _merge(self, g: GraphOfOperations, preds: list[Operation], responses: int) -> Operation:
        return score_and_keep(g, [g.add_after(preds, Aggregate(responses))], self._score)

    def _got(self) -> GraphOfOperations:
        g = GraphOfOperations()
        plans = g.append_operation(Generate(1, 1))
        parts = solve_parts(g, plans, self.size // 16, self._score)
        responses = 5 if self.size == 128 else 10
        while len(parts) > 2:  # 64: one level of pairwise merges, 128: two (the official graphs, unrolled)
            parts = [self._merge(g, parts[i : i + 2], responses) for i in range(0, len(parts), 2)]
        g.append_operation(Aggregate(responses))
        g.append_operation(self._score())
        g.append_operation(KeepBestN(1, False))
        g.append_operation(GroundTruth(ground_truth_evaluator=test_set_intersection))
        return g
