"""Tree-of-Thoughts: BFS and DFS (pruning, backtracking, chosen path), value vs vote, Game-24 prompts."""

from __future__ import annotations

import asyncio
import itertools
import random
import re
from collections.abc import Callable
from fractions import Fraction

import pytest
from pydantic import ValidationError

from ponder.agents.tot import TreeOfThoughts
from ponder.backends.replay import ReplayBackend
from ponder.backends.scripted import ScriptedBackend
from ponder.envs.game24 import Game24Env, propose_steps, solve, verify
from ponder.envs.game24.puzzles import _paths
from ponder.errors import BackendError, ConfigError
from ponder.search.bfs import BFSSettings
from ponder.search.dfs import DFSSettings
from ponder.traces.events import EventRecord
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest, Task

PUZZLE = "4 9 10 13"


def _kind(p: str) -> str:
    if p.rstrip().endswith("Possible next steps:"):
        return "propose"
    if "Evaluate if given numbers can reach 24" in p:
        return "value"
    if p.rstrip().endswith("Judge:"):
        return "judge"
    if "best choice is" in p:
        return "vote"
    if "Steps:" in p:
        return "answer"
    return "other"


def game24_responder(
    propose: dict[str, str] | None = None, values: dict[str, str] | None = None
) -> Callable[[CompletionRequest], str]:
    """A scripted model for Game of 24, keyed on prompt content; overrides by the numbers in the prompt."""
    propose, values = propose or {}, values or {}

    def respond(req: CompletionRequest) -> str:
        p = req.messages[-1].content
        kind = _kind(p)
        if kind == "propose":
            nums = p.rstrip().split("\n")[-2].removeprefix("Input: ").strip()
            return propose.get(nums, "\n".join(propose_steps(nums, limit=40)))
        if kind == "value":
            nums = p.rstrip().split("\n")[-1].strip()
            if nums in values:
                return values[nums]
            reach = _paths(tuple(sorted(Fraction(t) for t in nums.split())))
            return "sure" if reach else "impossible"
        if kind == "judge":
            return "sure"
        if kind == "answer":
            x = re.findall(r"Input: (.*)\n", p)[-1]
            return f"Answer: {solve([int(t) for t in x.split()])} = 24"
        return "The answer is 0"

    return respond


def _events(store: TraceStore, run_id: str, kind: str) -> list[EventRecord]:
    return [e for e in store.events(run_id, with_data=True) if e.kind == kind]


def _kinds(backend: ScriptedBackend) -> list[str]:
    return [_kind(r.messages[-1].content) for r in backend.requests]


def test_env_gives_the_paper_defaults_and_explicit_settings_win() -> None:
    a = TreeOfThoughts.model_validate({"env": "game24"})
    assert (a.method_generate, a.method_evaluate, a.n_evaluate, a.search) == (
        "propose",
        "value",
        3,
        BFSSettings(breadth=5, depth=4),
    )
    b = TreeOfThoughts.model_validate({"env": "game24", "value_threshold": "2", "search": "dfs"})
    assert b.search == DFSSettings(depth=4, value_threshold=2.0), "the env's depth applies; its breadth is BFS's"
    c = TreeOfThoughts.model_validate({"env": "game24", "n_select_sample": 2, "n_evaluate_sample": 1, "steps": 3})
    assert (c.search, c.n_evaluate) == (BFSSettings(breadth=2, depth=3), 1), "the paper code's names work too"
    # each algorithm takes only its own settings, and says whose a stray one is
    with pytest.raises(ConfigError, match=r"breadth is a setting of search=.*bfs.*not of search=dfs"):
        TreeOfThoughts.model_validate({"env": "game24", "breadth": "2", "search": "dfs"})
    with pytest.raises(ConfigError, match="unknown search 'astar'"):
        TreeOfThoughts.model_validate({"search": "astar"})
    with pytest.raises(ValidationError, match="max_steps"):
        TreeOfThoughts.model_validate({"search": "dfs", "max_steps": 0})
    # a config recorded before the search layer (flat, every algorithm's keys) still rebuilds
    legacy = {"search": "bfs", "breadth": 2, "depth": 2, "value_threshold": 1.0, "max_steps": 30, "max_tokens": 128}
    d = TreeOfThoughts.model_validate(legacy)
    assert d.search == BFSSettings(breadth=2, depth=2)
    assert TreeOfThoughts.model_validate(d.model_dump()) == d, "the dumped config rebuilds the same agent"
    with pytest.raises(ConfigError, match="unknown env"):
        TreeOfThoughts.model_validate({"env": "chess"})


async def test_bfs_game24_finds_a_verified_answer_and_marks_the_tree(store: TraceStore) -> None:
    backend = ScriptedBackend(game24_responder())
    r = await TreeOfThoughts(env="game24").arun(PUZZLE, backend=backend, store=store)
    assert r.answer is not None and verify((4, 9, 10, 13), r.answer)
    assert r.correct is True
    nodes = _events(store, r.run_id, "node")
    by_seq = {n.seq: n for n in nodes}
    root = nodes[0]
    assert root.label == "root" and root.parent_seq is None
    # every node hangs under its parent thought, depth by depth
    for n in nodes[1:]:
        assert n.parent_seq in by_seq
        assert n.data is not None and n.data["depth"] == by_seq[n.parent_seq].data["depth"] + 1  # type: ignore[index]
    chosen = [n for n in nodes if n.status == "chosen"]
    assert [n.data["depth"] for n in chosen] == [0, 1, 2, 3, 4]  # type: ignore[index]
    for parent, child in itertools.pairwise(chosen):
        assert child.parent_seq == parent.seq, "the chosen nodes form one path from the root"
    assert chosen[-1].summary.startswith("Answer:")
    statuses = {n.status for n in nodes}
    assert {"pruned", "kept", "chosen"} <= statuses
    # BFS keeps 5 per level: at most 5 propose calls at each depth below the root
    kinds = _kinds(backend)
    assert kinds.count("propose") <= 1 + 5 + 5
    assert kinds.count("answer") <= 5
    # evaluations are recorded under the nodes they score, with the node's value as score
    evals = _events(store, r.run_id, "evaluation")
    assert evals and all(e.parent_seq in by_seq for e in evals)
    assert r.metadata["chosen_path"][-1].startswith("Answer:")


async def test_invalid_steps_are_pruned_without_a_model_call(store: TraceStore) -> None:
    propose = {
        PUZZLE: "\n".join(
            [
                "13 - 10 = 3 (left: 3 4 9)",  # valid
                "4 + 9 = 14 (left: 10 13 14)",  # wrong arithmetic
                "5 * 2 = 10 (left: 4 9 10 13)",  # numbers not there
                "let me think about this",  # not a step
            ]
        )
    }
    backend = ScriptedBackend(game24_responder(propose=propose))
    r = await TreeOfThoughts(env="game24", depth=1).arun(PUZZLE, backend=backend, store=store)
    nodes = _events(store, r.run_id, "node")[1:]
    assert [n.status for n in nodes].count("invalid") == 3
    assert all(n.data and n.data["error"] for n in nodes if n.status == "invalid")
    assert _kinds(backend) == ["propose", "value"], "only the valid step is valued"
    assert r.metadata["invalid"] == 3


async def test_unparseable_values_are_recorded_and_count_zero(store: TraceStore) -> None:
    values = {"3 4 9": "I am not sure what to say", "10 13 13": "sure"}
    propose = {PUZZLE: "13 - 10 = 3 (left: 3 4 9)\n4 + 9 = 13 (left: 10 13 13)"}
    backend = ScriptedBackend(game24_responder(propose=propose, values=values))
    r = await TreeOfThoughts(env="game24", depth=1, breadth=1).arun(PUZZLE, backend=backend, store=store)
    evals = _events(store, r.run_id, "evaluation")
    bad = [e for e in evals if e.status == "invalid"]
    assert len(bad) == 1 and bad[0].score == 0.0
    assert bad[0].data is not None and bad[0].data["invalid"] == 3
    nodes = {n.summary: n for n in _events(store, r.run_id, "node")}
    assert nodes["4 + 9 = 13 (left: 10 13 13)"].score == 20.0
    assert nodes["13 - 10 = 3 (left: 3 4 9)"].status == "pruned"


async def test_identical_value_prompts_are_asked_once(store: TraceStore) -> None:
    propose = {PUZZLE: "4 + 9 = 13 (left: 10 13 13)\n9 + 4 = 13 (left: 10 13 13)"}
    backend = ScriptedBackend(game24_responder(propose=propose))
    r = await TreeOfThoughts(env="game24", depth=1).arun(PUZZLE, backend=backend, store=store)
    assert _kinds(backend) == ["propose", "value"]
    evals = _events(store, r.run_id, "evaluation")
    assert len(evals) == 2 and sum(1 for e in evals if e.data and e.data.get("cached")) == 1
    assert r.metadata["value_calls_saved"] == 1


async def test_value_samples_use_n_or_branches(store: TraceStore) -> None:
    propose = {PUZZLE: "13 - 10 = 3 (left: 3 4 9)"}
    with_n = ScriptedBackend(game24_responder(propose=propose), supports_n=True)
    await TreeOfThoughts(env="game24", depth=1).arun(PUZZLE, backend=with_n, store=store)
    assert [r.n for r in with_n.requests] == [1, 3]
    without = ScriptedBackend(game24_responder(propose=propose), supports_n=False)
    r = await TreeOfThoughts(env="game24", depth=1).arun(PUZZLE, backend=without, store=store)
    assert [q.n for q in without.requests] == [1, 1, 1, 1]
    branches = sorted(c.branch for c in store.llm_calls(r.run_id))
    assert branches == ["n0", "v1.s0", "v1.s1", "v1.s2"]


async def test_vote_evaluation_picks_the_voted_state(store: TraceStore) -> None:
    question = "Plan a 3-word slogan for a bakery."

    def respond(req: CompletionRequest) -> str:
        p = req.messages[-1].content
        if "best choice is" in p:
            return "Choice 2 is the most promising.\nThe best choice is 2"
        if "Possible next steps" in p and "(none yet)" in p:
            return "1. Fresh bread daily\n2. Answer: Warm Crusty Joy\n3. Think about flour"
        return "The answer is nothing"

    backend = ScriptedBackend(respond)
    agent = TreeOfThoughts(method_evaluate="vote", n_vote=3, depth=1, breadth=1)
    r = await agent.arun(question, backend=backend, store=store)
    assert r.answer == "Warm Crusty Joy"
    votes = _events(store, r.run_id, "evaluation")
    assert len(votes) == 1 and votes[0].data is not None
    assert votes[0].data["votes"] == [0.0, 3.0, 0.0]
    assert [q.n for q in backend.requests if "best choice" in q.messages[-1].content] == [3]
    nodes = _events(store, r.run_id, "node")
    assert [n.status for n in nodes] == ["chosen", "pruned", "chosen", "pruned"]


async def test_generic_bfs_with_final_answer_prompt(store: TraceStore) -> None:
    question = "What is 17 * 23?"

    def respond(req: CompletionRequest) -> str:
        p = req.messages[-1].content
        if p.rstrip().endswith("Possible next steps:"):
            return "17 * 20 = 340\n17 * 3 = 51" if "(none yet)" in p else "340 + 51 = 391"
        if "sure, likely or impossible" in p:
            return "sure" if "340" in p else "likely"
        if "give the final answer" in p:
            return "Answer: 391"
        return ""

    backend = ScriptedBackend(respond)
    r = await TreeOfThoughts(depth=2, breadth=1, n_evaluate=1).arun(question, backend=backend, store=store)
    assert r.answer == "391"
    thoughts = _events(store, r.run_id, "thought")
    assert len(thoughts) == 1 and thoughts[0].label == "final answer"
    chosen = [n.summary for n in _events(store, r.run_id, "node") if n.status == "chosen"]
    assert chosen == [question, "17 * 20 = 340", "340 + 51 = 391"]


async def test_dfs_backtracks_from_a_misleading_branch(store: TraceStore) -> None:
    propose = {
        PUZZLE: "4 + 9 = 13 (left: 10 13 13)\n13 - 10 = 3 (left: 3 4 9)\n4 * 9 = 36 (left: 10 13 36)",
        "10 13 13": "13 - 10 = 3 (left: 3 13)\n13 + 13 = 26 (left: 10 26)",
        "3 4 9": "9 - 3 = 6 (left: 4 6)",
        "4 6": "4 * 6 = 24 (left: 24)",
    }
    values = {
        "10 13 13": "sure",  # misleading: looks best, leads nowhere
        "3 4 9": "likely",
        "10 13 36": "impossible",
        "3 13": "impossible",
        "10 26": "impossible",
    }
    backend = ScriptedBackend(game24_responder(propose=propose, values=values))
    agent = TreeOfThoughts(env="game24", search="dfs", value_threshold=0.5)
    r = await agent.arun(PUZZLE, backend=backend, store=store)
    assert r.answer is not None and verify((4, 9, 10, 13), r.answer) and r.correct is True
    nodes = {n.summary: n for n in _events(store, r.run_id, "node")}
    misleading = nodes["4 + 9 = 13 (left: 10 13 13)"]
    assert misleading.status == "pruned" and "backtracked" in misleading.data["reason"]  # type: ignore[index]
    assert nodes["4 * 9 = 36 (left: 10 13 36)"].status == "pruned"
    assert "threshold" in nodes["4 * 9 = 36 (left: 10 13 36)"].data["reason"]  # type: ignore[index]
    assert [n.status for n in (nodes["13 - 10 = 3 (left: 3 4 9)"], nodes["9 - 3 = 6 (left: 4 6)"])] == [
        "chosen",
        "chosen",
    ]
    # the misleading branch was expanded before the good one (depth first, best value first)
    proposes = [
        q.messages[-1].content.rstrip().split("\n")[-2]
        for q in backend.requests
        if "Possible next" in q.messages[-1].content
    ]
    assert proposes[:3] == ["Input: 4 9 10 13", "Input: 10 13 13", "Input: 3 4 9"]


async def test_dfs_step_limit_gives_up_cleanly(store: TraceStore) -> None:
    backend = ScriptedBackend(game24_responder(values={"10 13 13": "likely"}))
    r = await TreeOfThoughts(env="game24", search="dfs", max_steps=1).arun(PUZZLE, backend=backend, store=store)
    assert r.answer is None and r.correct is False
    assert _kinds(backend).count("propose") == 1


async def test_sample_generation_uses_n_generate_sample(store: TraceStore) -> None:
    def respond(req: CompletionRequest) -> str:
        p = req.messages[-1].content
        if "Evaluate if" in p:
            return "likely"
        return "13 - 10 = 3 (left: 3 4 9)\nextra line ignored"

    backend = ScriptedBackend(respond)
    agent = TreeOfThoughts(env="game24", method_generate="sample", n_generate_sample=2, depth=1, n_evaluate=1)
    r = await agent.arun(PUZZLE, backend=backend, store=store)
    assert backend.requests[0].n == 2 and "Steps:" in backend.requests[0].messages[-1].content
    nodes = _events(store, r.run_id, "node")[1:]
    assert [n.summary for n in nodes] == ["13 - 10 = 3 (left: 3 4 9)"] * 2
    dup = [e for e in _events(store, r.run_id, "evaluation") if e.label == "duplicate"]
    assert len(dup) == 1, "a repeated state gets 0, as in the paper"


async def test_not_a_puzzle_is_a_clear_error(store: TraceStore) -> None:
    with pytest.raises(ConfigError, match="four whole numbers in 1–13"):
        await TreeOfThoughts(env="game24").arun("4 9 10 99", backend=ScriptedBackend([]), store=store)


async def test_deterministic_under_random_delays_and_replay(store: TraceStore) -> None:
    def make(seed: int) -> ScriptedBackend:
        rng = random.Random(seed)
        respond = game24_responder()

        async def delayed(req: CompletionRequest) -> str:
            await asyncio.sleep(rng.random() / 2000)
            return respond(req)

        return ScriptedBackend(delayed, supports_n=False)

    def shape(run_id: str) -> list[tuple]:
        return sorted(
            (e.kind, e.branch, e.label, e.summary, e.status, e.score)
            for e in store.events(run_id)
            if e.kind != "llm_call"
        )

    results = []
    for seed in (3, 4):
        b = make(seed)
        r = await TreeOfThoughts(env="game24", breadth=2).arun(PUZZLE, backend=b, store=store)
        calls = sorted((c.branch, c.sample_index, c.request_key) for c in store.llm_calls(r.run_id))
        results.append((r, [q.key() for q in b.requests], calls))
    (r1, q1, c1), (r2, q2, c2) = results
    assert q1 == q2, "the same requests in the same order"
    assert c1 == c2
    assert r1.answer == r2.answer
    assert shape(r1.run_id) == shape(r2.run_id)
    # nodes are recorded in a stable order whatever order the answers came in
    nodes = lambda rid: [(e.summary, e.parent_seq) for e in store.events(rid) if e.kind == "node"]  # noqa: E731
    assert [s for s, _ in nodes(r1.run_id)] == [s for s, _ in nodes(r2.run_id)]

    # a recorded run replays without a model and produces the same tree
    b = ScriptedBackend(game24_responder(), supports_n=True)
    rec = await TreeOfThoughts(env="game24", breadth=2).arun(PUZZLE, backend=b, store=store)
    rep = await TreeOfThoughts(env="game24", breadth=2).arun(
        PUZZLE, backend=ReplayBackend(store, rec.run_id), store=store
    )
    assert rep.answer == rec.answer
    assert shape(rec.run_id) == shape(rep.run_id)


async def test_replay_of_a_tot_run_recorded_without_n(store: TraceStore) -> None:
    b = ScriptedBackend(game24_responder(), supports_n=False)
    rec = await TreeOfThoughts(env="game24", breadth=2).arun(PUZZLE, backend=b, store=store)
    replay = ReplayBackend(store, rec.run_id)
    rep = await TreeOfThoughts(env="game24", breadth=2).arun(PUZZLE, backend=replay, store=store)
    assert rep.answer == rec.answer and replay.served == len(b.requests)
    nodes = lambda rid: [(e.summary, e.status, e.score) for e in store.events(rid) if e.kind == "node"]  # noqa: E731
    assert nodes(rec.run_id) == nodes(rep.run_id)


async def test_a_failed_value_call_marks_that_node_error_not_the_run(store: TraceStore) -> None:
    propose = {PUZZLE: "13 - 10 = 3 (left: 3 4 9)\n4 + 9 = 13 (left: 10 13 13)"}
    respond = game24_responder(propose=propose)

    def flaky(req: CompletionRequest) -> str:
        if req.messages[-1].content.rstrip().endswith("3 4 9"):
            raise BackendError("server said 500")
        return respond(req)

    r = await TreeOfThoughts(env="game24", depth=1, breadth=2, n_evaluate=1).arun(
        PUZZLE, backend=ScriptedBackend(flaky), store=store
    )
    # the search went on past the failed call; it ended with no answer (a depth-1 game24 tree has none)
    assert r.error == "no answer: the tot search reached no state with an answer" and r.metadata["errors"] == 1
    nodes = {n.summary: n for n in _events(store, r.run_id, "node")}
    failed = nodes["13 - 10 = 3 (left: 3 4 9)"]
    assert failed.status == "error" and failed.data is not None and "500" in failed.data["reason"]
    assert nodes["4 + 9 = 13 (left: 10 13 13)"].status in ("kept", "chosen")
    errors = [e for e in _events(store, r.run_id, "evaluation") if e.status == "error"]
    assert len(errors) == 1 and errors[0].parent_seq == failed.seq


async def test_a_failed_vote_marks_its_states_error(store: TraceStore) -> None:
    def respond(req: CompletionRequest) -> str:
        if "best choice is" in req.messages[-1].content:
            raise BackendError("server said 503")
        return "Step one\nStep two"

    agent = TreeOfThoughts(method_evaluate="vote", depth=1, n_propose=2, n_vote=1)
    r = await agent.arun("Name a colour.", backend=ScriptedBackend(respond), store=store)
    assert r.status == "error" and r.answer is None and r.metadata["errors"] == 2
    assert r.error is not None and r.error.startswith("no answer:") and "503" not in r.error
    assert [n.status for n in _events(store, r.run_id, "node")[1:]] == ["error", "error"]
    (vote,) = _events(store, r.run_id, "evaluation")
    assert vote.status == "error" and "503" in vote.summary


def test_steps_with_trailing_text_are_read_and_still_checked() -> None:
    problem = TreeOfThoughts(env="game24").problem(Task(id="p", input="1 3 8 13"), Game24Env())
    reply = "1 * 3 = 3 (left: 3 8 13) (repeated)\n13 - 8 = 5 (left: 1 3 5) ≈ five\n1 + 3 = 5 (left: 5 8 13) (approx.)"
    steps = problem.parse_steps("", reply)
    assert [e for _, e in steps][:2] == [None, None], "the left: numbers are read, the trailing text ignored"
    assert steps[2][1] is not None and "is 4, not 5" in steps[2][1], "the arithmetic is still checked"


async def test_generic_search_on_a_code_env_asks_for_the_answer_in_the_envs_format(store: TraceStore) -> None:
    # a code env is not a tree-search env: the steps are generic, but the final answer must be the
    # whole function in the env's format (a fenced block), not an "Answer:" line
    from ponder.envs.code import CodeEnv
    from ponder.runtime.runner import run_agent

    env = CodeEnv()  # HumanEval-format tasks shipped with ponder (no `bench` extra needed)
    task = next(iter(env.tasks()))
    code = "def add(a, b):\n    return a + b"
    prompts: list[str] = []

    def respond(req: CompletionRequest) -> str:
        p = req.messages[-1].content
        prompts.append(p)
        if p.rstrip().endswith("Possible next steps:"):
            return "Compare every pair" if "(none yet)" in p else "Answer: return True"
        if "sure, likely or impossible" in p:
            return "likely"
        return f"Here it is:\n```python\n{code}\n```"

    judged: list[str | None] = []

    def evaluator(t: Task, answer: str | None) -> tuple[bool | None, float | None]:
        judged.append(answer)
        return (False, 0.0)

    agent = TreeOfThoughts(depth=2, breadth=1, n_evaluate=1)
    r = await run_agent(agent, task, backend=ScriptedBackend(respond), store=store, env=env, evaluator=evaluator)
    assert r.answer is not None and r.answer.strip() == code and judged == [r.answer]
    final = prompts[-1]
    assert env.cot_prompt(task) is not None and final.startswith(env.cot_prompt(task).strip())  # type: ignore[union-attr]
    assert "Compare every pair" in final and "answer exactly as asked" in final
    thoughts = _events(store, r.run_id, "thought")
    assert [t.label for t in thoughts] == ["final answer"] and thoughts[0].status == "ok"


def test_an_env_without_a_tree_search_problem_is_refused_when_the_agent_is_built() -> None:
    # a bench on humaneval then builds the search without the env (generic steps, the env's answer format)
    from ponder.envs.code import CodeEnv
    from ponder.experiments.sweeps import build_agent

    with pytest.raises(ConfigError, match="no tree-search problem"):
        TreeOfThoughts(env="code")
    agent = build_agent("mcts", {}, env=CodeEnv())
    assert getattr(agent, "env", "?") is None
