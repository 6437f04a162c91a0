"""RAP's second task: GSM8K sub-question decomposition with the confidence reward (`rap_gsm8k`)."""

from __future__ import annotations

import hashlib
import math
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ponder import registry
from ponder.agents.rap import gsm8k_prompts as P
from ponder.agents.rap.agent import RAP, RapGSM8K
from ponder.agents.rap.gsm8k import GSMSettings, GSMState, GSMWorld, SubQuestion, SubResult
from ponder.backends.scripted import ScriptedBackend
from ponder.cli import app
from ponder.envs.arithmetic import ArithmeticEnv
from ponder.errors import ConfigError
from ponder.replay.rerun import areplay
from ponder.runtime.runner import run_agent
from ponder.search.aggregate import aggregate
from ponder.search.graph import SearchGraph
from ponder.search.mcts import MCTS
from ponder.traces.store import TraceStore
from ponder.types import Choice
from tests.agents._gsm_model import BAKER_PLAN, BAKER_WRONG, gsm_model

# SHA-256 of llm-reasoners' files at the pinned commit (git show f94e5ac2:examples/RAP/gsm8k/prompts/...)
OFFICIAL_SHA256 = {
    "gsm8k_prompt_pool.json": "e721c28966aae7c6f9fd01208d379585844d088917c5d34fd639646e296798bc",
    "gsm8k_useful_examples.json": "3c6709c5f904ab5e7b805917b002d8557b1efc3146c06d2581e46daf5bbbeff0",
}
DATA = Path(P.__file__).parent / "data"


def _baker() -> tuple[ArithmeticEnv, Any]:
    env = ArithmeticEnv()
    return env, next(iter(env.tasks()))


def _backend(**kw: Any) -> ScriptedBackend:
    return ScriptedBackend(gsm_model(BAKER_PLAN, wrong=BAKER_WRONG, **kw), supports_seed=True)


def test_prompts_are_llm_reasoners_files_pinned_by_commit() -> None:
    assert P.SOURCE_REPO == "maitrix-org/llm-reasoners"
    assert P.SOURCE_COMMIT == "f94e5ac2cb9788c3d7d7dbf2173884ed4088e4b2"
    assert set(P.SOURCE_PATHS) == set(OFFICIAL_SHA256)
    for name, digest in OFFICIAL_SHA256.items():
        assert hashlib.sha256((DATA / name).read_bytes()).hexdigest() == digest, name
    assert "Apache License" in (DATA / "LICENSE-llm-reasoners-Apache-2.0.txt").read_text()
    assert P.SOURCE_COMMIT in (DATA / "NOTICE-gsm8k-prompts.txt").read_text()


def _official_world_input(pool: dict[str, Any], shots: list[int], question: str, state: list, action: str) -> str:
    # llm-reasoners GSM8kWorldModel.update_example + step, as written there
    out = pool["instruction"] + "\n\n"
    for idx, i in enumerate(shots):
        out += pool["interactive_examples"][i].format(idx=idx + 1) + "\n\n"
    n = len(shots)
    out += pool["question_prefix"].format(idx=n + 1, question=question) + "\n"
    for idx, (q, a, _) in enumerate(state):
        out += pool["subquestion_prefix"].format(idx=n + 1, sub_idx=idx + 1) + " " + q + "\n"
        out += pool["answer_prefix"].format(idx=n + 1, sub_idx=idx + 1) + " " + a + "\n"
    out += pool["subquestion_prefix"].format(idx=n + 1, sub_idx=len(state) + 1) + " " + action + "\n"
    return out + pool["answer_prefix"].format(idx=n + 1, sub_idx=len(state) + 1)


def test_the_prompts_are_built_as_llm_reasoners_builds_them() -> None:
    q = "Tom reads 15 pages a day. His book has 240 pages. How many days does he need to finish it?"
    prompts = P.GSMPrompts(q, (1, 4, 7, 9))
    state = [("How many pages are there?", "There are 240 pages. The answer is 240.", 1.0)]
    pairs = [(a, b) for a, b, _ in state]
    want = _official_world_input(P.prompt_pool(), [1, 4, 7, 9], q, state, "How many days?")
    assert prompts.world_input(pairs, "How many days?") == want
    assert prompts.actions_input(pairs, False) == want.rsplit(" How many days?\n", 1)[0]
    assert prompts.actions_input(pairs, True).endswith("Question 5.2: Now we can answer the question:")
    useful = prompts.useful_input(["How many pages are there?"], "How many days?")
    assert useful.startswith(P.useful_prompt()["input"])
    assert useful.endswith(
        f"Question 5: {q}\nQuestion 5.1: How many pages are there?\nNew question 5.2: How many days?\n"
        "Is the new question useful?"
    )
    for i in range(10):  # every pool example formats
        assert "{idx}" not in P.GSMPrompts(q, (i,)).world_input([], "x")


@pytest.mark.parametrize(
    ("question", "overall"),
    [
        ("Tom reads 15 pages a day. How many days does he need?", "How many days does he need?"),
        ("If 3 pens cost $6, what is the price of 5 pens?", "If 3 pens cost $6, what is the price of 5 pens?"),
        ("Calculate 4 + 5.", "Calculate 4 + 5."),
        ("no question here", "no question here"),
    ],
)
def test_the_overall_question_is_llm_reasoners_regex_or_the_whole_text(question: str, overall: str) -> None:
    assert P.overall_question(question) == overall


def test_a_chat_models_echoed_line_prefix_is_dropped() -> None:
    assert P.unecho("Answer 5.2: He reads 16 days. The answer is 16.") == "He reads 16 days. The answer is 16."
    assert P.unecho("**Question 5.3:** How many?") == "How many?"
    assert P.unecho("How many?") == "How many?"
    assert P.unecho("\n\nHow many?\nAnswer 5.1: 3") == "How many?"  # a backend that ignored the stop
    assert P.unecho("") == ""


def _settings(**kw: Any) -> GSMSettings:
    base = {
        "depth_limit": 5,
        "n_actions": 4,
        "n_confidence": 8,
        "early_stop_base": 2,
        "early_stop_threshold": 0.5,
        "temperature": 0.8,
        "top_p": 0.95,
        "max_tokens": 64,
        "reward_alpha": 0.5,
        "reward_confidence_default": 0.8,
        "force_terminating_on_depth_limit": True,
    }
    return GSMSettings(**(base | kw))


async def _step(replies: list[list[str]], store: TraceStore, **kw: Any) -> tuple[GSMState, int]:
    """Step the world once with answer samples served from `replies` (one list per request)."""
    queue = [[Choice(text=t) for t in group] for group in replies]
    backend = ScriptedBackend(lambda req: queue.pop(0))
    world = GSMWorld(P.GSMPrompts("How many?", (0, 1, 2, 3)), _settings(**kw))
    out: dict[str, Any] = {}

    class Once(RAP):
        async def solve(self, task, ctx):  # type: ignore[no-untyped-def]
            out["state"] = await world.step(world.init_state(), SubQuestion("How many?", 1.0), ctx)
            from ponder.types import Result

            return Result(answer="x")

    await run_agent(Once(), "q", backend=backend, store=store)
    return out["state"], len(backend.requests)


@pytest.mark.parametrize(
    ("replies", "confidence", "requests", "answer"),
    [
        ([["The answer is 5.", "So 5."]], 1.0, 1, "The answer is 5."),  # agree: early stop after 2
        ([["The answer is 5.", "The answer is 6."], ["The answer is 6.", "6"]], 0.75, 2, "The answer is 6."),
        ([["5", "6"], ["7", "8"], ["5", "6"], ["9", "9"]], 0.25, 4, "5"),  # ties to the end: the first seen wins
        ([["no idea", "none"], ["The answer is 3.", "hmm"], ["3", "?"], ["maybe", "."]], 0.25, 4, "The answer is 3."),
        ([["no idea", "none"], ["?", "hmm"], ["...", "."], ["", "no"]], 0.0, 4, "no"),  # none readable
    ],
)
async def test_confidence_is_the_majority_share_with_llm_reasoners_early_stop(
    store: TraceStore, replies: list[list[str]], confidence: float, requests: int, answer: str
) -> None:
    state, n = await _step(replies, store)
    assert n == requests
    assert state.steps[-1].confidence == pytest.approx(confidence)
    assert state.steps[-1].sub_answer == answer


async def test_rap_gsm8k_answers_a_word_problem_and_replays_identically(store: TraceStore) -> None:
    env, task = _baker()
    result = await run_agent(RapGSM8K(n_iters=4), task, backend=_backend(), store=store, env=env)
    assert result.correct is True, result.answer
    events = list(store.iter_events(result.run_id, with_data=True))
    kinds = {e.kind for e in events}
    assert {"node", "backup", "rollout", "rap_useful", "rap_confidence", "rap_aggregate"} <= kinds
    useful = [e for e in events if e.kind == "rap_useful"]
    assert all(set(e.data["how"]) == {"logprob"} for e in useful)
    nodes = [e for e in events if e.kind == "node" and e.data.get("depth", 0) > 0]
    assert nodes and all("visits" in e.data and "fast_reward" in e.data for e in nodes)
    agg = next(e for e in events if e.kind == "rap_aggregate")
    assert agg.data["answer"] == "8" and agg.data["weights"]["8"] == max(agg.data["weights"].values())
    assert (await areplay(store, result.run_id)).identical


async def test_the_same_seed_draws_the_same_shots_and_requests(tmp_path: Path) -> None:
    env, task = _baker()
    runs = []
    for name in ("a", "b"):
        backend = _backend()
        store = TraceStore(tmp_path / f"{name}.db")
        result = await run_agent(RapGSM8K(n_iters=2), task, backend=backend, store=store, env=env, seed=7)
        runs.append(([r.key() for r in backend.requests], result.metadata["shots"]))
    assert runs[0] == runs[1] and len(runs[0][1]) == 4


async def test_without_logprobs_usefulness_is_the_models_word(store: TraceStore) -> None:
    env, task = _baker()
    result = await run_agent(RapGSM8K(n_iters=3), task, backend=_backend(logprobs=False), store=store, env=env)
    events = [e for e in store.iter_events(result.run_id, with_data=True) if e.kind == "rap_useful"]
    assert {h for e in events for h in e.data["how"]} == {"answer"}
    assert {u for e in events for u in e.data["useful"]} <= {0.0, 1.0}
    assert result.correct is True


async def test_echoed_line_prefixes_are_read_through(store: TraceStore) -> None:
    env, task = _baker()
    result = await run_agent(RapGSM8K(n_iters=3), task, backend=_backend(echo=True), store=store, env=env)
    assert result.correct is True


@pytest.mark.parametrize("reply", ["I do not know.", "", "Question 5.1:", "**", "The answer is"])
async def test_a_model_that_talks_nonsense_is_recorded_never_a_crash(store: TraceStore, reply: str) -> None:
    env, task = _baker()
    backend = ScriptedBackend(lambda req: [Choice(text=reply)] * req.n)
    result = await run_agent(RapGSM8K(n_iters=3, depth_limit=3), task, backend=backend, store=store, env=env)
    assert result.status in ("ok", "error")
    assert result.correct is not True
    assert not [e for e in store.iter_events(result.run_id) if e.kind == "error" and e.label.endswith("Error")]
    assert (await areplay(store, result.run_id)).identical


async def test_the_wrong_task_is_one_clear_error(store: TraceStore) -> None:
    env, task = _baker()
    with pytest.raises(ConfigError, match="--agent rap_gsm8k"):
        await run_agent(RAP(), task, backend=ScriptedBackend(["x"]), store=store, env=env)


@pytest.mark.parametrize("setting", ["n_actions=0", "weight_policy=votes", "early_stop_threshold=2", "n_shots=11"])
def test_bad_settings_are_one_line_exit_2(tmp_path: Path, setting: str) -> None:
    res = CliRunner().invoke(
        app, ["run", "How many?", "--agent", "rap_gsm8k", "--set", setting, "--db", str(tmp_path / "t.db")]
    )
    assert res.exit_code == 2, res.output
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.output + res.stderr


def test_rap_gsm8k_is_registered() -> None:
    assert "rap_gsm8k" in registry.names("agents")
    assert isinstance(registry.build("agents", "rap_gsm8k", {"n_iters": 2}), RapGSM8K)


# -- llm-reasoners' MCTSAggregation, ported as written, against ponder's on random trees ----------------


class _Ref:
    def __init__(self, reward: float, answer: str | None, terminal: bool, depth: int) -> None:
        self.reward, self.answer, self.is_terminal, self.depth = reward, answer, terminal, depth
        self.children: list[_Ref] = []


def _reference(root: _Ref, policy: str) -> str | None:
    answer_dict: dict[str, float] = defaultdict(lambda: 0)

    def visit(cur: _Ref) -> list[tuple[str, int]]:
        if cur.is_terminal:
            if cur.answer is None:
                return []
            if policy == "edge":
                answer_dict[cur.answer] += cur.reward
            elif policy == "edge_inverse_depth":
                answer_dict[cur.answer] += cur.reward / cur.depth
            else:
                answer_dict[cur.answer] += 1.0
            return [(cur.answer, cur.depth)]
        depth_list: dict[str, list[int]] = defaultdict(list)
        cur_list: list[tuple[str, int]] = []
        for child in cur.children:
            cur_list.extend(child_info := visit(child))
            for answer, depth in child_info:
                depth_list[answer].append(depth)
        for answer, depths in depth_list.items():
            if policy == "edge":
                answer_dict[answer] += cur.reward
            elif policy == "edge_inverse_depth":
                answer_dict[answer] += cur.reward / (sum(depths) / len(depths))
        return cur_list

    visit(root)
    return max(answer_dict, key=lambda a: answer_dict[a]) if answer_dict else None


class _TreeWorld:
    def init_state(self) -> tuple[bool, str | None]:
        return (False, None)

    def is_terminal(self, state: tuple[bool, str | None]) -> bool:
        return state[0]

    def answer(self, state: tuple[bool, str | None]) -> str | None:
        return state[1]

    def describe(self, state: tuple[bool, str | None]) -> str:
        return str(state)


@pytest.mark.parametrize("policy", ["edge", "edge_inverse_depth", "uniform"])
@pytest.mark.parametrize("seed", range(25))
async def test_aggregation_matches_llm_reasoners_on_random_trees(store: TraceStore, policy: str, seed: int) -> None:
    rng = random.Random(seed)
    out: dict[str, Any] = {}

    class Build(RAP):
        async def solve(self, task, ctx):  # type: ignore[no-untyped-def]
            graph = SearchGraph(_TreeWorld(), ctx, "tree")  # type: ignore[arg-type]
            ref = _Ref(0.0, None, False, 0)
            frontier = [(graph.root, ref)]
            while frontier:
                node, r = frontier.pop(0)
                for _ in range(rng.randint(1, 3) if node.depth < 3 else 0):
                    terminal = node.depth == 2 or rng.random() < 0.3
                    answer = rng.choice(["1", "2", "3", None]) if terminal else None
                    child = graph.add(node, "a", (terminal, answer))
                    child.value = round(rng.random(), 3)
                    cr = _Ref(child.value, answer, terminal, child.depth)
                    r.children.append(cr)
                    if not terminal:
                        frontier.append((child, cr))
            got = aggregate(graph, MCTS(n_iterations=1, depth=5), policy)  # type: ignore[arg-type]
            out["got"], out["want"] = got.answer, _reference(ref, policy)
            from ponder.types import Result

            return Result(answer="x")

    await run_agent(Build(), "q", backend=ScriptedBackend(["x"]), store=store)
    assert out["got"] == out["want"]


def test_rewards_are_llm_reasoners_combination() -> None:
    from ponder.agents.rap.gsm8k import combined

    assert combined(0.64, 0.8 * 0 + 1.0, 0.5) == pytest.approx(0.8)
    assert combined(0.9, 0.8, 0.5) == pytest.approx(math.sqrt(0.9 * 0.8))
    state = GSMState(steps=(SubResult("Now we can answer the question: How many?", "So 7. The answer is 7.", 1.0),))
    world = GSMWorld(P.GSMPrompts("How many?", (0,)), _settings())
    assert world.is_terminal(state) and world.answer(state) == "7"
    assert not world.is_terminal(GSMState(steps=(SubResult("How many?", "7", 1.0),)))
