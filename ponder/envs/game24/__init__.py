"""Game of 24 (the ToT paper's first task), as one package whose modules import one way:

`expressions` (parser, verifier) ← `puzzles` (solver, generator, loader) ← `steps` (step checker)
← `thoughts` (the tree-search problem, with `prompts`) ← `env` (the registered `game24` env).
"""

from ponder.envs.game24.env import Game24Env, numbers_of
from ponder.envs.game24.expressions import TARGET, clean_answer, parse_expression, verify
from ponder.envs.game24.puzzles import (
    Puzzle,
    all_puzzles,
    count_solutions,
    load_puzzles,
    parse_puzzle,
    sample_puzzles,
    solve,
)
from ponder.envs.game24.steps import check_step, propose_steps
from ponder.envs.game24.thoughts import Game24Thoughts

__all__ = [
    "TARGET",
    "Game24Env",
    "Game24Thoughts",
    "Puzzle",
    "all_puzzles",
    "check_step",
    "clean_answer",
    "count_solutions",
    "load_puzzles",
    "numbers_of",
    "parse_expression",
    "parse_puzzle",
    "propose_steps",
    "sample_puzzles",
    "solve",
    "verify",
]
