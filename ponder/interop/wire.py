"""The chat completions wire as `ponder serve` and `ponder proxy` see it: a client's JSON body as a
`WireRequest` (ponder's request, keyed by `CompletionRequest.key()`), replies and their stream
chunks, OpenAI-style error bodies, and server-sent events.

A body is converted totally: whatever ponder's `CompletionRequest` does not model exactly (a
`response_format`, a `tool_choice`, content given as parts, a `developer` message) is kept as the
client sent it in `extra`, so two requests that differ in anything but the transport (`stream`,
`stream_options`) have different keys.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from ponder._util.text import clean_data
from ponder.backends.openai_wire import message_to_openai, parse_chat_completion, tool_to_openai
from ponder.types import Choice, Completion, CompletionRequest, Message, ToolCall, ToolSpec, Usage

TRANSPORT = frozenset({"stream", "stream_options"})
"""Body fields that change how a reply travels, not what it says: left out of the request key."""

_MODELLED = ("model", "temperature", "top_p", "max_tokens", "n", "stop", "seed")
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant", "tool": "tool"}


class WireRequest(CompletionRequest):
    """A client's chat completions request: ponder's request plus `extra`, what it does not model, as sent."""

    extra: dict[str, Any] | None = None


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: the text ones, in order
        return "\n".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def _message(raw: Any) -> Message:
    """The ponder message closest to one wire message (the exact one when it round-trips)."""
    if not isinstance(raw, dict):
        return Message(role="user", content=json.dumps(raw, default=str)[:2000])
    calls = None
    if isinstance(raw.get("tool_calls"), list):
        calls = tuple(
            ToolCall(
                id=str(c.get("id") or ""),
                name=str((c.get("function") or {}).get("name") or ""),
                arguments=str((c.get("function") or {}).get("arguments") or "{}"),
            )
            for c in raw["tool_calls"]
            if isinstance(c, dict)
        )
    call_id = raw.get("tool_call_id")
    return Message(
        role=_ROLES.get(str(raw.get("role")), "user"),  # type: ignore[arg-type]
        content=_text_of(raw.get("content")),
        tool_calls=calls or None,
        tool_call_id=call_id if isinstance(call_id, str) else None,
    )


def _tool(raw: Any) -> ToolSpec | None:
    fn = raw.get("function") if isinstance(raw, dict) and raw.get("type") == "function" else None
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        return None
    try:
        return ToolSpec(
            name=fn["name"],
            description=fn.get("description") or "",
            **({"parameters": fn["parameters"]} if isinstance(fn.get("parameters"), dict) else {}),
        )
    except ValidationError:
        return None


def _modelled(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The scalar fields `CompletionRequest` takes as they are, and the rest of them (kept in `extra`)."""
    fields: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    for name in _MODELLED:
        if name not in body:
            continue
        value = body[name]
        if name == "stop" and isinstance(value, str):
            value = [value]
        try:
            CompletionRequest(messages=(), **{name: value})
        except ValidationError:
            rest[name] = value  # not a value ponder takes: kept, so the key still tells it apart
            continue
        if value is not None:
            fields[name] = value
    return fields, rest


def request_from_openai(body: dict[str, Any]) -> WireRequest:
    """The `WireRequest` of a chat completions body; never fails (what it cannot model goes to `extra`)."""
    body = clean_data(body)
    fields, extra = _modelled(body)
    raw_messages = body.get("messages")
    messages = [_message(m) for m in raw_messages] if isinstance(raw_messages, list) else []
    if not isinstance(raw_messages, list) or [message_to_openai(m) for m in messages] != raw_messages:
        extra["messages"] = raw_messages  # lossy as ponder messages: the wire form decides the key
    raw_tools = body.get("tools")
    tools = [_tool(t) for t in raw_tools] if isinstance(raw_tools, list) else []
    if raw_tools is not None:
        exact = isinstance(raw_tools, list) and all(tools) and [tool_to_openai(t) for t in tools] == raw_tools  # type: ignore[arg-type]
        if not exact:
            extra["tools"] = raw_tools
        fields["tools"] = tuple(t for t in tools if t is not None) or None
    for k, v in body.items():
        if k not in _MODELLED and k not in TRANSPORT and k not in ("messages", "tools"):
            extra[k] = v
    return WireRequest(messages=tuple(messages), extra=extra or None, **fields)


def wants_stream(body: dict[str, Any]) -> bool:
    """Whether the client asked for a stream of chunks."""
    return body.get("stream") is True


def wants_usage_chunk(body: dict[str, Any]) -> bool:
    """Whether a streaming client asked for the final usage chunk (`stream_options.include_usage`)."""
    opts = body.get("stream_options")
    return isinstance(opts, dict) and opts.get("include_usage") is True


# -- replies ---------------------------------------------------------------------------


def error_body(message: str, kind: str, *, code: str | None = None, **more: Any) -> dict[str, Any]:
    """An OpenAI-style error object: `{"error": {"message", "type", "param", "code", ...}}`."""
    return {"error": {"message": message, "type": kind, "param": None, "code": code, **more}}


def one_line(text: str) -> str:
    """`text` on one line (an error message a client shows as is)."""
    return " ".join(str(text).split())


def _usage_body(u: Usage) -> dict[str, int]:
    return {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens, "total_tokens": u.total_tokens}


def _tool_calls_body(calls: tuple[ToolCall, ...]) -> list[dict[str, Any]]:
    return [{"id": t.id, "type": "function", "function": {"name": t.name, "arguments": t.arguments}} for t in calls]


def completion_body(c: Completion, *, id: str, model: str, created: int | None = None) -> dict[str, Any]:
    """A `chat.completion` body for a completion."""
    choices = []
    for i, ch in enumerate(c.choices):
        msg: dict[str, Any] = {"role": "assistant", "content": ch.text}
        if ch.tool_calls:
            msg["content"] = ch.text or None
            msg["tool_calls"] = _tool_calls_body(ch.tool_calls)
        choices.append({"index": i, "message": msg, "finish_reason": ch.finish_reason or "stop"})
    return {
        "id": id,
        "object": "chat.completion",
        "created": int(time.time()) if created is None else created,
        "model": model,
        "choices": choices,
        "usage": _usage_body(c.usage),
    }


def chunk_body(
    id: str, model: str, created: int, delta: dict[str, Any], *, index: int = 0, finish: str | None = None
) -> dict[str, Any]:
    """One `chat.completion.chunk` with one choice's delta."""
    return {
        "id": id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
    }


def usage_chunk(id: str, model: str, created: int, usage: Usage) -> dict[str, Any]:
    """The last chunk of a stream whose client asked for usage: no choices, the usage."""
    return {
        "id": id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [],
        "usage": _usage_body(usage),
    }


def completion_chunks(c: Completion, *, id: str, model: str, usage: bool) -> list[dict[str, Any]]:
    """A completion as the chunks of a stream: per choice its role, its text and tool calls, its end."""
    created = int(time.time())
    out = []
    for i, ch in enumerate(c.choices):
        out.append(chunk_body(id, model, created, {"role": "assistant", "content": ""}, index=i))
        if ch.text:
            out.append(chunk_body(id, model, created, {"content": ch.text}, index=i))
        if ch.tool_calls:
            calls = [{"index": j, **t} for j, t in enumerate(_tool_calls_body(ch.tool_calls))]
            out.append(chunk_body(id, model, created, {"tool_calls": calls}, index=i))
        out.append(chunk_body(id, model, created, {}, index=i, finish=ch.finish_reason or "stop"))
    if usage:
        out.append(usage_chunk(id, model, created, c.usage))
    return out


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _index(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class _Choices:
    """Choices being put together from stream deltas, by choice index."""

    def __init__(self) -> None:
        self.texts: dict[int, list[str]] = {}
        self.calls: dict[int, dict[int, dict[str, str]]] = {}
        self.finish: dict[int, str] = {}

    def take(self, ch: dict[str, Any]) -> None:
        i = _index(ch.get("index"))
        delta = _dict(ch.get("delta"))
        if isinstance(delta.get("content"), str):
            self.texts.setdefault(i, []).append(delta["content"])
        for tc in delta.get("tool_calls") or []:
            tc = _dict(tc)
            slot = self.calls.setdefault(i, {}).setdefault(_index(tc.get("index")), {"id": "", "name": "", "args": ""})
            fn = _dict(tc.get("function"))
            slot["id"] = slot["id"] or str(tc.get("id") or "")
            slot["name"] += str(fn.get("name") or "")
            slot["args"] += str(fn.get("arguments") or "")
        if isinstance(ch.get("finish_reason"), str):
            self.finish[i] = ch["finish_reason"]

    def choices(self) -> list[Choice]:
        out = []
        for i in sorted(set(self.texts) | set(self.calls) | set(self.finish)):
            calls = tuple(
                ToolCall(id=s["id"], name=s["name"], arguments=s["args"] or "{}")
                for _, s in sorted(self.calls.get(i, {}).items())
            )
            text = "".join(self.texts.get(i, []))
            out.append(Choice(text=text, tool_calls=calls or None, finish_reason=self.finish.get(i)))
        return out


def assemble_chunks(chunks: list[dict[str, Any]]) -> tuple[list[Choice], Usage | None, str]:
    """The choices, usage (None if the server sent none) and model a stream of chunks adds up to."""
    parts = _Choices()
    usage: Usage | None = None
    model = ""
    for chunk in chunks:
        if isinstance(chunk.get("model"), str):
            model = chunk["model"]
        if isinstance(chunk.get("usage"), dict):
            usage = parse_chat_completion({"choices": [{"message": {}}], "usage": chunk["usage"]})[1]
        for ch in chunk.get("choices") or []:
            parts.take(_dict(ch))
    return parts.choices(), usage, model


# -- server-sent events ----------------------------------------------------------------


def sse(data: dict[str, Any] | str) -> bytes:
    """One server-sent event carrying `data` (a JSON object, or `[DONE]`)."""
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {text}\n\n".encode()


KEEPALIVE = b": keep-alive\n\n"
"""An SSE comment: keeps a quiet stream's connection busy; clients ignore it."""


class SSEReader:
    """Splits a byte stream into whole server-sent events: `feed(bytes)` yields (raw event bytes, its data)."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> Iterator[tuple[bytes, str | None]]:
        self._buf += data.replace(b"\r\n", b"\n")
        while b"\n\n" in self._buf:
            raw, self._buf = self._buf.split(b"\n\n", 1)
            lines = [ln[5:].lstrip(b" ") for ln in raw.split(b"\n") if ln.startswith(b"data:")]
            yield raw + b"\n\n", (b"\n".join(lines).decode("utf-8", "replace") if lines else None)

    @property
    def pending(self) -> bytes:
        """Bytes of an event not finished yet (what a dropped stream cut off)."""
        return self._buf
