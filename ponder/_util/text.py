"""Untrusted text (model output, tool results, user input) made safe to store and to print.

`clean_text` is applied where text enters ponder (a backend's reply, a task's input, the
store's writes): a lone surrogate (`\\ud800`, or an undecodable byte that Python carries as
`\\udcff`) cannot be encoded as UTF-8, so it becomes U+FFFD, visibly, instead of crashing the
write and losing the reply. `safe_text` is for terminals, `json_text` for JSON streams; both
redact secrets (`_secrets`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from ponder._util.secrets import redact

# CSI / OSC / other ESC sequences, then any remaining C0/C1 control character but \n and \t
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# what json.dumps(ensure_ascii=False) leaves raw but a terminal or a UTF-8 stream must not get:
# DEL, the C1 controls (U+009B is a CSI on many terminals) and lone surrogates
_JSON_UNSAFE = re.compile("[\x7f-\x9f\ud800-\udfff]")


def clean_text(s: str) -> str:
    """`s` with every lone surrogate replaced by U+FFFD, so it encodes as UTF-8 (a no-op for normal text)."""
    if _SURROGATE.search(s) is None:
        return s
    # a surrogate pair split over two code points is joined back into its character
    return s.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def clean_data(obj: Any) -> Any:
    """A JSON-like value (dicts, lists, strings) with `clean_text` applied to every string, keys included."""
    if isinstance(obj, str):
        return clean_text(obj)
    if isinstance(obj, dict):
        return {clean_data(k): clean_data(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean_data(v) for v in obj]
    return obj


def first_undecodable(s: str) -> tuple[int, str] | None:
    """Where `s` (e.g. a command-line argument) held bytes that are not UTF-8: (position, the byte as 0xNN)."""
    m = _SURROGATE.search(s)
    if m is None:
        return None
    code = ord(m.group(0))
    byte = f"0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"U+{code:04X}"
    return m.start(), byte


def safe_text(s: object, *, visible: bool = False) -> str:
    """`s` as text, secrets redacted, with terminal control sequences removed (or shown as `␛[…` when `visible`)."""
    text = redact(clean_text(str(s)))
    if visible:
        text = _ANSI.sub(lambda m: "␛" + m.group(0)[1:], text)
        return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)
    return _CONTROL.sub("", _ANSI.sub("", text))


def escape_json_text(text: str) -> str:
    """JSON text, secrets redacted, with DEL, C1 controls and lone surrogates written as `\\uXXXX` escapes.

    Lossless: they can only occur inside JSON strings, where the escape means the same character.
    """
    return redact(_JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text))


def json_text(obj: Any) -> str:
    """`obj` as one line of JSON that is safe to print: non-ASCII kept readable, control characters escaped."""
    return escape_json_text(json.dumps(obj, ensure_ascii=False, default=str))
