"""LLMCompiler (Kim et al. 2024): a planner streams numbered tool calls with `$N` references, each
dispatched as soon as its inputs exist; a joiner finishes or replans. `agent` is the strategy
(`LLMCompiler`); `plan` the plan's parser, the joiner's decision and the event kinds (light: a
viewer loads it alone); `fetch` the task fetching unit, which starts the tasks while the plan streams.
"""
