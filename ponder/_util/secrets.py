"""Redaction of secrets: every string ponder stores, prints or exports passes through `redact`.

A backend that holds a credential registers it with `register_secret` when it is built;
`redact` then removes that value (and any value given to an Authorization / api-key
header, whoever's it is) from any text, whatever path it arrived by: an error body that
echoes the request headers, an exception message, a model's reply.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

REDACTED = "***"

_MIN_SECRET = 4  # shorter values would redact ordinary words; no real key is this short
_secrets: set[str] = set()
_lock = threading.Lock()
_pattern: re.Pattern[str] | None = None

# `authorization: Bearer sk-…`, `"api-key": "…"`, `x-api-key=…` (headers echoed as text, JSON or a repr);
# the value is everything up to the end of the quoted string / line, so "Bearer <token>" goes whole
_HEADER = re.compile(
    r"""(?ix)
    (?P<name>(?:proxy-)?authorization|x-api-key|api[-_]key|openai[-_]api[-_]key)
    (?P<sep>\\?["']?\s*[:=]\s*\\?["']?)
    (?P<value>(?:(?:bearer|basic|token)\s+)?[^\s"'\\,;}\])]+)
    """
)

_HEADER_NAME = re.compile(r"(?i)(?:proxy-)?authorization|x-api-key|api[-_]key|openai[-_]api[-_]key")


def register_secret(value: str | None) -> None:
    """Remember `value` (an API key in use) so that `redact` removes it from every string from now on."""
    global _pattern
    if not value or len(value) < _MIN_SECRET:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        forms: set[str] = set()
        for s in _secrets:
            forms.add(s)
            forms.add(json.dumps(s)[1:-1])  # as it appears inside a JSON string
        # longest first, so a key that contains another is removed whole
        _pattern = re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)))


def _may_name_a_header(text: str) -> bool:
    """False only when `text` surely holds no header name `_HEADER` matches (a cheap test first)."""
    if not text.isascii():  # case-insensitive matching of non-ASCII text (K, ı, ...) is left to the regex
        return True
    low = text.lower()
    return "authorization" in low or "api-key" in low or "api_key" in low


def redact(text: str) -> str:
    """`text` with every registered secret and every Authorization / api-key header value replaced by ***."""
    if not text:
        return text
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    # the header scan is the costly part of a store write: most text names no header at all
    if not _may_name_a_header(text):
        return text
    return _HEADER.sub(lambda m: f"{m.group('name')}{m.group('sep')}{REDACTED}", text)


def redact_opt(text: str | None) -> str | None:
    """`redact` that lets None through (for optional record fields)."""
    return None if text is None else redact(text)


def redact_data(obj: Any) -> Any:
    """A copy of a JSON-like value (dicts, lists, strings) with every string redacted."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {
            k: REDACTED if isinstance(k, str) and _HEADER_NAME.fullmatch(k) and v else redact_data(v)
            for k, v in obj.items()
        }
    if isinstance(obj, list | tuple):
        return [redact_data(v) for v in obj]
    return obj
