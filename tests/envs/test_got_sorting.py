"""The sorting env's error count is the official one (spcl/graph-of-thoughts `examples/sorting/utils.py`)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ponder.envs.got_tasks import sorting_prompts as P
from ponder.envs.got_tasks.sorting import num_errors
from ponder.envs.got_tasks.sorting_env import SortingEnv, read_sorted_list
from ponder.types import Task


def official_string_to_list(string: str) -> list[int]:  # verbatim (modulo typing) from the official utils.py
    assert string[0] == "[" and string[-1] == "]", "String is not a list."
    return [int(num) for num in string[1:-1].split(",")]


def official_num_errors(state: dict[str, Any]) -> float:  # verbatim (modulo typing) from the official utils.py
    try:
        unsorted_list = state["original"]
        if (
            "unsorted_sublist" in state
            and state["unsorted_sublist"] != ""
            and state["unsorted_sublist"] is not None
            and len(state["unsorted_sublist"]) < len(unsorted_list) - 5
        ):
            unsorted_list = state["unsorted_sublist"]
        correct_list = sorted(official_string_to_list(unsorted_list))
        current_list = official_string_to_list(state["current"])
        num_errors = 0
        for i in range(10):
            num_errors += abs(
                sum([1 for num in current_list if num == i]) - sum([1 for num in correct_list if num == i])
            )
        num_errors += sum([1 for num1, num2 in zip(current_list, current_list[1:]) if num1 > num2])  # noqa: B905, RUF007
        return num_errors
    except:  # noqa: E722
        return 300


ORIGINAL = "[0, 0, 5, 9, 0, 7, 9, 9, 1, 2, 6, 1, 1, 9, 0, 1, 3, 5, 2, 3, 5, 6, 0, 2, 7, 4, 6, 2, 9, 7, 5, 9]"


@given(st.lists(st.integers(0, 9), max_size=40))
def test_error_count_equals_the_official_function(current: list[int]) -> None:
    state = {"original": ORIGINAL, "current": str(current)}
    assert num_errors(state) == official_num_errors(state)


@given(st.text(max_size=60))
def test_error_count_of_any_reply_text_equals_the_official_function(text: str) -> None:
    state = {"original": ORIGINAL, "current": text}
    assert num_errors(state) == official_num_errors(state)


def test_env_tasks_are_the_official_data_and_scores_record_errors() -> None:
    for size in (32, 64, 128):
        tasks = list(SortingEnv(size=size).tasks())  # type: ignore[arg-type]
        assert len(tasks) == 100 and len(json.loads(tasks[0].input)) == size
    env = SortingEnv()
    task = next(env.tasks())
    good = env.evaluate(task, task.expected)
    assert good.correct and good.metrics == {"errors": 0.0}
    bad = env.evaluate(task, None)
    assert bad.correct is False and bad.metrics == {"errors": 300.0}


def test_replies_are_read_as_the_official_parser_reads_them() -> None:
    assert read_sorted_list("Sorted Subarrays:\n[1, 2]\nOutput: [0, 1, 2]") == "[0, 1, 2]"
    assert read_sorted_list("no list here") is None
    env = SortingEnv()
    task = Task(id="t", input=ORIGINAL)
    assert "Input: " + ORIGINAL in env.cot_prompt(task)


OFFICIAL_SHA256 = {
    "SORT_PROMPT": "63b40b659cc4279bfd31c8fbb37fbd72d1841f7437a43a28631fd0db092dbdec",
    "SORT_PROMPT_COT": "17696d31c1f70640d574c5d5e5dd3363e693cc290079e2c5c2c8166653747343",
    "TOT_IMPROVE_PROMPT": "0516ed9aed96db6bffb9196b5f1e4f38724427a66c993e729cf8dabc7da7607a",
    "GOT_MERGE_PROMPT": "f31345c464982fbcedf7233f5dd805d6c49bfc21c7381c75970b753e24253a22",
    "GOT_SPLIT_PROMPT_032": "f9663db89b4477d913015d49d4af7f4ea09021246747d9ad8c69d9fe27e5c3c2",
    "GOT_SPLIT_PROMPT_064": "91892c14d98e1c24034822da96f8f4e554d81d58c3c0cbcfefd8e847ea1b0b5a",
    "GOT_SPLIT_PROMPT_128": "09700c0ae5aec9ab8bdcda5fd06e2498d21ab022d4db00337a749e1533881191",
}


def test_prompts_are_the_official_ones_pinned_by_commit() -> None:
    # hashes of the SortingPrompter class attributes at the pinned commit (examples/sorting/sorting_0NN.py)
    assert P.SOURCE_REPO == "spcl/graph-of-thoughts"
    assert P.SOURCE_COMMIT == "363421c61c7bc11edf32845a697ae2aaccd75463"
    for name, digest in OFFICIAL_SHA256.items():
        assert hashlib.sha256(getattr(P, name).encode()).hexdigest() == digest, name
    license_file = Path(P.__file__).parent / "data" / "LICENSE-graph-of-thoughts.txt"
    assert "ETH Zurich" in license_file.read_text()
