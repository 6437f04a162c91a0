"""Graph of Thoughts (Besta et al. 2024, spcl/graph-of-thoughts): a Graph of Operations over dict-state thoughts.

`agent` is the strategy (`GraphOfThoughts`); `kinds` declares its event kinds (light: a viewer
imports it alone).
"""
