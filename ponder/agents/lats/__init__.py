"""LATS, Language Agent Tree Search (Zhou et al. 2024): MCTS over ReAct-style trajectories in a world.

`agent` is the strategy (`Lats`); `world` the worlds a trajectory acts in (an env, a code task,
tool calls); `problem` the world model on the search layer (trajectories, prompts, scores);
`search` the generator and evaluator; `search_tests` the tests the search checks code against.
"""
