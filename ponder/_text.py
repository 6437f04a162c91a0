"""Make untrusted text (model output, tool results) safe to print to a terminal."""

from __future__ import annotations

import re

from ponder._secrets import redact

# CSI / OSC / other ESC sequences, then any remaining C0/C1 control character but \n and \t
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe_text(s: object, *, visible: bool = False) -> str:
    """`s` as text, secrets redacted, with terminal control sequences removed (or shown as `␛[…` when `visible`)."""
    text = redact(str(s))
    if visible:
        text = _ANSI.sub(lambda m: "␛" + m.group(0)[1:], text)
        return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)
    return _CONTROL.sub("", _ANSI.sub("", text))
