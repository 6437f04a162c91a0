"""Graph of Thoughts' set intersection: the official error count, pinned prompts, the paper's graphs, a run."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ponder.agents.got.agent import GraphOfThoughts
from ponder.backends.scripted import ScriptedBackend
from ponder.envs.got_tasks import set_intersection_prompts as P
from ponder.envs.got_tasks.set_intersection import num_errors
from ponder.envs.got_tasks.set_intersection_env import SetIntersectionEnv
from ponder.replay.rerun import areplay
from ponder.runtime.runner import run_agent
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest


def official_string_to_list(string: str) -> list[int]:  # verbatim (modulo typing) from the official utils.py
    assert string[0] == "[" and string[-1] == "]", "String is not a list."
    return [int(num) for num in string[1:-1].split(",")]


def official_string_to_set(string: str) -> set[int]:
    assert string[0] == "[" and string[-1] == "]", "String is not a list."
    return {int(num) for num in string[1:-1].split(",")}


def official_num_errors(state: dict[str, Any]) -> float:  # verbatim (modulo typing) from the official utils.py
    try:
        set1 = official_string_to_set(state["set1"])
        set2 = official_string_to_set(state["set2"])
        if "subset" in state and state["subset"] != "" and state["subset"] is not None:
            set2 = official_string_to_set(state["subset"])
        common = sorted(list(set1 & set2))
        llm_solution = sorted(official_string_to_list(state["current"]))
        num_errors = 0
        common_idx = 0
        llm_idx = 0
        while common_idx < len(common) and llm_idx < len(llm_solution):
            if common[common_idx] == llm_solution[llm_idx]:
                common_idx += 1
                llm_idx += 1
            elif common[common_idx] < llm_solution[llm_idx]:
                common_idx += 1
                num_errors += 1
            elif common[common_idx] > llm_solution[llm_idx]:
                llm_idx += 1
                num_errors += 1
        num_errors += len(common) - common_idx + len(llm_solution) - llm_idx
        return num_errors
    except:  # noqa: E722
        return 1000


SET1 = "[11, 60, 1, 49, 21, 33, 14, 56, 54, 15, 23, 40, 45, 22, 7, 28]"
SET2 = "[31, 11, 4, 63, 38, 58, 59, 24, 61, 14, 32, 39, 27, 46, 48, 19]"


@given(st.lists(st.integers(0, 64), max_size=20), st.booleans())
def test_error_count_equals_the_official_function(current: list[int], with_subset: bool) -> None:
    state = {"set1": SET1, "set2": SET2, "current": str(current)}
    if with_subset:
        state["subset"] = "[31, 11, 4, 63, 38, 58, 59, 24]"
    assert num_errors(state) == official_num_errors(state)


@given(st.text(max_size=40))
def test_error_count_of_any_text_equals_the_official_function(text: str) -> None:
    state = {"set1": SET1, "set2": SET2, "current": text}
    assert num_errors(state) == official_num_errors(state)


OFFICIAL_SHA256 = {
    "INTERSECTION_PROMPT": "940d3295d79a5b041e801a8ef159444ba306b7d93a637074a451762e5382c769",
    "INTERSECTION_PROMPT_COT": "8586997d1bb2756177820f93f2c4381af4dc4f31900b33b57ce38159c387b03f",
    "TOT_IMPROVE_PROMPT": "ae2b1f92c72e8a7f665bb744a649e98a4c398b18309834039fe666e8eb6e15ca",
    "GOT_MERGE_PROMPT": "d6cc0ea2276b10a97f513eca6aa930221986bf3685f2fd33a24335e722240673",
    "GOT_SPLIT_PROMPT_032": "b92a7d34ecb870352edac96949d386d24ca285d56b72c6de2a072e3e14d18852",
    "GOT_SPLIT_PROMPT_064": "69eb6cf33caf25cd64bba2523f2c26fb3f2c36877a72e3f1444843688f09fe18",
    "GOT_SPLIT_PROMPT_128": "465e2d3efdb67a41fbafa981af7a66506621c5b7183860051c16f8b9d112dcb6",
}


def test_prompts_are_the_official_ones_pinned_by_commit() -> None:
    assert P.SOURCE_COMMIT == "363421c61c7bc11edf32845a697ae2aaccd75463"
    for name, digest in OFFICIAL_SHA256.items():
        assert hashlib.sha256(getattr(P, name).encode()).hexdigest() == digest, name


def intersector(req: CompletionRequest) -> str:
    """Answers the official prompts correctly (splits, intersections, merges)."""
    p = req.messages[-1].content
    if "<Instruction> Split the following list" in p:
        nums = json.loads(p.rsplit("Input: ", 1)[1])
        return json.dumps({f"List {i + 1}": nums[16 * i : 16 * (i + 1)] for i in range(len(nums) // 16)})
    if "by appending the second list" in p:
        a = json.loads(re.search(r"List 1: (\[.*?\])", p).group(1))  # type: ignore[union-attr]
        b = json.loads(re.search(r"List 2: (\[.*?\])", p).group(1))  # type: ignore[union-attr]
        return str(a + b)
    s1 = json.loads(re.findall(r"Input Set 1: (\[.*?\])", p)[-1])
    s2 = json.loads(re.findall(r"Input Set 2: (\[.*?\])", p)[-1])
    return "Output: " + str([x for x in s2 if x in set(s1)])


@pytest.mark.parametrize(("size", "preset"), [(32, "got"), (64, "got"), (128, "got"), (32, "io"), (64, "tot2")])
async def test_got_runs_the_paper_graphs(store: TraceStore, size: int, preset: str) -> None:
    env = SetIntersectionEnv(size=size)  # type: ignore[arg-type]
    task = next(env.tasks())
    result = await run_agent(
        GraphOfThoughts(graph=preset), task, backend=ScriptedBackend(intersector), store=store, env=env
    )
    assert result.correct is True, result.answer
    assert store.get_run(result.run_id).metrics == {"errors": 0.0}
    if size == 64 and preset == "got":
        assert (await areplay(store, result.run_id)).identical


def test_graphs_match_the_official_builders() -> None:
    env = SetIntersectionEnv(size=128)
    problem = env.got_problem(next(env.tasks()))
    got = problem.graph("got")
    kinds = [op.kind for op in got.operations]
    assert kinds.count("Aggregate") == 7 and kinds.count("Selector") == 8  # 4 + 2 pairwise merges, then the final
    assert all(op.num_responses == 5 for op in got.operations if op.kind == "Aggregate")  # type: ignore[attr-defined]
    tot = problem.graph("tot")
    assert [op.num_branches_response for op in tot.operations if op.kind == "Generate"] == [25] * 4  # type: ignore[attr-defined]
    bad = env.evaluate(next(env.tasks()), "no list")
    assert bad.correct is False and bad.metrics == {"errors": 1000.0}
