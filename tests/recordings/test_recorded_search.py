"""The search strategies' recordings, made from a scripted GPT-4-like model
(`python -m tests.recordings.record_scripted`), replayed with no model."""

from __future__ import annotations

from ponder.agents.beam import BeamAgent
from ponder.agents.mcts import MCTSAgent
from ponder.agents.tot import TreeOfThoughts
from tests.recordings.record_scripted import PUZZLE


async def test_tot_game24_faithful(ponder_replay) -> None:  # type: ignore[no-untyped-def]
    rec = ponder_replay("tot_game24_faithful")
    result = await rec.run(TreeOfThoughts(env="game24", faithful=True, breadth=1), PUZZLE)
    assert result.correct is True and result.metadata["answer_source"] == "answer line"
    assert [f["correct"] for f in result.metadata["finalists"]] == [True]


async def test_tot_game24_checked(ponder_replay) -> None:  # type: ignore[no-untyped-def]
    rec = ponder_replay("tot_game24_checked")
    result = await rec.run(TreeOfThoughts(env="game24", breadth=1), PUZZLE)
    assert result.correct is True and result.metadata["invalid"] > 0, "the scripted model's bad steps are checked"


async def test_mcts_game24_parallel(ponder_replay) -> None:  # type: ignore[no-untyped-def]
    rec = ponder_replay("mcts_game24")
    agent = MCTSAgent.model_validate(
        {"env": "game24", "n_iterations": 4, "parallel": 2, "rollout_depth": 3, "n_evaluate": 1}
    )
    result = await rec.run(agent, PUZZLE)
    assert result.correct is True


async def test_beam_game24(ponder_replay) -> None:  # type: ignore[no-untyped-def]
    rec = ponder_replay("beam_game24")
    result = await rec.run(BeamAgent.model_validate({"env": "game24", "width": 1, "n_evaluate": 1}), PUZZLE)
    assert result.correct is True
