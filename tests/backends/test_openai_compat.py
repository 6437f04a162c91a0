"""OpenAICompatBackend against respx-mocked servers: no live network, no real sleeps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from ponder.agents.cot import CoT
from ponder.backends.openai_compat import OpenAICompatBackend
from ponder.errors import BackendError, ConfigError
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest, Message, ToolCall, ToolSpec

BASE = "http://llm.test/v1"
URL = f"{BASE}/chat/completions"
SECRET = "sk-test-SECRET-0123456789abcdef"


def body(*texts: str, usage: dict[str, int] | None = None, model: str = "m") -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
            for i, t in enumerate(texts)
        ],
    }
    out["usage"] = usage if usage is not None else {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    return out


def make(**kw: Any) -> tuple[OpenAICompatBackend, list[float]]:
    kw.setdefault("base_url", BASE)
    kw.setdefault("model", "m")
    kw.setdefault("backoff", 0.01)
    b = OpenAICompatBackend(**kw)
    slept: list[float] = []

    async def fake_sleep(s: float) -> None:
        slept.append(s)

    b._sleep = fake_sleep
    return b, slept


def req(n: int = 1, **kw: Any) -> CompletionRequest:
    return CompletionRequest(messages=(Message.user("What is 2 + 2?"),), n=n, **kw)


def sent(route: respx.Route, i: int = 0) -> dict[str, Any]:
    return json.loads(route.calls[i].request.content)


@respx.mock
async def test_success_maps_request_and_response() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(200, json=body("4", model="m-2024")))
    b, _ = make(api_key=SECRET)
    c = await b.complete(req(temperature=0.3, top_p=0.9, max_tokens=32, stop=("\n\n",), seed=7))
    assert c.text == "4"
    assert c.choices[0].finish_reason == "stop"
    assert (c.usage.prompt_tokens, c.usage.completion_tokens) == (10, 5)
    assert c.model == "m-2024"
    assert c.latency_ms > 0
    p = sent(route)
    assert p == {
        "model": "m",
        "messages": [{"role": "user", "content": "What is 2 + 2?"}],
        "temperature": 0.3,
        "top_p": 0.9,
        "max_tokens": 32,
        "stop": ["\n\n"],
        "seed": 7,
    }
    assert route.calls[0].request.headers["authorization"] == f"Bearer {SECRET}"


@respx.mock
async def test_no_key_sends_placeholder_and_request_model_overrides() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(200, json=body("ok")))
    b, _ = make()
    await b.complete(req(model="other"))
    assert route.calls[0].request.headers["authorization"] == "Bearer EMPTY"
    assert sent(route)["model"] == "other"


def test_model_required_and_repr_hides_key() -> None:
    with pytest.raises(ConfigError, match=r"--model.*PONDER_MODEL"):
        OpenAICompatBackend(base_url=BASE, api_key=SECRET, model=None)
    b = OpenAICompatBackend(base_url=BASE, api_key=SECRET, model="m")
    assert SECRET not in repr(b)
    assert SECRET not in str(vars(b).get("base_url"))
    assert "m" in repr(b) and BASE in repr(b)


@respx.mock
async def test_n_in_one_request() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(200, json=body("a", "b", "c")))
    b, _ = make()
    c = await b.complete(req(n=3))
    assert [ch.text for ch in c.choices] == ["a", "b", "c"]
    assert route.call_count == 1
    assert sent(route)["n"] == 3


@respx.mock
async def test_n_answered_with_fewer_choices_is_topped_up() -> None:
    # like llama-cpp-python's server: one choice whatever n says
    route = respx.post(URL).mock(
        side_effect=[
            httpx.Response(200, json=body("first", usage={"prompt_tokens": 10, "completion_tokens": 1})),
            httpx.Response(200, json=body("second", usage={"prompt_tokens": 10, "completion_tokens": 2})),
            httpx.Response(200, json=body("third", usage={"prompt_tokens": 10, "completion_tokens": 3})),
        ]
    )
    b, _ = make()
    c = await b.complete(req(n=3, seed=5, temperature=0.7))
    assert [ch.text for ch in c.choices] == ["first", "second", "third"]
    assert route.call_count == 3
    assert [sent(route, i).get("n") for i in range(3)] == [3, 2, None]
    # top-ups must not repeat the first sample's seed
    assert [sent(route, i)["seed"] for i in range(3)] == [5, 6, 7]
    assert (c.usage.prompt_tokens, c.usage.completion_tokens) == (30, 6)


@respx.mock
async def test_429_then_success_honours_retry_after() -> None:
    route = respx.post(URL).mock(
        side_effect=[
            httpx.Response(429, json={"error": {"message": "slow down"}}, headers={"retry-after": "2"}),
            httpx.Response(200, json=body("4")),
        ]
    )
    b, slept = make()
    c = await b.complete(req())
    assert c.text == "4"
    assert route.call_count == 2
    assert slept == [pytest.approx(2.0, abs=0.05)]


@respx.mock
async def test_500_exhausts_retries_with_growing_backoff() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(500, json={"error": {"message": "boom"}}))
    b, slept = make(max_retries=3, backoff=1.0)
    with pytest.raises(BackendError, match=r"answered 500: boom.*gave up after 4 attempts"):
        await b.complete(req())
    assert route.call_count == 4
    assert len(slept) == 3
    # jittered exponential: attempt i waits within [0.5, 1] * 2**i
    for i, s in enumerate(slept):
        assert 0.5 * 2**i <= s <= 2**i


@respx.mock
async def test_400_is_not_retried() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(400, json={"error": {"message": "bad n"}}))
    b, slept = make()
    with pytest.raises(BackendError, match="answered 400: bad n"):
        await b.complete(req())
    assert route.call_count == 1 and slept == []


@respx.mock
async def test_timeout_retried_then_reported() -> None:
    route = respx.post(URL).mock(side_effect=httpx.ReadTimeout("slow"))
    b, slept = make(max_retries=2, timeout=5)
    with pytest.raises(BackendError, match=r"did not answer within 5 s.*3 attempts"):
        await b.complete(req())
    assert route.call_count == 3 and len(slept) == 2


@respx.mock
async def test_timeout_then_success() -> None:
    respx.post(URL).mock(side_effect=[httpx.ConnectTimeout("slow"), httpx.Response(200, json=body("ok"))])
    b, _ = make()
    assert (await b.complete(req())).text == "ok"


@respx.mock
async def test_connection_refused_names_base_url() -> None:
    route = respx.post(URL).mock(side_effect=httpx.ConnectError("[Errno 111] Connection refused"))
    b, _ = make(max_retries=1)
    with pytest.raises(BackendError, match=r"cannot reach http://llm.test/v1.*check that the server is running"):
        await b.complete(req())
    assert route.call_count == 2


@respx.mock
@pytest.mark.parametrize("code", [401, 403])
async def test_auth_refused_message_and_no_retry(code: int) -> None:
    # a server that echoes the key back must not get it into our message
    route = respx.post(URL).mock(
        return_value=httpx.Response(code, json={"error": {"message": f"Incorrect API key provided: {SECRET}"}})
    )
    b, _ = make(api_key=SECRET)
    with pytest.raises(BackendError) as info:
        await b.complete(req())
    msg = str(info.value)
    assert f"the server refused the API key ({code}); set OPENAI_API_KEY or --api-key-env VAR" in msg
    assert SECRET not in msg
    assert route.call_count == 1


@respx.mock
async def test_404_names_the_model() -> None:
    respx.post(URL).mock(return_value=httpx.Response(404, json={"error": {"message": "model not found"}}))
    b, _ = make(model="no-such-model")
    with pytest.raises(BackendError, match=r"404 for model 'no-such-model'"):
        await b.complete(req())


@respx.mock
@pytest.mark.parametrize(
    ("reply", "match"),
    [
        (httpx.Response(200, text="<html>gateway</html>", headers={"content-type": "text/html"}), "not JSON"),
        (httpx.Response(200, text="{not json", headers={"content-type": "application/json"}), "not JSON"),
        (httpx.Response(200, json={"id": "x", "object": "chat.completion"}), "no choices"),
        (httpx.Response(200, json={"choices": []}), "no choices"),
        (httpx.Response(200, json={"choices": [{"index": 0}]}), "no message"),
        (httpx.Response(200, json=[1, 2]), "not a chat completion"),
        (httpx.Response(200, json={"error": {"message": "overloaded"}}), "overloaded"),
    ],
)
async def test_malformed_body(reply: httpx.Response, match: str) -> None:
    respx.post(URL).mock(return_value=reply)
    b, _ = make()
    with pytest.raises(BackendError, match=match):
        await b.complete(req())


@respx.mock
async def test_missing_usage_gives_zeros() -> None:
    data = body("4")
    del data["usage"]
    respx.post(URL).mock(return_value=httpx.Response(200, json=data))
    b, _ = make()
    c = await b.complete(req())
    assert c.text == "4"
    assert (c.usage.prompt_tokens, c.usage.completion_tokens) == (0, 0)


@respx.mock
async def test_tool_calls_round_trip() -> None:
    reply = {
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_9",
                            "type": "function",
                            "function": {"name": "calculator", "arguments": '{"expr": "17*23"}'},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 20, "completion_tokens": 9},
    }
    route = respx.post(URL).mock(side_effect=[httpx.Response(200, json=reply), httpx.Response(200, json=body("391"))])
    b, _ = make()
    spec = ToolSpec(
        name="calculator",
        description="evaluate arithmetic",
        parameters={"type": "object", "properties": {"expr": {"type": "string"}}, "required": ["expr"]},
    )
    first = CompletionRequest(messages=(Message.user("17*23?"),), tools=(spec,))
    c = await b.complete(first)
    call = c.choices[0].tool_calls
    assert call == (ToolCall(id="call_9", name="calculator", arguments='{"expr": "17*23"}'),)
    assert c.choices[0].finish_reason == "tool_calls" and c.text == ""
    assert sent(route, 0)["tools"] == [
        {
            "type": "function",
            "function": {"name": "calculator", "description": "evaluate arithmetic", "parameters": spec.parameters},
        }
    ]
    # feed the call and its result back
    second = CompletionRequest(
        messages=(
            *first.messages,
            Message.assistant("", tool_calls=call),
            Message(role="tool", content="391", tool_call_id="call_9"),
        ),
        tools=(spec,),
    )
    assert (await b.complete(second)).text == "391"
    msgs = sent(route, 1)["messages"]
    assert msgs[1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_9", "type": "function", "function": {"name": "calculator", "arguments": '{"expr": "17*23"}'}}
        ],
    }
    assert msgs[2] == {"role": "tool", "content": "391", "tool_call_id": "call_9"}


@respx.mock
async def test_concurrency_limit_holds() -> None:
    import asyncio

    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        for _ in range(50):
            await asyncio.sleep(0)
        in_flight -= 1
        return httpx.Response(200, json=body("x"))

    respx.post(URL).mock(side_effect=handler)
    b, _ = make(concurrency=2)
    out = await asyncio.gather(*(b.complete(req()) for _ in range(6)))
    assert len(out) == 6
    assert peak == 2


@respx.mock
async def test_key_never_recorded_in_trace(tmp_path: Path) -> None:
    respx.post(URL).mock(
        side_effect=[
            httpx.Response(200, json=body("3 + 5 = 8. The answer is 8.")),
            httpx.Response(401, json={"error": {"message": f"bad key {SECRET}"}}),
        ]
    )
    db = tmp_path / "t.db"
    store = TraceStore(db)
    b, _ = make(api_key=SECRET)
    result = await CoT().arun("What is 3 + 5?", backend=b, store=store)
    assert result.answer == "8"
    with pytest.raises(BackendError):
        await CoT().arun("What is 1 + 1?", backend=b, store=store)
    rows = list(store.db.query("select request_json, response_json, error from llm_calls order by id"))
    assert len(rows) == 2 and rows[1]["error"] and "refused the API key" in rows[1]["error"]
    store.close()
    for f in tmp_path.iterdir():
        assert SECRET.encode() not in f.read_bytes(), f"API key leaked into {f.name}"


def test_built_from_flags_through_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    from ponder.backends.config import resolve_backend

    monkeypatch.setenv("MY_KEY", SECRET)
    b = resolve_backend(backend="openai", base_url=BASE, model="m", api_key_env="MY_KEY")
    assert isinstance(b, OpenAICompatBackend) and b.model == "m"
    assert SECRET not in repr(b)
    with pytest.raises(ConfigError, match="PONDER_MODEL"):
        resolve_backend(backend="openai", base_url=BASE)


@respx.mock
def test_sync_runs_on_two_event_loops_reuse_the_backend() -> None:
    # each asyncio.run is a new loop: the backend must not reuse a pool bound to a closed loop
    respx.post(URL).mock(return_value=httpx.Response(200, json=body("The answer is 8.")))
    b, _ = make()
    assert CoT().run("What is 3 + 5?", backend=b).answer == "8"
    assert CoT().run("What is 4 + 4?", backend=b).answer == "8"


def test_retry_after_forms() -> None:
    import email.utils
    import time

    from ponder.backends._http_client import retry_after as _retry_after

    assert _retry_after(httpx.Headers({"retry-after-ms": "250"})) == 0.25
    assert _retry_after(httpx.Headers({"retry-after": "3"})) == 3.0
    later = email.utils.formatdate(time.time() + 20, usegmt=True)
    got = _retry_after(httpx.Headers({"retry-after": later}))
    assert got is not None and 15 < got <= 21
    assert _retry_after(httpx.Headers({"retry-after": "soon"})) is None
    assert _retry_after(httpx.Headers({})) is None
