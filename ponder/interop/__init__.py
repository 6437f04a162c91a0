"""ponder between any client and any model: `ponder serve` (strategies behind an OpenAI-compatible
endpoint) and `ponder proxy` (a recording, replaying proxy for any OpenAI-compatible client).

Needs the `serve-api` extra (starlette, uvicorn); nothing here is imported by `import ponder`.
"""
