"""Read JSONL defensively: one bad line is reported, never fatal."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from ponder.errors import ConfigError

_BOM = b"\xef\xbb\xbf"  # a byte-order mark some editors put first: not part of the first line


def iter_jsonl(path: str | os.PathLike[str], *, what: str = "") -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """(line number, object, "") for each good line; (line number, None, reason) for each bad one.

    Blank lines are skipped; a file that cannot be opened is a `ConfigError` (`what` names it).
    """
    for i, obj, reason, _ in iter_jsonl_at(path, what=what):
        yield i, obj, reason


def iter_jsonl_at(
    path: str | os.PathLike[str], *, offset: int = 0, line: int = 0, what: str = ""
) -> Iterator[tuple[int, dict[str, Any] | None, str, int]]:
    """`iter_jsonl` from byte `offset` (the start of line `line` + 1), each item with the offset after it.

    So a reader can note where it is and, later, go on from there (a resumed corpus build).
    """
    try:
        fh = open(path, "rb")  # noqa: SIM115
    except OSError as e:
        raise ConfigError(f"cannot read {what + ' ' if what else ''}{path}: {e.strerror or e}") from None
    with fh:
        fh.seek(offset)
        at = offset
        for i, raw in enumerate(fh, line + 1):
            start, at = at, at + len(raw)
            if start == 0 and raw.startswith(_BOM):
                raw = raw[len(_BOM) :]
            text = raw.decode("utf-8", "replace")
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as e:
                yield i, None, f"not JSON ({e.msg})", at
                continue
            if not isinstance(obj, dict):
                yield i, None, f"expected an object, got {type(obj).__name__}", at
                continue
            yield i, obj, "", at
