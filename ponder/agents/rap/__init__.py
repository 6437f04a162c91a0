"""RAP (Reasoning via Planning): MCTS with the language model as the world model and RAP's rewards.

`agent` is the strategy (`RAP`); `kinds` declares its event kinds (light: a viewer imports it alone).
"""
