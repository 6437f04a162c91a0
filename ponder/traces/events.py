"""The records a trace is made of (pydantic v2): runs, events, llm calls, tool calls, memory."""

from __future__ import annotations

import functools
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SUMMARY_LIMIT = 240
# a record's validator is built on its first use, not on import: a command that reads runs builds only RunRecord's
_LAZY = ConfigDict(defer_build=True)


@functools.cache
def _field_names(cls: type[BaseModel]) -> frozenset[str]:
    # `model_fields` is a slow property; rows are read by the hundred thousand
    return frozenset(cls.model_fields)


def summarize(text: str, limit: int = SUMMARY_LIMIT) -> str:
    """One line of at most `limit` characters: what a list shows of an event."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class EventRecord(BaseModel):
    """One step of a run, as stored in the `events` table."""

    model_config = _LAZY

    run_id: str
    seq: int
    parent_seq: int | None = None
    depth: int = 0
    branch: str = ""
    kind: str
    label: str = ""
    summary: str = ""
    status: str = "ok"
    score: float | None = None
    data: dict[str, Any] | None = None
    n_children: int = 0
    started_at: float
    ended_at: float | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> EventRecord:
        data_json = row.get("data_json")
        return cls(
            **{k: v for k, v in row.items() if k in _field_names(cls) and k != "data"},
            data=json.loads(data_json) if data_json else None,
        )


class RunRecord(BaseModel):
    """A run as stored in the `runs` table (totals kept on the row)."""

    model_config = _LAZY

    id: str
    parent_id: str | None = None
    experiment_id: str | None = None
    agent: str
    config: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = None
    backend: str | None = None
    model: str | None = None
    task: dict[str, Any] = Field(default_factory=dict)
    status: str = "running"
    answer: str | None = None
    correct: bool | None = None
    score: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    cost_usd: float | None = None
    last_seq: int = 0
    started_at: float
    ended_at: float | None = None
    error: str | None = None
    branch: str = ""
    budget: dict[str, Any] | None = None
    forked_from: dict[str, Any] | None = None
    env: dict[str, Any] | None = None  # the env it was given: {"name": ..., "config": ...}
    metrics: dict[str, float] | None = None  # the env's figures of the answer (sorting: errors)
    eval_error: str | None = None  # why the answer could not be judged (correct is then None)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RunRecord:
        fields = {k: v for k, v in row.items() if k in _field_names(cls)}
        fields["budget"] = json.loads(row["budget_json"]) if row.get("budget_json") else None
        fields["forked_from"] = json.loads(row["forked_from_json"]) if row.get("forked_from_json") else None
        fields["env"] = json.loads(row["env_json"]) if row.get("env_json") else None
        fields["metrics"] = json.loads(row["metrics_json"]) if row.get("metrics_json") else None
        fields["config"] = json.loads(row.get("config_json") or "{}")
        fields["task"] = json.loads(row.get("task_json") or "{}")
        if row.get("correct") is not None:
            fields["correct"] = bool(row["correct"])
        return cls(**fields)

    @property
    def question(self) -> str:
        return str(self.task.get("input", ""))

    @property
    def wall_s(self) -> float | None:
        return None if self.ended_at is None else self.ended_at - self.started_at


class LLMCallRecord(BaseModel):
    """One backend call as stored in `llm_calls` (request and response as plain JSON data)."""

    model_config = _LAZY

    id: int
    run_id: str
    event_seq: int | None
    request_key: str
    branch: str = ""
    sample_index: int = 0
    request: dict[str, Any]
    response: dict[str, Any] | None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float | None = None
    origin: str = "live"
    error: str | None = None
    attempts: list[dict[str, Any]] | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> LLMCallRecord:
        fields = {k: v for k, v in row.items() if k in _field_names(cls)}
        fields["request"] = json.loads(row["request_json"])
        fields["response"] = json.loads(row["response_json"]) if row.get("response_json") else None
        fields["attempts"] = json.loads(row["attempts_json"]) if row.get("attempts_json") else None
        return cls(**fields)


class ToolCallRecord(BaseModel):
    """One tool call as stored in `tool_calls`."""

    model_config = _LAZY

    id: int
    run_id: str
    event_seq: int | None
    tool: str
    args: Any
    branch: str = ""
    sample_index: int = 0
    result: str | None
    error: str | None
    duration_ms: float | None
    created_at: float | None = None  # when the call returned (its row was written)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ToolCallRecord:
        fields = {k: v for k, v in row.items() if k in _field_names(cls)}
        fields["args"] = json.loads(row["args_json"])
        return cls(**fields)


class MemoryRecord(BaseModel):
    """One entry of episodic memory (a Reflexion reflection, say)."""

    model_config = _LAZY

    id: int
    namespace: str
    kind: str
    content: str
    score: float | None = None
    run_id: str | None = None
    created_at: float
