"""The chat completions wire format: ponder's messages and tools as OpenAI JSON, and a reply body
read defensively into choices, usage and model (a server's or a model's output is untrusted)."""

from __future__ import annotations

import json
from typing import Any

from ponder.errors import BackendError
from ponder.types import Choice, Message, ToolCall, ToolSpec, Usage

__all__ = ["ChunkAssembly", "message_to_openai", "parse_chat_completion", "tool_to_openai"]


def message_to_openai(m: Message) -> dict[str, Any]:
    """A message as the chat completions API takes it (assistant tool calls, tool results by call id)."""
    out: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.role == "assistant" and m.tool_calls:
        out["content"] = m.content or None
        out["tool_calls"] = [
            {"id": t.id, "type": "function", "function": {"name": t.name, "arguments": t.arguments}}
            for t in m.tool_calls
        ]
    if m.role == "tool":
        out["tool_call_id"] = m.tool_call_id or ""
    return out


def tool_to_openai(t: ToolSpec) -> dict[str, Any]:
    """A tool as a chat completions `function` tool."""
    return {
        "type": "function",
        "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
    }


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _parse_tool_calls(raw: Any) -> tuple[ToolCall, ...] | None:
    if not isinstance(raw, list) or not raw:
        return None
    calls = []
    for i, item in enumerate(raw):
        fn = item.get("function") if isinstance(item, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            # model output, not a server fault: kept as a call with no name (its raw JSON as the
            # arguments) for the agent to show the model as an observation
            call_id = item.get("id") if isinstance(item, dict) else None
            calls.append(ToolCall(id=str(call_id or f"call_{i}"), name="", arguments=json.dumps(item)[:2000]))
            continue
        args = fn.get("arguments")
        if not isinstance(args, str):
            # some servers send the arguments as an object; keep them as JSON text like OpenAI does
            args = json.dumps(args if args is not None else {})
        calls.append(ToolCall(id=str(item.get("id") or f"call_{i}"), name=fn["name"], arguments=args))
    return tuple(calls)


def _logprob(raw: Any) -> float | None:
    """The sum of a choice's token log-probabilities (`logprobs.content[].logprob`), None if it has none."""
    content = raw.get("content") if isinstance(raw, dict) else None
    if not isinstance(content, list) or not content:
        return None
    total = 0.0
    for token in content:
        value = token.get("logprob") if isinstance(token, dict) else None
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        total += value
    return total


def parse_chat_completion(body: Any) -> tuple[list[Choice], Usage, str]:
    """Choices, usage and model of a chat completion body; `BackendError` if it is not one."""
    if not isinstance(body, dict):
        raise BackendError(f"the server's reply is not a chat completion object: {str(body)[:200]!r}")
    raw_choices = body.get("choices")
    if not isinstance(raw_choices, list) or not raw_choices:
        if isinstance(body.get("error"), dict | str):
            raise BackendError(f"the server answered with an error: {json.dumps(body['error'])[:300]}")
        raise BackendError(f"the server's reply has no choices: {json.dumps(body)[:200]}")
    indexed = []
    for pos, c in enumerate(raw_choices):
        msg = c.get("message") if isinstance(c, dict) else None
        if not isinstance(msg, dict):
            raise BackendError(f"choice #{pos} of the server's reply has no message: {json.dumps(c)[:200]}")
        content = msg.get("content")
        text = content if isinstance(content, str) else ""
        finish = c.get("finish_reason")
        index = c.get("index")
        choice = Choice(
            text=text,
            tool_calls=_parse_tool_calls(msg.get("tool_calls")),
            finish_reason=finish if isinstance(finish, str) else None,
            logprob=_logprob(c.get("logprobs")),
        )
        indexed.append((index if isinstance(index, int) else pos, pos, choice))
    indexed.sort(key=lambda x: (x[0], x[1]))
    raw_usage = body.get("usage")
    usage = (
        Usage(
            prompt_tokens=_int(raw_usage.get("prompt_tokens")),
            completion_tokens=_int(raw_usage.get("completion_tokens")),
        )
        if isinstance(raw_usage, dict)
        else Usage()  # the server did not say: zeros, never an estimate
    )
    model = body.get("model")
    return [c for _, _, c in indexed], usage, model if isinstance(model, str) else ""


class _ChoiceParts:
    """One choice of a streamed completion as its chunks arrive."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.tokens: list[dict[str, Any]] = []
        self.finish_reason: str | None = None


class ChunkAssembly:
    """A streamed chat completion put back together chunk by chunk (`stream: true`).

    `take` reads one parsed `chat.completion.chunk` and gives the text it adds to choice 0 (the
    one a caller streaming text follows); `completion` is the chat completion object the chunks
    add up to, every choice by its index, as the server would have answered without streaming
    (read by `parse_chat_completion` like any other reply). Usage: one usage chunk is taken as
    it is; several (llama.cpp sends one per choice of an `n` request, each with the prompt they
    share) add their completion tokens and count the prompt once.
    """

    MAX_CHOICES = 256

    def __init__(self) -> None:
        self.choices: dict[int, _ChoiceParts] = {}
        self.usage: dict[str, Any] | None = None
        self.model = ""

    def take(self, chunk: Any) -> str:
        """Take one chunk; the text it adds to choice 0 ("" when none)."""
        if not isinstance(chunk, dict):
            raise BackendError(f"the server's stream sent {str(chunk)[:200]!r}, not a chunk object")
        if isinstance(chunk.get("model"), str):
            self.model = chunk["model"]
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self._add_usage(usage)
        added: list[str] = []
        for choice in chunk.get("choices") or ():
            index = choice.get("index", 0) if isinstance(choice, dict) else None
            if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < self.MAX_CHOICES:
                continue
            parts = self.choices.setdefault(index, _ChoiceParts())
            delta = choice.get("delta")
            content = delta.get("content") if isinstance(delta, dict) else None
            if isinstance(content, str) and content:
                parts.text.append(content)
                if index == 0:
                    added.append(content)
            logprobs = choice.get("logprobs")
            if isinstance(logprobs, dict) and isinstance(logprobs.get("content"), list):
                parts.tokens.extend(t for t in logprobs["content"] if isinstance(t, dict))
            if isinstance(choice.get("finish_reason"), str):
                parts.finish_reason = choice["finish_reason"]
        return "".join(added)

    def _add_usage(self, usage: dict[str, Any]) -> None:
        if self.usage is None:
            self.usage = dict(usage)
            return
        self.usage = {
            "prompt_tokens": max(_int(self.usage.get("prompt_tokens")), _int(usage.get("prompt_tokens"))),
            "completion_tokens": _int(self.usage.get("completion_tokens")) + _int(usage.get("completion_tokens")),
        }

    def completion(self, logprobs: bool) -> dict[str, Any]:
        """The chat completion object (logprobs: keep the tokens' log-probabilities, as asked)."""
        choices = []
        for index in sorted(self.choices) or [0]:
            parts = self.choices.get(index) or _ChoiceParts()
            choice: dict[str, Any] = {
                "index": index,
                "message": {"role": "assistant", "content": "".join(parts.text)},
                "finish_reason": parts.finish_reason,
            }
            if logprobs:
                kept = [{"token": t.get("token"), "logprob": t.get("logprob")} for t in parts.tokens]
                choice["logprobs"] = {"content": kept}
            choices.append(choice)
        body: dict[str, Any] = {"object": "chat.completion", "choices": choices, "model": self.model}
        if self.usage is not None:
            body["usage"] = self.usage
        return body
