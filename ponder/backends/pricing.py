"""Known prices per million tokens; cost is computed only where a price is known, never invented."""

from __future__ import annotations

from ponder.types import Usage

# USD per 1M tokens: (input, output). Prefix match on the model name, longest prefix first.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-3.5-turbo": (0.50, 1.50),
}


def cost_usd(model: str | None, usage: Usage, *, free: bool = False) -> float | None:
    """The cost of `usage` on `model`, or None where no price is known; 0 for a free backend's calls."""
    if free:
        return 0.0
    if not model:
        return None
    name = model.lower().rsplit("/", 1)[-1]
    for prefix in sorted(PRICES, key=len, reverse=True):
        if name.startswith(prefix):
            inp, out = PRICES[prefix]
            return (usage.prompt_tokens * inp + usage.completion_tokens * out) / 1_000_000
    return None


def backend_is_free(name: str | None) -> bool:
    """Whether calls to the backend registered as `name` cost nothing (False for a name not registered)."""
    from ponder import registry
    from ponder.errors import ConfigError

    try:
        return bool(name) and registry.backend_entry(str(name)).free
    except ConfigError:
        return False
