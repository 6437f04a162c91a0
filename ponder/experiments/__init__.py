"""Experiments: a strategy run over an env's tasks and what is read back from them.

`bench` runs a sweep (`sweeps` plans it, `sharding` slices it, `scale` runs shards beyond one
process); `results` reads an experiment back, `task_results` per task and its summary figures
(`metrics`: pass@k, `oracle`: any-of-b and best-of-k); `comparison` sets experiments side by
side, `plot` charts accuracy against tokens, `labels` names strategies and figures for display.

Nothing is imported here: a viewer that only labels an experiment loads no strategy.
"""
