"""Answer extraction and normalization, shared by every strategy. Model text is untrusted input."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_NUM = r"[-+]?\$?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_PATTERNS = [
    re.compile(r"####\s*(?P<a>[^\n]+)"),
    re.compile(r"\\boxed\{(?P<a>[^{}]+)\}"),
    re.compile(r"(?:the\s+)?(?:final\s+)?answer\s+is\s*[:：]?\s*(?P<a>[^\n]+)", re.IGNORECASE),
    re.compile(r"^\s*(?:final\s+)?answer\s*[:：]\s*(?P<a>[^\n]+)", re.IGNORECASE | re.MULTILINE),
]
_FINAL_NUMBER = re.compile(_NUM)
_TRAILING = " \t.。!;:*`\"'"


def _clean(a: str) -> str:
    a = a.strip().strip(_TRAILING).strip()
    # "3 + 5 = 8" -> "8": an equation's result is the answer
    if "=" in a:
        tail = a.rsplit("=", 1)[1].strip().strip(_TRAILING).strip()
        if tail and re.fullmatch(_NUM, tail):
            a = tail
    a = re.sub(r"^\*\*(.*)\*\*$", r"\1", a).strip()
    # "391 (17 times 23)" -> "391"; keep short text answers whole
    m = re.match(rf"^({_NUM})\b", a)
    if m and len(a) > len(m.group(1)) and not re.match(r"^[\d,.\s]+$", a):
        rest = a[len(m.group(1)) :].strip()
        if (
            rest[:1] in "(,;"
            or rest.lower().startswith(("because", "since", "which"))
            or re.fullmatch(r"[a-z]+(?: [a-z]+)?", rest)
        ):
            a = m.group(1)
    return a.strip().strip(_TRAILING).strip()


def extract_answer(text: str | None) -> str | None:
    """The answer a reasoning text gives: `#### X`, `\\boxed{X}`, `The answer is X`, `Answer: X`,
    else the last number in the text; None when there is none."""
    if not text:
        return None
    for pat in _PATTERNS:
        matches = list(pat.finditer(text))
        if matches:
            a = _clean(matches[-1].group("a"))
            if a:
                return a
    nums = _FINAL_NUMBER.findall(text)
    if nums:
        return _clean(nums[-1])
    return None


def normalize_number(s: str) -> str | None:
    """`1,000` -> `1000`, `3.0` -> `3`, `$5` -> `5`, `-0.50` -> `-0.5`; None if `s` is not a number."""
    t = s.strip().replace(",", "").replace("$", "").replace(" ", "")
    if t.endswith("%"):
        t = t[:-1]
    if not re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)", t):
        return None
    try:
        d = Decimal(t)
    except InvalidOperation:
        return None
    if d == d.to_integral_value():
        return str(int(d))
    return format(d.normalize(), "f")


def normalize_answer(s: str | None) -> str:
    """The form answers are compared and voted in: numbers canonical, text lower-cased and trimmed."""
    if s is None:
        return ""
    s = s.strip().strip(_TRAILING).strip()
    num = normalize_number(s)
    if num is not None:
        return num
    return " ".join(s.lower().split())
