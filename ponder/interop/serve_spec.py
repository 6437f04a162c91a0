"""What a `ponder serve` request asks for: the strategy, upstream and options its `model` names, its
options from the body, and the task its messages make.

The model name is `STRATEGY[@UPSTREAM][#KEY=VALUE,...]`:

- `STRATEGY`: a registered agent (`ponder agents`): `cot`, `self_consistency`, `tot`, ...
- `UPSTREAM` (optional): `BACKEND:MODEL` (`openai:gpt-4o`, `local:qwen2.5-coder-0.5b`), a config
  profile's name (`tot@vllm`), a backend's name (`cot@local`), or else a model name for the upstream
  `ponder serve` was started with (`self_consistency@qwen2.5-coder-0.5b`; by default the local backend).
  Without it, the upstream `ponder serve` was started with.
- `#KEY=VALUE,...` (optional): strategy options, as `--set` takes them (`self_consistency#k=8,adaptive=true`).

Options in the body's `ponder` object (`extra_body={"ponder": {"k": 8}}` in the openai SDK) are
merged over the suffix's; both are validated by the strategy's own config model.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from ponder import registry
from ponder.backends.base import Backend
from ponder.backends.config import BackendConfig, load_profiles, make_backend, parse_settings, resolve_backend_config
from ponder.errors import ConfigError
from ponder.interop.wire import WireRequest
from ponder.types import Task

OPTIONS_KEY = "ponder"
"""The body field holding strategy options (the openai SDK's `extra_body={"ponder": {...}}`)."""

CONTEXT_PROMPT = Template("Conversation so far:\n$transcript\n\n$question")
"""The task input when the last user message follows other messages (a system prompt, earlier turns)."""


@dataclass(frozen=True)
class StrategySpec:
    """What a model name asks for: a strategy, an upstream (None: the server's own) and options."""

    strategy: str
    upstream: str | None
    options: dict[str, Any]


def parse_model(name: str) -> StrategySpec:
    """`STRATEGY[@UPSTREAM][#KEY=VALUE,...]` as a `StrategySpec`; a `ConfigError` saying what is wrong."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("the request has no model: give 'model': 'STRATEGY[@UPSTREAM]', e.g. 'cot'")
    spec, _, suffix = name.strip().partition("#")
    strategy, at, upstream = spec.partition("@")
    strategy = strategy.strip()
    if at and not upstream.strip():
        raise ConfigError(f"model {name!r}: nothing after '@'; give an upstream (BACKEND:MODEL, a profile or a model)")
    known = registry.names("agents")
    if strategy not in known:
        raise ConfigError(f"model {name!r}: unknown strategy {strategy!r}; known strategies: {', '.join(known)}")
    pairs = [p.strip() for p in suffix.split(",") if p.strip()]
    try:
        options = parse_settings(pairs)
    except ConfigError as e:
        raise ConfigError(f"model {name!r}: bad option suffix: {e}".replace("--set ", "")) from None
    return StrategySpec(strategy, upstream.strip() or None, options)


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), dict) else v
    return out


def strategy_options(spec: StrategySpec, body: Mapping[str, Any]) -> dict[str, Any]:
    """The strategy options of a request: the model suffix's, with the body's `ponder` object over them."""
    given = body.get(OPTIONS_KEY)
    if given is None:
        return spec.options
    if not isinstance(given, dict):
        raise ConfigError(f"'{OPTIONS_KEY}' must be an object of strategy options, e.g. {{\"k\": 8}}")
    return _merge(spec.options, given)


def task_of(req: WireRequest) -> Task:
    """The task a request's messages pose: its last user message, after the conversation before it."""
    users = [i for i, m in enumerate(req.messages) if m.role == "user" and m.content.strip()]
    if not users:
        raise ConfigError("the request has no user message with text: the last one is the strategy's question")
    last = users[-1]
    question = req.messages[last].content
    before = [m for m in req.messages[:last] if m.content.strip()]
    if before:
        transcript = "\n".join(f"{m.role}: {m.content}" for m in before)
        question = CONTEXT_PROMPT.substitute(transcript=transcript, question=question)
    return Task.from_question(question)


class Upstreams:
    """The backends requests name, built once each and shared (a local model loads once).

    default: the backend config `ponder serve` resolved from its flags (as `ponder run` does).
    make: how a config becomes a backend (`make_backend`; tests pass their own).
    """

    def __init__(
        self,
        default: BackendConfig,
        *,
        make: Callable[[BackendConfig], Backend] = make_backend,
        config_path: Path | None = None,
    ) -> None:
        self.default = default
        self._make = make
        self._config_path = config_path
        self._built: dict[str, Backend] = {}
        self._lock = threading.Lock()

    def config_for(self, upstream: str | None) -> BackendConfig:
        """The backend config an upstream name stands for (see the module docstring)."""
        if upstream is None:
            return self.default
        profiles, _ = load_profiles(self._config_path)
        backends = set(registry.names("backends"))
        head, colon, model = upstream.partition(":")
        if colon and (head in profiles or head in backends) and model:
            return resolve_backend_config(backend=head, model=model, config_path=self._config_path)
        if upstream in profiles or upstream in backends:
            return resolve_backend_config(backend=upstream, config_path=self._config_path)
        return self.default.model_copy(update={"model": upstream})

    def get(self, upstream: str | None) -> Backend:
        """The backend for an upstream name, built on first use."""
        cfg = self.config_for(upstream)
        key = cfg.model_dump_json()
        with self._lock:
            backend = self._built.get(key)
            if backend is None:
                backend = self._built[key] = self._make(cfg)
        return backend
