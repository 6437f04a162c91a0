"""No prompt ponder sends shows a placeholder a model can echo as its answer ("The answer is X", `<answer>`,
`finish[answer]`): small models copy them (Qwen2.5-Coder-0.5B ended self-consistency samples with
"The answer is X." and the vote counted "X"). Every module-level text of the modules that build prompts is
checked, the observations shown to a model included."""

from __future__ import annotations

import importlib
import pkgutil
import re
from string import Template

import pytest

PACKAGES = ["ponder.agents", "ponder.envs", "ponder.search"]


def _modules() -> list[str]:
    names = []
    for pkg in PACKAGES:
        mod = importlib.import_module(pkg)
        names.append(pkg)
        names += [m.name for m in pkgutil.walk_packages(mod.__path__, prefix=f"{pkg}.")]
    return sorted(names)


# texts that name the format to a person (a run's error), never sent to a model
NOT_PROMPTS = {"ponder.agents.react.REACT_NO_ANSWER", "ponder.agents.react.REACT_ONLY_PLACEHOLDER"}
PLACEHOLDER = re.compile(
    r"answer is X\b|answer is N\b|<[^<>\n]*answer[^<>\n]*>|\[(?:the |your |final )*answer\]|\{answer\}", re.IGNORECASE
)


def _texts() -> list[tuple[str, str]]:
    out = []
    for name in _modules():
        mod = importlib.import_module(name)
        for attr, value in vars(mod).items():
            text = value.template if isinstance(value, Template) else value if isinstance(value, str) else None
            if text and not attr.startswith("__") and f"{name}.{attr}" not in NOT_PROMPTS:
                out.append((f"{name}.{attr}", text))
    return out


@pytest.mark.parametrize(("where", "text"), _texts(), ids=[w for w, _ in _texts()])
def test_no_prompt_shows_an_answer_placeholder(where: str, text: str) -> None:
    assert PLACEHOLDER.search(text) is None, f"{where} shows {PLACEHOLDER.search(text)!r}"


def test_the_check_finds_the_placeholders_ponder_used_to_show() -> None:
    old = ('End with a line "The answer is X".', "- finish[answer]: give the final answer", "Answer: <the answer>")
    assert all(PLACEHOLDER.search(text) for text in old)
