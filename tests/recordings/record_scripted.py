"""Record the search strategies' scripted recordings (no local model plays the Game of 24 or answers a
value prompt sensibly): `python -m tests.recordings.record_scripted [NAME...]`. Their tests pin what a
capable model does (a solved puzzle, a checked bad step, a replan); each strategy's recording on the
real Qwen2.5-Coder-0.5B is made by tests/recordings/record_real.py.

Each run is replayed at once and must be identical before its file is kept.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ponder import registry
from ponder.backends.scripted import ScriptedBackend
from ponder.envs.arithmetic import ArithmeticEnv
from ponder.envs.blocksworld.env import BlocksworldEnv
from ponder.envs.qa import ParallelQAEnv
from ponder.replay.cassette import finalize_recording, remove_database
from ponder.replay.rerun import areplay
from ponder.runtime.runner import run_agent
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest, Task
from tests._game24_model import gpt4_like, gpt4_like_brief
from tests.agents._got_counter import counter
from tests.agents._gsm_model import BAKER_PLAN, BAKER_WRONG, gsm_model

HERE = Path(__file__).parent
PUZZLE = Task(id="4-9-10-13", input="4 9 10 13", metadata={"numbers": [4, 9, 10, 13]})
KEYWORDS_2 = Task(  # two sentences: split in two of GoT4's four parts (an official passage makes a 300 kB recording)
    id="keywords-2-sentences",
    input="Ann left Norway for Sweden and Canada. She flew home to Norway.",
    metadata={"env": "keyword_counting"},
)
BAKER_TASK = next(iter(ArithmeticEnv().tasks()))  # 12 loaves, 3 times as many, 40 sold: 8 left
PQA_TASK = next(t for t in ParallelQAEnv().tasks() if t.id == "pqa-6")  # K2 + Lhotse, combined elevation
# the Blocksworld task and gold plan tests/agents/test_composites_replay.py uses
BW_TASK = next(BlocksworldEnv(steps=2).tasks())
BW_GOLD = ["unstack the blue block from on top of the orange block", "stack the blue block on top of the yellow block"]

# name -> (agent, config, task, scripted model)
RECORDINGS: dict[str, tuple[str, dict[str, Any], Task, Callable[..., str]]] = {
    "tot_game24_faithful": ("tot", {"env": "game24", "faithful": True, "breadth": 1}, PUZZLE, gpt4_like),
    "tot_game24_checked": ("tot", {"env": "game24", "breadth": 1}, PUZZLE, gpt4_like),
    "mcts_game24": (
        "mcts",
        {"env": "game24", "n_iterations": 4, "parallel": 2, "rollout_depth": 3, "n_evaluate": 1},
        PUZZLE,
        gpt4_like_brief,
    ),
    "beam_game24": ("beam", {"env": "game24", "width": 1, "n_evaluate": 1}, PUZZLE, gpt4_like),
    "got_keyword_counting": ("got", {"graph": "got4"}, KEYWORDS_2, counter()),
    "llm_compiler_parallel_qa": ("llm_compiler", {"max_replans": 1}, PQA_TASK, lambda req: _compiler_model(req)),
    "rap_gsm8k_baker": (
        "rap_gsm8k",
        {"n_iters": 2, "depth_limit": 2, "n_actions": 2, "n_confidence": 4, "n_shots": 1},
        BAKER_TASK,
        gsm_model(BAKER_PLAN, wrong=BAKER_WRONG),
    ),
}
# the run's env (its name and options), for strategies that take their task's prompts from it
ENVS: dict[str, tuple[str, dict[str, Any]]] = {
    "got_keyword_counting": ("keyword_counting", {}),
    "llm_compiler_parallel_qa": ("parallel_qa", {}),
    "rap_gsm8k_baker": ("arithmetic", {}),
}


def _compiler_model(req: CompletionRequest) -> str:
    """LLMCompiler on pqa-6: a plan with a line that does not parse, a replan, then the sum from the results."""
    text = req.messages[-1].content
    if "create a plan" in req.messages[0].content:
        if "new plan" not in text:
            return 'Thought: both elevations at once.\n1. search("K2")\n2. search Lhotse\n3. join()'
        return '3. search("Lhotse")\n4. calculator("8611 + 8516")\n5. join()'
    if "8,516 metres" not in text:
        return "Thought: Lhotse is missing.\nAction: Replan(search Lhotse properly)"
    return "Thought: 8,611 + 8,516 = 17127.\nAction: Finish(17127)"


async def record(name: str) -> None:
    """Record `name` into tests/recordings/NAME.db (replacing it), verified by an identical replay."""
    agent_name, config, task, model = RECORDINGS[name]
    path = HERE / f"{name}.db"
    remove_database(path)
    store = TraceStore(path)
    agent = registry.build("agents", agent_name, config)
    env = registry.build("envs", *ENVS[name]) if name in ENVS else None
    result = await run_agent(agent, task, backend=ScriptedBackend(model), store=store, env=env)
    report = await areplay(store, result.run_id, agent=agent, task=task)
    if not report.identical:
        raise SystemExit(f"{name}: the replay is not identical:\n{report.render()}")
    finalize_recording(store)
    print(f"{name}: answer {result.answer!r}, {result.calls} calls, {path.stat().st_size} bytes")


def main(names: list[str]) -> None:
    """Record the named recordings (all of them when none is named)."""
    for name in names or list(RECORDINGS):
        asyncio.run(record(name))


if __name__ == "__main__":
    main(sys.argv[1:])
