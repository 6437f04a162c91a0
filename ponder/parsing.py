"""Answer extraction and normalization, shared by every strategy. Model text is untrusted input.

`extract_answer` reads the answer a reasoning text states; `answer_value` reads one stated value (a
ReAct `finish[...]` argument, a replanner's `FINISH:`); `normalize_number` / `normalize_answer` give
the form answers are compared and voted in. Real model text drove the rules: the corpus in
`tests/fixtures/answers/` (completions of ponder's own prompts by Qwen2.5-Coder 0.5B and 1.5B) is read
right in full by `tests/test_answer_corpus.py`.
"""

from __future__ import annotations

import ast
import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

# a number as written in prose: thousands commas, decimals, a leading sign or currency sign
_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+"
_NUMBER_IN_TEXT = re.compile(rf"(?<![\w.])[-+−]?\s?[$€£]?\s?(?:{_NUM})(?![\w])")
# where an answer is stated; the value follows the marker (a \boxed{} holds it)
# "This answer is based on ..." talks about an answer, it does not state one
_MARKERS = re.compile(
    r"####\s*"
    r"|\\boxed\s*\{"
    r"|(?<!this\s)(?<!that\s)\banswer(?:\s+(?:to|for)\s+[^\n.:=]{1,40}?)?\s+is\b\s*(?:[:：]|\*\*)*"
    r"|^[\s>#*_-]*(?:the\s+)?(?:final\s+)?answer\s*(?:\*\*|__)?\s*[:：]\s*(?:\*\*|__)?",
    re.IGNORECASE | re.MULTILINE,
)
# what ponder's prompts (now or once) and the paper's ones put where the answer goes: echoed, not an answer
_PLACEHOLDERS = frozenset(
    {"x", "n", "answer", "the answer", "your answer", "final answer", "the final answer", "...", "…", "?"}
)
# what follows "the answer is" when it is not the answer: "Therefore, the answer is correct."
_NOT_ANSWERS = frozenset(
    {"correct", "incorrect", "not correct", "right", "wrong", "as follows", "below", "the following"}
)
# a sentence restating the answer as a quantity: "The farmer picks 1260 apples"
_SENTENCE_QUANTITY = re.compile(
    rf"(?:[A-Za-z'’-]+\s+){{2,8}}(?P<n>[$€£]?(?:{_NUM})%?)\s*(?P<unit>[a-z]+(?:\s+[a-z]+){{0,2}})?"
)
# an arithmetic expression stated as the answer (`finish[3 * 20]`): `*`, `×`, `÷`, or an operator spaced
# apart, so a date (`2023-01-05`) or a fraction (`2/3`) stays as written
_ARITHMETIC = re.compile(r"[\d.\s()+\-*/×÷]{3,60}")
_OPERATOR = re.compile(r"[*×÷]|\s[-+/]\s")
_WRAPPED = re.compile(r"<[^<>]*>|\[[^\[\]]*answer[^\[\]]*\]|\{[^{}]*\}")
_UNIT_WORDS = re.compile(r"[a-zA-Z%°²³/.-]+(?:\s+[a-zA-Z%°²³/.-]+){0,3}")
_EXPLANATION = ("(", ",", ";", ":", "because", "since", "which", "as ", "so ", "is ", "- ", "– ", "— ")
_SCALE = re.compile(r"(?:hundred|thousand|million|billion|trillion|dozen)\b", re.IGNORECASE)
_STRIP = " \t.。!;:*_`\"'"
_TRAILING = " \t.。!;:*`\"'"


def is_placeholder(value: str) -> bool:
    """Whether `value` is a template's placeholder (`X`, `N`, `<answer>`, `your answer`), not an answer."""
    t = value.strip().strip(" \t*_`\"'").strip().lower()
    if not t.strip(".…?"):  # `...`, or nothing at all
        return True
    t = t.rstrip(".。!;:").strip()
    return t in _PLACEHOLDERS or bool(_WRAPPED.fullmatch(t))


def _unlatex(v: str) -> str:
    """LaTeX and markdown wrappers off a value: `\\(945\\)`, `$945$`, `\\text{ dollars}`, `14{,}834`, `**9**`."""
    v = re.sub(r"\\(?:text|textbf|mathrm|mathbf)\s*\{([^{}]*)\}", r"\1", v)
    v = re.sub(r"\\boxed\s*\{((?:[^{}]|\{[^{}]*\})*)\}", r"\1", v)
    v = v.replace("{,}", ",").replace("\\,", "").replace("\\$", "$").replace("\\%", "%")
    v = re.sub(r"\\[()\[\]]", " ", v).replace("$$", " ")
    v = v.strip()
    m = re.fullmatch(r"\$([^$]+)\$", v)  # inline math `$945$` (a currency sign comes alone)
    if m:
        v = m.group(1)
    v = re.sub(r"\\(?:times|cdot)", "*", v)
    v = re.sub(r"\*\*|__", "", v)
    return v.strip().strip(_STRIP).strip()


def _number_led(v: str) -> str | None:
    """The number a value starting with one states (`16 days`, `$1,250.`, `391 (17 times 23)`), normalized;
    None when the value is not a number or is text that merely starts with one (`3 Musketeers of France`)."""
    m = re.match(rf"([-+−]?)\s?([$€£]?)\s?({_NUM})\s?(%?)", v)
    if m is None:
        return None
    num = normalize_number(m.group(1).replace("−", "-") + m.group(3))
    rest = v[m.end() :].strip()
    if num is None:
        return None
    if _SCALE.match(rest):  # `116 million`: the number is not 116
        return None
    if not rest.strip(_STRIP) or rest.lower().startswith(_EXPLANATION):
        return num
    if m.group(2) or m.group(4):  # `$5 each`, `25% off`
        return num if re.match(r"[a-z]", rest) else None
    words = rest.strip(_STRIP)
    if _UNIT_WORDS.fullmatch(words) and words == words.lower():
        return num
    return None


def _fraction(node: ast.AST) -> Fraction:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return Fraction(str(node.value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        x = _fraction(node.operand)
        return -x if isinstance(node.op, ast.USub) else x
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div):
        a, b = _fraction(node.left), _fraction(node.right)
        if isinstance(node.op, ast.Add):
            return a + b
        if isinstance(node.op, ast.Sub):
            return a - b
        return a * b if isinstance(node.op, ast.Mult) else a / b
    raise ValueError("not arithmetic")


def _arithmetic(v: str) -> str | None:
    """The value of an arithmetic expression stated as an answer (`3 * 20` -> `60`), when it is exact in
    decimals; None for anything else (a date, a fraction, a division that does not terminate)."""
    if not _ARITHMETIC.fullmatch(v) or not _OPERATOR.search(v):
        return None
    try:
        x = _fraction(ast.parse(v.replace("×", "*").replace("÷", "/"), mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError, RecursionError):
        return None
    d = x.denominator
    while d % 2 == 0:
        d //= 2
    while d % 5 == 0:
        d //= 5
    if d != 1:
        return None
    return normalize_number(str(Decimal(x.numerator) / Decimal(x.denominator)))


def answer_value(text: str | None) -> str | None:
    """What one stated answer gives: `The answer is: 374.` -> `374`, `**$1,250**` -> `1250`, `16 days` ->
    `16`, `35 * 27 = 945` -> `945`, `Lord Byron.` -> `Lord Byron`; None when it is empty or only a
    template's placeholder (`X`, `<answer>`)."""
    if text is None:
        return None
    v = _unlatex(text)
    while True:  # `The answer is: The answer is 374`
        m = _MARKERS.match(v) or re.match(r"(?:the\s+)?(?:final\s+)?answer\s+is\b\s*[:：]?", v, re.IGNORECASE)
        if m is None or not m.group(0).strip():
            break
        v = _unlatex(v[m.end() :])
    v = v.strip().strip(_TRAILING).strip()
    if not v or is_placeholder(v) or v.lower() in _NOT_ANSWERS:
        return None
    if "=" in v:  # an equation's result is the answer
        tail = v.rsplit("=", 1)[1].strip().strip(_TRAILING).strip()
        num = _number_led(tail) if tail else None
        if num is not None:
            return num
    num = _arithmetic(v) or _number_led(v)
    if num is not None:
        return num
    m = _SENTENCE_QUANTITY.fullmatch(v)
    if m and m.group("unit") and not _SCALE.match(m.group("unit")):
        return _number_led(m.group("n"))
    return v


def _marker_values(text: str) -> list[str]:
    """The value after each answer marker, in text order (a marker alone on its line takes the next line)."""
    values = []
    for m in _MARKERS.finditer(text):
        rest = text[m.end() :]
        if m.group(0).startswith("\\boxed"):
            inner = re.match(r"((?:[^{}]|\{[^{}]*\})*)\}", rest)
            values.append(inner.group(1) if inner else rest.split("\n", 1)[0])
            continue
        line, _, after = rest.partition("\n")
        if not line.strip(_STRIP):
            line = next((ln for ln in after.split("\n")[:3] if ln.strip(_STRIP + "\\[]$")), "")
        # the value ends with its sentence: `391. That is the product.` -> `391`
        line = re.split(r"(?<!\d)\.(?:\s|$)|\.\s+(?=[A-Z])", line, maxsplit=1)[0]
        values.append(line)
    return values


def extract_answer(text: str | None, *, last_number: bool = True) -> str | None:
    """The answer a reasoning text states: the last `#### X`, `\\boxed{X}`, `The answer is X` or `Answer: X`
    that is not a template's placeholder, else (`last_number`) the last number in the text; None when there
    is none. A number comes back normalized (`$1,250.00` -> `1250`)."""
    if not text:
        return None
    for value in reversed(_marker_values(text)):
        got = answer_value(value)
        if got is not None:
            return got
    if not last_number:
        return None
    nums = _NUMBER_IN_TEXT.findall(text)
    for raw in reversed(nums):
        got = _number_led(raw.strip())
        if got is not None:
            return got
    return None


def normalize_number(s: str) -> str | None:
    """`1,000` -> `1000`, `3.0` -> `3`, `$5` -> `5`, `-0.50` -> `-0.5`; None if `s` is not a number."""
    t = s.strip().replace(",", "").replace("$", "").replace(" ", "").replace("−", "-")
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
