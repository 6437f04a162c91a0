"""`RecordingProxy`: any OpenAI-compatible client's calls, passed to an upstream and recorded as runs.

`/v1/chat/completions` calls are forwarded as the client sent them (its bytes, its headers but the
hop-by-hop ones and `X-Ponder-Session`) and answered with the upstream's own reply — a stream relayed
event by event as it comes. Each is recorded (`proxy_sessions`): the request (keyed as ponder keys
requests), the reply (the parsed completion, and the upstream's body or chunks as sent), tokens,
latency, the HTTP status, the tool calls. The client's `Authorization` is never stored; its token is
registered as a secret, so an echo of it anywhere is redacted.

With a `ReplayIndex` (`ponder proxy --replay DB`) a recorded request is answered from the recording
and the upstream is never asked; an unrecorded one answers 409 with the closest recorded request and
how it differs — or, with `record_missing`, is forwarded and recorded. Other `/v1/...` paths are
forwarded unrecorded (404 when replaying).

Faults: an upstream that does not answer within `timeout` s answers 504 (a stream: an error event
when it stops sending for that long); one that cannot be reached or drops the connection, 502 (a
stream: an error event). A client that disconnects cancels the upstream request. Every one of
these leaves the call recorded with its error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.parse
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ponder._util.secrets import register_secret
from ponder.backends.openai_wire import parse_chat_completion
from ponder.errors import BackendError, ConfigError
from ponder.interop._http import ClientGone, EventStream, error_response, until_disconnect
from ponder.interop.proxy_replay import ReplayIndex, recorded_body, recorded_stream
from ponder.interop.proxy_sessions import SESSION_HEADER, CallOutcome, Session, Sessions
from ponder.interop.wire import (
    SSEReader,
    WireRequest,
    assemble_chunks,
    error_body,
    request_from_openai,
    sse,
    wants_stream,
    wants_usage_chunk,
)
from ponder.traces.store import TraceStore
from ponder.types import Completion, Usage

CLIENT_CLOSED = 499
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding"}
    | {"upgrade", "host", "content-length", "accept-encoding", SESSION_HEADER}
)
_REPLY_DROPPED = frozenset({"content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive"})


class _UpstreamFailed(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def public_url(url: str) -> str:
    """`url` without user:password, as it is recorded."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def _last_user_text(req: WireRequest) -> str:
    users = [m.content for m in req.messages if m.role == "user" and m.content.strip()]
    return users[-1] if users else ""


def _outcome(status: int, content: bytes) -> CallOutcome:
    """What a whole (not streamed) upstream reply was: a completion, or why it is not one."""
    snippet = content[:300].decode("utf-8", "replace")
    if status != 200:
        return CallOutcome(None, error=f"the upstream answered {status}: {snippet}", status=status)
    try:
        body = json.loads(content)
        choices, usage, model = parse_chat_completion(body)
    except ValueError:
        return CallOutcome(None, error=f"the upstream's reply is not JSON: {snippet!r}", status=status)
    except BackendError as e:
        return CallOutcome(None, error=str(e), status=status)
    return CallOutcome(Completion(choices=choices, usage=usage, model=model), wire={"body": body}, status=status)


class RecordingProxy:
    """The ASGI app (`.app`) of `ponder proxy`.

    store: where calls are recorded. upstream: the API root calls go to (…/v1); None only when
    replaying without `record_missing`. replay: the recording to answer from. timeout: seconds the
    upstream gets to answer (to send the next event, for a stream). idle_gap: see `Sessions`.
    upstream_api_key: sent upstream as the bearer token instead of the client's (None: the client's).
    """

    def __init__(
        self,
        store: TraceStore,
        *,
        upstream: str | None,
        replay: ReplayIndex | None = None,
        record_missing: bool = False,
        timeout: float = 60.0,
        idle_gap: float = 30.0,
        upstream_api_key: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if upstream is None and (replay is None or record_missing):
            raise ConfigError("give --upstream URL: recording (and --record-missing) forwards calls to it")
        if timeout <= 0 or idle_gap < 0:
            raise ConfigError("--timeout must be > 0 and --idle-gap >= 0")
        self.store = store
        self.upstream = upstream.rstrip("/") if upstream else None
        self.replay = replay
        self.record_missing = record_missing
        self.timeout = timeout
        self.clock = clock
        self.upstream_api_key = upstream_api_key
        register_secret(upstream_api_key)
        self.sessions = Sessions(store, upstream=public_url(self.upstream or "replay"), idle_gap=idle_gap, clock=clock)
        self._client: httpx.AsyncClient | None = None
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/v1/models", self.models, methods=["GET"]),
                Route("/v1/{path:path}", self.other, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
            ],
            lifespan=self._lifespan,
        )

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        yield
        if self._client is not None:
            await self._client.aclose()
        self.sessions.close_all()

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout), limits=httpx.Limits(max_connections=None)
            )
        return self._client

    def _headers(self, request: Request) -> dict[str, str]:
        out = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            register_secret(token.strip())
        if self.upstream_api_key is not None:
            out["authorization"] = f"Bearer {self.upstream_api_key}"
        return out

    def _url(self, path: str, query: str) -> str:
        return f"{self.upstream}/{path.lstrip('/')}" + (f"?{query}" if query else "")

    # -- routes ----------------------------------------------------------------------

    async def models(self, request: Request) -> Response:
        """`GET /v1/models`: the recorded models when replaying, else the upstream's answer."""
        if self.replay is not None and not self.record_missing:
            data = [
                {"id": m, "object": "model", "created": 0, "owned_by": "ponder-replay"} for m in self.replay.models()
            ]
            return JSONResponse({"object": "list", "data": data})
        return await self.other(request)

    async def other(self, request: Request) -> Response:
        """Any other `/v1/...` call: forwarded as is, not recorded (404 when only replaying)."""
        if self.upstream is None:
            return error_response(
                404, "ponder proxy --replay serves /v1/chat/completions and /v1/models only", "not_found"
            )
        path = request.url.path.removeprefix("/v1")
        try:
            async with asyncio.timeout(self.timeout):
                resp = await self.client.request(
                    request.method,
                    self._url(path, request.url.query),
                    content=await request.body(),
                    headers=self._headers(request),
                )
        except (TimeoutError, httpx.TransportError) as e:
            return error_response(502, f"the upstream failed: {type(e).__name__}: {e}", "upstream_error")
        headers = {k: v for k, v in resp.headers.items() if k.lower() not in _REPLY_DROPPED}
        return Response(resp.content, status_code=resp.status_code, headers=headers)

    async def chat(self, request: Request) -> Any:
        """`POST /v1/chat/completions`: answered from the recording, or forwarded and recorded."""
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            return error_response(400, "the request body is not JSON", "invalid_request_error")
        if not isinstance(body, dict):
            return error_response(400, "the request body must be a JSON object", "invalid_request_error")
        req = request_from_openai(body)
        headers = self._headers(request)
        if self.replay is not None:
            hit = self.replay.lookup(req)
            if hit is not None:
                tag = {"x-ponder-replayed-from": f"{hit.run_id}/{hit.id}"}
                if wants_stream(body):
                    return EventStream(recorded_stream(hit, usage=wants_usage_chunk(body)), headers=tag)
                return JSONResponse(recorded_body(hit), headers=tag)
            if not self.record_missing:
                miss = self.replay.describe_miss(req)
                body_409 = error_body(miss, "replay_miss", code="replay_miss", request_key=req.key())
                return JSONResponse(body_409, status_code=409)
        return await self._record(request, raw, body, req, headers)

    # -- forwarding and recording ----------------------------------------------------

    async def _record(
        self, request: Request, raw: bytes, body: dict[str, Any], req: WireRequest, headers: dict[str, str]
    ) -> Any:
        sessions = self.sessions
        client = request.client.host if request.client else "unknown"
        s = sessions.begin(request.headers.get(SESSION_HEADER), client, body, _last_user_text(req))
        sessions.tool_results(s, body.get("messages"))
        key = req.key()
        last = req.messages[-1].content if req.messages else ""
        seq, index = sessions.call_started(s, key, str(body.get("model") or "proxy"), last)
        t0 = self.clock()
        canonical = req.canonical()

        def end(out: CallOutcome) -> None:
            sessions.call_ended(s, seq, index, canonical, key, out, t0)
            if self.replay is not None and out.completion is not None:
                found = self.store.llm_call_for_event(s.run_id, seq)
                if found is not None:
                    self.replay.add(found)

        stream = wants_stream(body)
        url = self._url("chat/completions", "")
        try:
            resp = await until_disconnect(request, self._send(url, raw, headers, stream))
        except ClientGone:
            end(CallOutcome(None, error="the client disconnected before the upstream answered", cancelled=True))
            return Response(status_code=CLIENT_CLOSED)
        except _UpstreamFailed as f:
            end(CallOutcome(None, error=f.message))
            return error_response(f.status, f.message, "upstream_error", run_id=s.run_id)
        if stream and resp.status_code == 200:
            relay = self._relay(resp, end, s)
            return EventStream(relay, headers={"x-ponder-run": s.run_id})
        content = resp.content
        end(_outcome(resp.status_code, content))
        reply_headers = {k: v for k, v in resp.headers.items() if k.lower() not in _REPLY_DROPPED}
        return Response(content, status_code=resp.status_code, headers={**reply_headers, "x-ponder-run": s.run_id})

    async def _send(self, url: str, raw: bytes, headers: dict[str, str], stream: bool) -> httpx.Response:
        """The upstream's reply (for a 200 stream, its headers: the body is still to come)."""
        request = self.client.build_request("POST", url, content=raw, headers=headers)
        try:
            async with asyncio.timeout(self.timeout):
                resp = await self.client.send(request, stream=stream)
                if stream and resp.status_code != 200:
                    await resp.aread()
                    await resp.aclose()
                return resp
        except (TimeoutError, httpx.TimeoutException):
            raise _UpstreamFailed(504, f"the upstream did not answer within {self.timeout} s (timeout)") from None
        except httpx.TransportError as e:
            raise _UpstreamFailed(
                502, f"cannot reach the upstream at {public_url(url)} ({type(e).__name__}: {e})"
            ) from None

    async def _relay(
        self, resp: httpx.Response, end: Callable[[CallOutcome], None], s: Session
    ) -> AsyncGenerator[bytes, None]:
        """Relay a 200 stream event by event, collecting its chunks; how it ends is recorded."""
        st = _Stream()
        error: str | None = None
        try:
            async with contextlib.aclosing(self._events(resp, st)) as events:
                async for event in events:
                    yield event
            if st.upstream_error is not None:
                error = f"the upstream sent an error event after {len(st.chunks)} chunks: {st.upstream_error}"
            elif not st.done:
                error = f"the upstream's stream ended without [DONE] after {len(st.chunks)} chunks"
        except TimeoutError:
            error = f"the upstream sent nothing for {self.timeout} s after {len(st.chunks)} chunks (timeout)"
        except httpx.TransportError as e:
            error = f"the upstream dropped the stream after {len(st.chunks)} chunks ({type(e).__name__}: {e})"
        except (asyncio.CancelledError, GeneratorExit):
            await resp.aclose()
            gone = f"the client disconnected after {len(st.chunks)} chunks"
            end(CallOutcome(None, error=gone, status=200, cancelled=True))
            raise
        await resp.aclose()
        if error is not None:
            end(CallOutcome(None, error=error, status=200))
            if st.upstream_error is None:  # the client learns why its stream stops (the SDK raises APIError)
                yield sse(error_body(error, "upstream_error", code="upstream_stream_error", run_id=s.run_id))
            return
        choices, usage, model = assemble_chunks(st.chunks)
        completion = Completion(choices=choices, usage=usage or Usage(), model=model)
        end(CallOutcome(completion, wire={"chunks": st.chunks}, status=200, usage_known=usage is not None))
        yield st.tail

    async def _events(self, resp: httpx.Response, st: _Stream) -> AsyncGenerator[bytes, None]:
        """The upstream's whole events, each within `timeout` of the last; chunks collected, `[DONE]` noted."""
        reader = SSEReader()
        source = resp.aiter_raw().__aiter__()
        while not st.done:
            try:
                async with asyncio.timeout(self.timeout):
                    data = await anext(source)
            except StopAsyncIteration:
                return
            for raw, payload in reader.feed(data):
                if payload is not None and payload.strip() == "[DONE]":
                    st.done, st.tail = (
                        True,
                        raw,
                    )  # sent once the call is recorded: a client that has it finds the record
                    return
                if payload:
                    st.take(payload)
                yield raw


@dataclass
class _Stream:
    """What a relayed stream has carried so far."""

    chunks: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False
    tail: bytes = b""
    upstream_error: str | None = None

    def take(self, payload: str) -> None:
        try:
            chunk = json.loads(payload)
        except ValueError:
            return
        if isinstance(chunk, dict) and chunk.get("error"):
            self.upstream_error = json.dumps(chunk["error"], ensure_ascii=False)[:300]
        elif isinstance(chunk, dict):
            self.chunks.append(chunk)
