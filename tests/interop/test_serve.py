"""`ponder serve` through the real `openai` SDK (sync, async, streaming) against a server the test
starts on loopback; upstream: a ScriptedBackend, or ponder's openai backend over a loopback server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from ponder.backends.base import Backend
from ponder.backends.openai_compat import OpenAICompatBackend
from ponder.backends.scripted import ScriptedBackend
from ponder.errors import BackendError
from ponder.interop._http import ThreadedServer
from ponder.interop.serve import StrategyServer
from ponder.runtime.budget import Budget
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest
from tests.interop.conftest import Reply, statuses, wait_for

Q = [{"role": "user", "content": "What is 17 * 23?"}]


def server(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer], backend: Backend, **kw: Any
) -> tuple[ThreadedServer, list[str | None]]:
    """A served StrategyServer whose every upstream is `backend`; the list gets the upstream names asked for."""
    asked: list[str | None] = []

    def upstreams(name: str | None) -> Backend:
        asked.append(name)
        return backend

    return serve_app(StrategyServer(store, upstreams, **kw).app), asked


def client(s: ThreadedServer, **kw: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{s.url}/v1", api_key=kw.pop("api_key", "sk-none"), max_retries=0, **kw)


def votes(answers: list[str]) -> Callable[[CompletionRequest], Any]:
    """A responder giving the n sampled paths of one request these answers."""

    def reply(req: CompletionRequest) -> list[str]:
        return [f"Reasoning... The answer is {a}." for a in answers][: req.n]

    return reply


def test_sync_client_gets_the_self_consistency_answer_and_the_run_is_recorded(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer]
) -> None:
    s, asked = server(store, serve_app, ScriptedBackend(votes(["391", "390", "391"])))
    raw = client(s).chat.completions.with_raw_response.create(model="self_consistency#k=3", messages=Q)
    reply = raw.parse()
    assert reply.choices[0].message.content == "391"
    run_id = raw.headers["x-ponder-run"]
    assert reply.id == f"chatcmpl-{run_id}" and reply.model_extra["ponder"]["run_id"] == run_id
    run = store.get_run(run_id)
    assert (run.agent, run.status, run.answer, run.config["k"]) == ("self_consistency", "ok", "391", 3)
    assert run.task["input"] == "What is 17 * 23?" and asked == [None]
    # usage is every token the run spent, as the store counts it
    assert reply.usage is not None and reply.usage.prompt_tokens == run.prompt_tokens > 0
    assert reply.usage.completion_tokens == run.completion_tokens > 0
    kinds = [e.kind for e in store.iter_events(run_id)]
    assert kinds.count("path") == 3 and "vote" in kinds and kinds[-1] == "answer"


async def test_async_clients_each_get_their_own_run(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer]
) -> None:
    def reply(req: CompletionRequest) -> str:
        q = req.messages[-1].content
        return f"The answer is {len(q)}."

    s, _ = server(store, serve_app, ScriptedBackend(reply))
    aclient = openai.AsyncOpenAI(base_url=f"{s.url}/v1", api_key="sk-none", max_retries=0)
    questions = [f"question number {'x' * i}" for i in range(6)]
    replies = await asyncio.gather(
        *(aclient.chat.completions.create(model="cot", messages=[{"role": "user", "content": q}]) for q in questions)
    )
    await aclient.close()
    ids = [r.model_extra["ponder"]["run_id"] for r in replies]
    assert len(set(ids)) == 6
    for q, r, rid in zip(questions, replies, ids, strict=True):
        run = store.get_run(rid)
        assert run.task["input"] == q and run.status == "ok" and r.choices[0].message.content == run.answer


def test_streaming_sends_role_answer_end_and_usage(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer]
) -> None:
    s, _ = server(store, serve_app, ScriptedBackend(votes(["391", "391"])), keepalive_s=0.05)
    chunks = list(
        client(s).chat.completions.create(
            model="self_consistency#k=2", messages=Q, stream=True, stream_options={"include_usage": True}
        )
    )
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert deltas[0].role == "assistant"
    assert "".join(d.content or "" for d in deltas) == "391"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    run_id = chunks[0].id.removeprefix("chatcmpl-")
    run = store.get_run(run_id)
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == run.prompt_tokens + run.completion_tokens


def test_options_from_extra_body_win_over_the_model_suffix_and_are_validated(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer]
) -> None:
    s, _ = server(store, serve_app, ScriptedBackend(votes(["7"] * 8)))
    c = client(s)
    r = c.chat.completions.create(
        model="self_consistency#k=2,temperature=0.5", messages=Q, extra_body={"ponder": {"k": 4}}
    )
    run = store.get_run(r.model_extra["ponder"]["run_id"])
    assert (run.config["k"], run.config["temperature"]) == (4, 0.5)
    for bad, words in [
        ({"ponder": {"k": 0}}, "option k"),
        ({"ponder": {"no_such": 1}}, "has no option 'no_such'"),
        ({"ponder": [1]}, "must be an object"),
    ]:
        with pytest.raises(openai.BadRequestError) as e:
            c.chat.completions.create(model="self_consistency", messages=Q, extra_body=bad)
        message = e.value.body["message"]  # type: ignore[index]
        assert words in message and "\n" not in message, message


@pytest.mark.parametrize(
    ("model", "words"),
    [
        ("nope", "unknown strategy 'nope'"),
        ("cot@", "nothing after '@'"),
        ("cot#k", "expected key=value"),
        ("", "has no model"),
    ],
)
def test_bad_model_names_answer_400_on_one_line(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer], model: str, words: str
) -> None:
    s, _ = server(store, serve_app, ScriptedBackend(["unused"]))
    with pytest.raises(openai.BadRequestError) as e:
        client(s).chat.completions.create(model=model, messages=Q)
    body = e.value.body
    assert isinstance(body, dict) and body["type"] == "invalid_request_error"
    assert words in body["message"] and "\n" not in body["message"]
    assert store.list_runs() == []  # nothing ran


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"n": 2}, "n=2"),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "'tools'"),
        ({"messages": [{"role": "system", "content": "be brief"}]}, "no user message"),
        ({"seed": -1}, "seed -1"),
    ],
)
def test_bad_requests_answer_400(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer], kw: dict[str, Any], words: str
) -> None:
    s, _ = server(store, serve_app, ScriptedBackend(["unused"]))
    with pytest.raises(openai.BadRequestError) as e:
        client(s).chat.completions.create(**{"model": "cot", "messages": Q, **kw})
    assert words in e.value.body["message"]  # type: ignore[index]


def test_a_body_that_is_not_json_answers_400(store: TraceStore, serve_app: Callable[[Any], ThreadedServer]) -> None:
    s, _ = server(store, serve_app, ScriptedBackend(["unused"]))
    r = httpx.post(f"{s.url}/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["message"] == "the request body is not JSON"


def test_the_api_key_is_required_as_a_bearer_token(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer]
) -> None:
    s, _ = server(store, serve_app, ScriptedBackend(lambda req: "The answer is 1."), api_key="sk-serve-secret")
    for wrong in ("sk-none", "sk-serve-secreT"):
        with pytest.raises(openai.AuthenticationError):
            client(s, api_key=wrong).chat.completions.create(model="cot", messages=Q)
    with pytest.raises(openai.AuthenticationError):
        client(s, api_key=wrong).models.list()
    assert client(s, api_key="sk-serve-secret").chat.completions.create(model="cot", messages=Q).choices
    assert len(store.list_runs()) == 1


def test_models_lists_the_strategies(store: TraceStore, serve_app: Callable[[Any], ThreadedServer]) -> None:
    s, _ = server(store, serve_app, ScriptedBackend([]))
    ids = [m.id for m in client(s).models.list()]
    assert {"cot", "self_consistency", "tot", "react"} <= set(ids)


def test_an_upstream_failure_answers_502_with_the_run_id(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer]
) -> None:
    def fail(req: CompletionRequest) -> str:
        raise BackendError("the server at http://upstream answered 500")

    s, _ = server(store, serve_app, ScriptedBackend(fail))
    with pytest.raises(openai.InternalServerError) as e:
        client(s).chat.completions.create(model="cot", messages=Q)
    assert e.value.status_code == 502
    run_id = e.value.response.headers["x-ponder-run"]
    body = e.value.body
    assert isinstance(body, dict) and body["run_id"] == run_id and f"cot run {run_id} failed" in body["message"]
    assert store.get_run(run_id).status == "error"


def test_a_run_without_an_answer_answers_500_naming_the_run(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer]
) -> None:
    s, _ = server(store, serve_app, ScriptedBackend(lambda req: "I cannot say."))
    with pytest.raises(openai.InternalServerError) as e:
        client(s).chat.completions.create(model="cot", messages=Q)
    body = e.value.body
    assert isinstance(body, dict) and e.value.status_code == 500
    assert "no answer" in body["message"] and store.get_run(body["run_id"]).status == "error"


def test_a_run_past_its_time_budget_answers_504(store: TraceStore, serve_app: Callable[[Any], ThreadedServer]) -> None:
    s, _ = server(store, serve_app, ScriptedBackend(["x"], latency=30), budget=Budget(timeout_s=0.3))
    with pytest.raises(openai.InternalServerError) as e:
        client(s, timeout=20).chat.completions.create(model="cot", messages=Q)
    assert e.value.status_code == 504
    assert store.get_run(e.value.body["run_id"]).status == "timeout"  # type: ignore[index]


def test_a_failed_streamed_run_ends_the_stream_with_an_error_the_sdk_raises(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer]
) -> None:
    def fail(req: CompletionRequest) -> str:
        raise BackendError("upstream down")

    s, _ = server(store, serve_app, ScriptedBackend(fail))
    stream = client(s).chat.completions.create(model="cot", messages=Q, stream=True)
    with pytest.raises(openai.APIError) as e:
        list(stream)
    run_id = stream.response.headers["x-ponder-run"]
    assert f"cot run {run_id} failed: upstream down" in e.value.message
    assert store.get_run(run_id).status == "error"


def test_a_client_that_disconnects_mid_stream_leaves_a_cancelled_run(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer]
) -> None:
    s, _ = server(store, serve_app, ScriptedBackend(["x"], latency=60), keepalive_s=0.05)
    stream = client(s).chat.completions.create(model="cot", messages=Q, stream=True)
    first = next(iter(stream))
    assert first.choices[0].delta.role == "assistant"
    run_id = stream.response.headers["x-ponder-run"]
    stream.close()
    wait_for(lambda: statuses(store)[run_id] == "cancelled", what="the run to be recorded cancelled")
    assert "running" not in statuses(store).values()


def test_a_client_that_gives_up_waiting_leaves_a_cancelled_run(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer]
) -> None:
    s, _ = server(store, serve_app, ScriptedBackend(["x"], latency=60))
    with pytest.raises(openai.APITimeoutError):
        client(s, timeout=0.5).chat.completions.create(model="cot", messages=Q)
    wait_for(lambda: list(statuses(store).values()) == ["cancelled"], what="the run to be recorded cancelled")


# -- through ponder's openai backend, to a loopback server -------------------------------


def test_the_openai_backend_upstream_is_called_with_the_strategy_prompt(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer], upstream: Any
) -> None:
    up = upstream(lambda body: Reply("17 * 23 = 391. The answer is 391."))
    backend = OpenAICompatBackend(base_url=up.url, model="loopback-model", max_retries=0)
    s, _ = server(store, serve_app, backend)
    r = client(s).chat.completions.create(model="cot", messages=Q)
    assert r.choices[0].message.content == "391"
    sent = up.requests[0]
    assert sent["model"] == "loopback-model" and "What is 17 * 23?" in json.dumps(sent["messages"])
    run = store.get_run(r.model_extra["ponder"]["run_id"])
    assert run.prompt_tokens == r.usage.prompt_tokens and run.backend == "openai"  # type: ignore[union-attr]


def test_an_upstream_that_hangs_answers_502_within_the_backend_timeout(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer], upstream: Any
) -> None:
    up = upstream(lambda body: Reply(hang=True))
    backend = OpenAICompatBackend(base_url=up.url, model="m", max_retries=0, timeout=0.5)
    s, _ = server(store, serve_app, backend)
    with pytest.raises(openai.InternalServerError) as e:
        client(s, timeout=20).chat.completions.create(model="cot", messages=Q)
    assert e.value.status_code == 502 and "timeout" in e.value.body["message"]  # type: ignore[index]
    run_id = e.value.body["run_id"]  # type: ignore[index]
    calls = store.llm_calls(run_id)
    assert len(calls) == 1 and calls[0].response is None and "did not answer within 0.5 s" in (calls[0].error or "")


async def test_a_served_run_forks_and_diffs_like_any_run(
    store: TraceStore, serve_app: Callable[[Any], ThreadedServer]
) -> None:
    from ponder.replay.diff import diff_runs
    from ponder.replay.fork import afork

    s, _ = server(store, serve_app, ScriptedBackend(votes(["391"])))
    reply = await openai.AsyncOpenAI(base_url=f"{s.url}/v1", api_key="x", max_retries=0).chat.completions.create(
        model="cot", messages=Q
    )
    run_id = reply.model_extra["ponder"]["run_id"]  # type: ignore[index]
    first_call = next(e.seq for e in store.iter_events(run_id) if e.kind == "llm_call")
    fork = await afork(store, run_id, at=first_call, edit="The answer is 390.", backend=ScriptedBackend([]))
    assert fork.answer == "390" and store.get_run(fork.run_id).forked_from["run_id"] == run_id  # type: ignore[index]
    assert not diff_runs(store, run_id, store, fork.run_id).identical
