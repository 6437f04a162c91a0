"""Read JSONL defensively: one bad line is reported, never fatal."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from ponder.errors import ConfigError


def iter_jsonl(path: str | os.PathLike[str], *, what: str = "") -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """(line number, object, "") for each good line; (line number, None, reason) for each bad one.

    Blank lines are skipped; a file that cannot be opened is a `ConfigError` (`what` names it).
    """
    try:
        # utf-8-sig: a byte-order mark some editors put first is not part of the first line
        fh = open(path, encoding="utf-8-sig", errors="replace")  # noqa: SIM115
    except OSError as e:
        raise ConfigError(f"cannot read {what + ' ' if what else ''}{path}: {e.strerror or e}") from None
    with fh:
        for i, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                yield i, None, f"not JSON ({e.msg})"
                continue
            if not isinstance(obj, dict):
                yield i, None, f"expected an object, got {type(obj).__name__}"
                continue
            yield i, obj, ""
