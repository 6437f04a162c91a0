"""What every table module of the store shares: the connection and JSON encoding."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from ponder._util.secrets import redact
from ponder.traces._connection import Connection


def dumps(obj: Any) -> str:
    """JSON text as the store keeps it (UTF-8, non-JSON values as their `str`)."""
    # every JSON column is written through here: no secret survives into the store
    return redact(json.dumps(obj, ensure_ascii=False, default=str))


def now() -> float:
    """The time stamps the store writes (one clock, so tests can freeze it)."""
    return time.time()


def new_id() -> str:
    """A short random id (12 hex digits)."""
    return secrets.token_hex(6)


class StoreBase:
    """The part of `TraceStore` the table modules build on: `path` and the shared connection `_c`."""

    path: str
    _c: Connection
