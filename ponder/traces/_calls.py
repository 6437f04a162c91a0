"""The `llm_calls`, `tool_calls` and `llm_cache` tables: what replay serves."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ponder._util.secrets import redact_opt
from ponder.traces._base import StoreBase, dumps, now
from ponder.traces.events import LLMCallRecord, ToolCallRecord


def _ids(run_ids: str | list[str]) -> list[str]:
    return [run_ids] if isinstance(run_ids, str) else list(run_ids)


class CallsTable(StoreBase):
    """Model calls and tool calls as recorded, and the response cache."""

    def add_llm_call(
        self,
        run_id: str,
        *,
        event_seq: int | None,
        request_key: str,
        branch: str,
        sample_index: int,
        request: dict[str, Any],
        response: dict[str, Any] | None,
        prompt_tokens: int | None,
        completion_tokens: int | None,
        latency_ms: float | None,
        origin: str,
        error: str | None = None,
        attempts: list[dict[str, Any]] | None = None,
    ) -> None:
        """Write one backend call (committed now, or at the end of an `atomic()` block).

        event_seq: its `llm_call` event. request_key/branch/sample_index: what replay matches on.
        request/response: as plain JSON data (response None when the call failed, with `error`).
        origin: live, replay or cache. attempts: every HTTP attempt (status, error, latency).
        """
        with self._c.write() as conn:
            conn.execute(
                "insert into llm_calls (run_id, event_seq, request_key, branch, sample_index, request_json,"
                " response_json, prompt_tokens, completion_tokens, latency_ms, origin, error, created_at,"
                " attempts_json) values (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    event_seq,
                    request_key,
                    branch,
                    sample_index,
                    dumps(request),
                    None if response is None else dumps(response),
                    prompt_tokens,
                    completion_tokens,
                    latency_ms,
                    origin,
                    redact_opt(error),
                    now(),
                    None if attempts is None else dumps(attempts),
                ),
            )

    def llm_calls(self, run_ids: str | list[str]) -> list[LLMCallRecord]:
        """The llm calls of one or more runs, in the order they were written."""
        ids = _ids(run_ids)
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self._c.rows(f"select * from llm_calls where run_id in ({marks}) order by id", ids)
        return [LLMCallRecord.from_row(r) for r in rows]

    def iter_llm_calls(
        self, run_id: str, *, page: int = 500, seqs: tuple[int, int] | None = None
    ) -> Iterator[LLMCallRecord]:
        """One run's llm calls in order, read a page at a time (constant memory).

        seqs: only the calls of events with `first <= event_seq <= last`.
        """
        for row in self._paged("llm_calls", run_id, page, seqs):
            yield LLMCallRecord.from_row(row)

    def iter_tool_calls(
        self, run_id: str, *, page: int = 500, seqs: tuple[int, int] | None = None
    ) -> Iterator[ToolCallRecord]:
        """One run's tool calls in order, read a page at a time; `seqs` as in `iter_llm_calls`."""
        for row in self._paged("tool_calls", run_id, page, seqs):
            yield ToolCallRecord.from_row(row)

    def loose_tool_calls(self, run_id: str) -> list[ToolCallRecord]:
        """One run's tool calls that belong to no event (`event_seq` null), in order."""
        rows = self._c.rows("select * from tool_calls where run_id = ? and event_seq is null order by id", (run_id,))
        return [ToolCallRecord.from_row(r) for r in rows]

    def _paged(self, table: str, run_id: str, page: int, seqs: tuple[int, int] | None) -> Iterator[dict[str, Any]]:
        window = "" if seqs is None else " and event_seq between ? and ?"
        after = 0
        while True:
            params: list[Any] = [run_id, after, *(seqs or ()), page]
            rows = self._c.rows(
                f"select * from {table} where run_id = ? and id > ?{window} order by id limit ?", params
            )
            yield from rows
            if len(rows) < page:
                return
            after = rows[-1]["id"]

    def all_llm_calls(self) -> list[LLMCallRecord]:
        """Every llm call in the store, in the order written (what a replay of a whole store serves)."""
        return [LLMCallRecord.from_row(r) for r in self._c.rows("select * from llm_calls order by id")]

    def llm_call_for_event(self, run_id: str, event_seq: int) -> LLMCallRecord | None:
        """The llm call recorded for one `llm_call` event, if any."""
        rows = self._c.rows("select * from llm_calls where run_id = ? and event_seq = ?", (run_id, event_seq))
        return LLMCallRecord.from_row(rows[0]) if rows else None

    def add_tool_call(
        self,
        run_id: str,
        *,
        event_seq: int | None,
        tool: str,
        args: Any,
        branch: str = "",
        sample_index: int = 0,
        result: str | None,
        error: str | None,
        duration_ms: float | None,
    ) -> None:
        """Write one tool call (committed now): its arguments, and its result or error.

        event_seq: the event it belongs to. branch/sample_index: what replay matches on.
        """
        with self._c.write() as conn:
            conn.execute(
                "insert into tool_calls (run_id, event_seq, tool, args_json, branch, sample_index, result, error,"
                " duration_ms, created_at) values (?,?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    event_seq,
                    tool,
                    dumps(args),
                    branch,
                    sample_index,
                    redact_opt(result),
                    redact_opt(error),
                    duration_ms,
                    now(),
                ),
            )

    def tool_calls_for_event(self, run_id: str, event_seq: int) -> list[ToolCallRecord]:
        """The tool calls recorded under one event, in order."""
        rows = self._c.rows(
            "select * from tool_calls where run_id = ? and event_seq = ? order by id", (run_id, event_seq)
        )
        return [ToolCallRecord.from_row(r) for r in rows]

    def tool_calls(self, run_ids: str | list[str]) -> list[ToolCallRecord]:
        """The tool calls of one or more runs, in the order they were written."""
        ids = _ids(run_ids)
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self._c.rows(f"select * from tool_calls where run_id in ({marks}) order by id", ids)
        return [ToolCallRecord.from_row(r) for r in rows]

    # -- cache -------------------------------------------------------------------------

    def cache_get(self, key: str, sample_index: int) -> dict[str, Any] | None:
        """A cached response for a request key and sample index, if any."""
        row = self._c.one(
            "select response_json from llm_cache where request_key = ? and sample_index = ?", (key, sample_index)
        )
        return json.loads(row[0]) if row else None

    def cache_put(self, key: str, sample_index: int, response: dict[str, Any]) -> None:
        """Cache a response (replacing one cached before for the same key and index)."""
        with self._c.write() as conn:
            conn.execute(
                "insert or replace into llm_cache (request_key, sample_index, response_json, created_at)"
                " values (?,?,?,?)",
                (key, sample_index, dumps(response), now()),
            )
