"""RAP (Reasoning via Planning): MCTS with the language model as the world model and RAP's rewards —
on Blocksworld (`rap`) and on GSM8K-format word problems (`rap_gsm8k`).

`agent` holds the strategies (`RAP`, `RapGSM8K`); `kinds` declares their event kinds (light: a viewer
imports it alone).
"""
