"""`ponder proxy` when things go wrong: an upstream that hangs, drops a stream, refuses, is gone; a
client that gives up or disconnects mid-stream. The client gets an error within its timeout, the
call a complete error record, and no run is left `running`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import openai
import pytest

from ponder.interop._http import ThreadedServer, free_port
from ponder.interop.proxy import RecordingProxy
from ponder.traces.store import TraceStore
from tests.interop.conftest import Reply, statuses, wait_for

Q = [{"role": "user", "content": "What is 17 * 23?"}]


def proxy(store: TraceStore, serve_app: Callable[[Any], ThreadedServer], url: str, **kw: Any) -> openai.OpenAI:
    s = serve_app(RecordingProxy(store, upstream=url, **kw).app)
    return openai.OpenAI(base_url=f"{s.url}/v1", api_key="sk-none", max_retries=0, timeout=kw.get("timeout", 10) * 4)


def only_call(store: TraceStore) -> Any:
    [run] = store.list_runs()
    [call] = store.llm_calls(run.id)
    return run, call


def test_an_upstream_that_hangs_answers_504_within_the_proxy_timeout(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer], upstream: Any
) -> None:
    up = upstream(lambda body: Reply(hang=True))
    c = proxy(store, serve_app, up.url, timeout=0.5)
    t0 = time.monotonic()
    with pytest.raises(openai.InternalServerError) as e:
        c.chat.completions.create(model="m", messages=Q)
    assert e.value.status_code == 504 and time.monotonic() - t0 < 5
    run, call = only_call(store)
    assert call.response is None and "did not answer within 0.5 s" in (call.error or "")
    assert run.status == "error" and run.error == call.error
    assert [(ev.kind, ev.status) for ev in store.iter_events(run.id)] == [("llm_call", "error")]


def test_a_client_that_gives_up_first_leaves_a_cancelled_call(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer], upstream: Any
) -> None:
    up = upstream(lambda body: Reply(hang=True))
    s = serve_app(RecordingProxy(store, upstream=up.url, timeout=60).app)
    c = openai.OpenAI(base_url=f"{s.url}/v1", api_key="sk-none", max_retries=0, timeout=0.5)
    with pytest.raises(openai.APITimeoutError):
        c.chat.completions.create(model="m", messages=Q)
    wait_for(lambda: statuses(store) and "running" not in statuses(store).values(), what="the run to close")
    run, call = only_call(store)
    assert run.status == "cancelled" and call.error == "the client disconnected before the upstream answered"


def test_an_upstream_that_drops_mid_stream_ends_the_stream_with_an_error(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer], upstream: Any
) -> None:
    up = upstream(lambda body: Reply("one two three four five", drop_after=3))
    c = proxy(store, serve_app, up.url)
    stream = c.chat.completions.create(model="m", messages=Q, stream=True)
    got: list[str] = []
    with pytest.raises(openai.APIError) as e:
        for chunk in stream:
            got.append(chunk.choices[0].delta.content or "")
    assert "".join(got) == "one two " and "dropped the stream after 3 chunks" in e.value.message
    run, call = only_call(store)
    assert call.response is None and call.error == e.value.message and run.status == "error"


def test_an_upstream_that_stops_sending_mid_stream_times_out_with_an_error(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer], upstream: Any
) -> None:
    up = upstream(lambda body: Reply("one two three", hang=True))
    c = proxy(store, serve_app, up.url, timeout=0.5)
    with pytest.raises(openai.APIError) as e:
        list(c.chat.completions.create(model="m", messages=Q, stream=True))
    assert "sent nothing for 0.5 s after 1 chunks" in e.value.message
    _, call = only_call(store)
    assert call.error == e.value.message and call.attempts[0]["status"] == 200


def test_a_client_that_disconnects_mid_stream_leaves_no_running_run(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer], upstream: Any
) -> None:
    up = upstream(lambda body: Reply("one two three", hang=True))
    c = proxy(store, serve_app, up.url, timeout=60)
    stream = c.chat.completions.create(model="m", messages=Q, stream=True)
    assert next(iter(stream)).choices[0].delta.role == "assistant"
    stream.close()
    wait_for(lambda: statuses(store) and "running" not in statuses(store).values(), what="the run to close")
    run, call = only_call(store)
    assert run.status == "cancelled" and call.error == "the client disconnected after 1 chunks"
    assert [ev.status for ev in store.iter_events(run.id)] == ["cancelled"]


def test_an_upstream_error_status_is_relayed_and_recorded(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer], upstream: Any
) -> None:
    up = upstream(lambda body: Reply(status=429))
    c = proxy(store, serve_app, up.url)
    with pytest.raises(openai.RateLimitError) as e:
        c.chat.completions.create(model="m", messages=Q)
    assert e.value.body["message"] == "loopback server error 429"  # type: ignore[index]
    _, call = only_call(store)
    assert call.attempts[0]["status"] == 429 and "the upstream answered 429" in (call.error or "")


def test_an_unreachable_upstream_answers_502(store: TraceStore, serve_app: Callable[[Any], ThreadedServer]) -> None:
    c = proxy(store, serve_app, f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(openai.InternalServerError) as e:
        c.chat.completions.create(model="m", messages=Q)
    assert e.value.status_code == 502 and "cannot reach the upstream" in e.value.body["message"]  # type: ignore[index]
    run, call = only_call(store)
    assert run.status == "error" and "ConnectError" in (call.error or "")
