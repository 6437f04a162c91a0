"""ReAct's text format (the paper's): reading `Thought: ...` and `Action: tool[input]` from a reply.

A reply is untrusted text: it may hold no action, several, an observation the model wrote
itself, a `finish` with a placeholder instead of an answer, or ponder's own error parroted back.
`parse_action` says which, as an `Action` with an error the next observation can show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ponder.parsing import answer_value


@dataclass
class Action:
    """One parsed action: `name[arg]`, or an error saying why the text held no valid action."""

    thought: str = ""
    name: str | None = None
    arg: str = ""
    error: str | None = None
    text: str = ""  # the reply up to the action, what goes back into the conversation


_OBSERVATION = re.compile(r"^\s*observation\s*\d*\s*:", re.IGNORECASE | re.MULTILINE)
_ACTION_LINE = re.compile(r"^[\s>*]*action\s*\d*\s*\**\s*:\s*\**\s*", re.IGNORECASE | re.MULTILINE)
_THOUGHT = re.compile(r"thought\s*\d*\s*\**\s*:\s*\**", re.IGNORECASE)
_CALL = re.compile(r"^\s*`*\s*(?P<name>[A-Za-z_][\w\-]*)\s*\[(?P<arg>.*)\]\s*`*\s*\.?\s*$", re.DOTALL)
_FINISH_ANYWHERE = re.compile(r"\bfinish\s*\[(?P<arg>[^\]\n]*)\]", re.IGNORECASE)
_FINAL_ANSWER = re.compile(r"^[\s*]*final answer[\s*]*:\s*(?P<arg>.+)$", re.IGNORECASE | re.MULTILINE)
_EMPTY_FINISH = "finish needs the answer itself inside the square brackets"
# what the prompt and ponder's own error messages write in place of an answer: a model that
# parrots them has not answered (seen: a run "answered" `answer` after echoing an error)
PLACEHOLDER_FINISH = "finish needs the actual answer inside the square brackets, not a placeholder"


def echoes_ponder(text: str) -> bool:
    """Whether a reply starts with one of ponder's own error observations (a model parroting it)."""
    return text.lstrip().startswith(("Error:", "Invalid action:", "Observation:"))


def is_placeholder(arg: str) -> bool:
    """Whether a finish argument gives no answer: a template's placeholder (`answer`, `X`, `<answer>`)."""
    return bool(arg.strip()) and answer_value(arg) is None


def reply_answer(text: str, *, bare_actions: bool = False) -> str | None:
    """The answer a text-mode reply gives with `finish[...]` (read by `ponder.parsing.answer_value`: a
    number normalized, a placeholder refused); None when it takes another action, or none."""
    act = parse_action(text, bare_actions=bare_actions)
    return answer_value(act.arg) if act.error is None and act.name == "finish" else None


def parse_action(text: str, *, bare_actions: bool = False) -> Action:
    """Read `Thought: ...` and `Action: name[arg]` from a model reply (untrusted, possibly junk).

    bare_actions: accept `Action: go to fridge 1` (no brackets) as an `env` action.
    """
    m = _OBSERVATION.search(text)
    if m:  # the model wrote its own observation: ignore everything from there
        text = text[: m.start()]
    text = text.strip()
    am = _ACTION_LINE.search(text)
    before = text[: am.start()] if am else text
    thought = _THOUGHT.sub("", before, count=1).strip()
    if am is None:
        fm = _FINISH_ANYWHERE.search(text) or _FINAL_ANSWER.search(text)
        if fm and fm.group("arg").strip() and not is_placeholder(fm.group("arg")):
            return Action(thought=thought, name="finish", arg=fm.group("arg").strip(), text=text)
        return Action(
            thought=thought,
            error="no 'Action:' line found; reply with 'Thought: ...' and then 'Action: tool[input]', or "
            "'Action: finish' with the answer itself inside the square brackets",
            text=text,
        )
    rest = text[am.end() :]
    first = rest.split("\n", 1)[0]
    call = _CALL.match(first) or _CALL.match(rest)
    if call is None:
        if bare_actions and first.strip() and "[" not in first:
            return Action(thought=thought, name="env", arg=first.strip().strip("`").strip(), text=text)
        shown = first.strip()[:120]
        return Action(
            thought=thought,
            error=f"invalid action {shown!r}: write it as tool[input], e.g. search[Alan Turing], or finish with the "
            "answer itself inside the square brackets",
            text=text,
        )
    name = call.group("name")
    if name.lower() == "finish":
        name = "finish"
        if not call.group("arg").strip():
            return Action(thought=thought, error=_EMPTY_FINISH, text=text)
        if is_placeholder(call.group("arg")):
            return Action(thought=thought, error=PLACEHOLDER_FINISH, text=text)
    consumed = text[: am.end()] + (first if _CALL.match(first) else rest)
    return Action(thought=thought, name=name, arg=call.group("arg").strip(), text=consumed.strip())
