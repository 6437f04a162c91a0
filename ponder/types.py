"""Core value types shared by backends, agents and traces (pydantic v2)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ponder._util.text import clean_text

# text that enters ponder (a model's reply, a task, a tool result in a message): a lone
# surrogate becomes U+FFFD here, so the reply is stored and hashed instead of crashing the run
Text = Annotated[str, AfterValidator(clean_text)]

Role = Literal["system", "user", "assistant", "tool"]


class ToolCall(BaseModel):
    """A native tool call a model asked for: `name(arguments)`; `arguments` is the raw JSON text."""

    model_config = ConfigDict(frozen=True)

    id: Text = ""
    name: Text
    arguments: Text = "{}"


class ToolSpec(BaseModel):
    """A tool as offered to a model with native tool calling: name, description, JSON schema."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class Message(BaseModel):
    """One chat message."""

    model_config = ConfigDict(frozen=True)

    role: Role
    content: Text = ""
    tool_calls: tuple[ToolCall, ...] | None = None
    tool_call_id: str | None = None

    @classmethod
    def system(cls, content: str) -> Message:
        return cls(role="system", content=content)

    @classmethod
    def user(cls, content: str) -> Message:
        return cls(role="user", content=content)

    @classmethod
    def assistant(cls, content: str, tool_calls: tuple[ToolCall, ...] | None = None) -> Message:
        return cls(role="assistant", content=content, tool_calls=tool_calls)


class CompletionRequest(BaseModel):
    """What an agent asks a backend for. `key()` is a stable hash of everything that shapes the answer."""

    model_config = ConfigDict(frozen=True)

    messages: tuple[Message, ...]
    model: str | None = None
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 512
    n: int = Field(default=1, ge=1)
    stop: tuple[str, ...] | None = None
    seed: int | None = None
    tools: tuple[ToolSpec, ...] | None = None
    logprobs: bool | None = None
    """Ask for each choice's log-probability (`Choice.logprob`); None (unset) keeps old request keys."""

    def canonical(self) -> dict[str, Any]:
        """The request as plain data with nothing volatile in it (what `key()` hashes)."""
        return self.model_dump(mode="json", exclude_none=True)

    def key(self) -> str:
        """A stable hash of the canonical request: same request, same key, across processes."""
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]

    def identity(self) -> str:
        """The key with the provider's tool-call ids renamed in order (`request_identity`): what was asked for."""
        return request_identity(self.canonical())


def request_identity(request: Mapping[str, Any]) -> str:
    """A recorded request's key with its tool-call ids renamed `call_0`, `call_1`… in order of appearance.

    The ids are the provider's (fresh on every call) and come back in the next request of the
    conversation; two runs that differ only in them asked for the same thing.
    """
    names: dict[str, str] = {}

    def rename(call_id: Any) -> Any:
        if not isinstance(call_id, str) or not call_id:
            return call_id
        return names.setdefault(call_id, f"call_{len(names)}")

    messages = []
    for m in request.get("messages") or []:
        if not isinstance(m, dict):
            messages.append(m)
            continue
        m = dict(m)
        if isinstance(m.get("tool_calls"), list):
            m["tool_calls"] = [{**c, "id": rename(c.get("id"))} if isinstance(c, dict) else c for c in m["tool_calls"]]
        if "tool_call_id" in m:
            m["tool_call_id"] = rename(m["tool_call_id"])
        messages.append(m)
    text = json.dumps({**request, "messages": messages}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class Usage(BaseModel):
    """Token counts for one completion (None where the server did not say)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


class Choice(BaseModel):
    """One sampled answer. logprob: the sum of its tokens' log-probabilities, where the request asked for them."""

    text: Text = ""
    tool_calls: tuple[ToolCall, ...] | None = None
    finish_reason: str | None = None
    logprob: float | None = None

    @property
    def cut(self) -> bool:
        """Whether the text stopped at the request's `max_tokens` (finish reason "length")."""
        return self.finish_reason == "length"


Origin = Literal["live", "replay", "cache", "edit"]


class Completion(BaseModel):
    """A backend's answer: one or more choices, usage, model, latency and where it came from."""

    choices: list[Choice]
    usage: Usage = Field(default_factory=Usage)
    model: str = ""
    latency_ms: float = 0.0
    origin: Origin = "live"

    @property
    def text(self) -> str:
        """The first choice's text (the common case)."""
        return self.choices[0].text if self.choices else ""


class Task(BaseModel):
    """One problem: an id, the input the agent sees, the expected answer if known."""

    model_config = ConfigDict(frozen=True)

    id: Text
    input: Text
    expected: Text | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_question(cls, question: str, **kw: Any) -> Task:
        """A task whose id is a short stable hash of its question."""
        question = clean_text(question)
        tid = hashlib.sha256(question.encode("utf-8")).hexdigest()[:12]
        return cls(id=kw.pop("id", tid), input=question, **kw)


class Result(BaseModel):
    """What a run produced."""

    answer: str | None = None
    correct: bool | None = None
    score: float | None = None
    run_id: str = ""
    status: str = "ok"
    usage: Usage = Field(default_factory=Usage)
    calls: int = 0
    cost_usd: float | None = None
    error: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, float] | None = None
    """The env's figures of the answer (sorting: errors) where the agent judged it itself; the runner records them."""
