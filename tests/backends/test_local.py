"""LocalBackend: unit tests on a stand-in for llama.cpp's server, and `local` tests on a real GGUF model.

The real-model tests need xllamacpp (`pip install -e '.[local]'`) and `PONDER_TEST_GGUF`, the
path of a small chat model (Qwen2.5-Coder-0.5B-Instruct Q4_K_M is what CI uses).
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ponder.agents.cot import CoT
from ponder.agents.self_consistency import SelfConsistency
from ponder.backends import _llama_server
from ponder.backends import local as local_mod
from ponder.backends.base import collect_attempts
from ponder.backends.local import LocalBackend
from ponder.errors import BackendError, ConfigError
from ponder.parsing import extract_answer
from ponder.replay.rerun import areplay
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest, Message


def test_llama_params_are_set_after_the_backends_own(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    started: list[Any] = []

    class Params:
        def __init__(self) -> None:
            self.model = type("M", (), {})()
            self.cpuparams = type("C", (), {})()
            self.cpuparams_batch = type("C", (), {})()

    class Server:
        listening_address = "127.0.0.1:1"

        def __init__(self, params: Params) -> None:
            started.append(params)

    fake = type("X", (), {"CommonParams": Params, "Server": Server})
    monkeypatch.setattr(_llama_server, "import_xllamacpp", lambda: fake)
    settings = _llama_server.ServerSettings(
        tmp_path / "m.gguf", slots=4, context=512, threads=1, llama_params=(("kv_unified", True), ("n_ubatch", 32))
    )
    _llama_server.LlamaServer(settings)
    (params,) = started
    assert (params.kv_unified, params.n_ubatch, params.n_parallel, params.no_extra_bufts) == (True, 32, 4, True)
    plain = _llama_server.ServerSettings(tmp_path / "m.gguf", slots=4, context=512)
    _llama_server.LlamaServer(plain)
    assert started[1].kv_unified is False and not hasattr(started[1], "n_ubatch")


def test_import_does_not_load_xllamacpp() -> None:
    import subprocess

    code = "import ponder, ponder.backends.local, ponder.backends, sys; print('xllamacpp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.fixture
def gguf(tmp_path: Path) -> Path:
    f = tmp_path / "Tiny-Model.Q8_0.gguf"
    f.write_bytes(b"GGUF")
    return f


def test_bad_model_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no GGUF model file at .*nope\.gguf"):
        LocalBackend(tmp_path / "nope.gguf")
    with pytest.raises(ConfigError, match=r"no GGUF model file at .*nope\.gguf"):
        LocalBackend(str(tmp_path / "nope.gguf"))


def test_model_name_is_the_file_stem(gguf: Path) -> None:
    b = LocalBackend(gguf, slots=3)
    assert b.name == "local" and b.model == "Tiny-Model.Q8_0" and b.model_path == gguf
    assert b.capabilities.n and b.capabilities.seed and not b.capabilities.tools
    assert not b.loaded and b.address is None


def test_threads_default_to_half_the_cpus(gguf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert LocalBackend(gguf).threads == 4
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert LocalBackend(gguf).threads == 1


def test_a_model_name_is_resolved_by_ponder_models(gguf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ponder.models

    asked: list[object] = []

    def resolve(name: object, *, pull: bool = True) -> ponder.models.ResolvedModel:
        asked.append(name)
        return ponder.models.ResolvedModel(name="qwen2.5-coder-0.5b", path=gguf)

    monkeypatch.setattr(ponder.models, "resolve_model", resolve)
    b = LocalBackend("qwen2.5-coder-0.5b")
    assert (b.model, b.model_path) == ("qwen2.5-coder-0.5b", gguf)
    LocalBackend()
    assert asked == ["qwen2.5-coder-0.5b", None]  # None: the default model


def test_an_unknown_model_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"qwen2\.5-coder-0\.5b"):
        LocalBackend("no-such-model")


def test_the_limiter_takes_the_slot_count(gguf: Path) -> None:
    assert LocalBackend(gguf, slots=3).limiter.limit == 3
    assert LocalBackend(gguf).limiter.limit == LocalBackend(gguf).slots == 4


@pytest.mark.parametrize("kw", [{"slots": 0}, {"context": 10}, {"threads": 0}, {"timeout": 0}])
def test_bad_options_are_config_errors(gguf: Path, kw: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="local backend"):
        LocalBackend(gguf, **kw)


def test_missing_extra_names_the_install_command(gguf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_import_module = importlib.import_module

    def no_xllamacpp(name: str, package: str | None = None) -> Any:
        if name == "xllamacpp" or name.startswith("xllamacpp."):
            raise ModuleNotFoundError("No module named 'xllamacpp'")
        return real_import_module(name, package)

    monkeypatch.setattr(importlib, "import_module", no_xllamacpp)
    b = LocalBackend(gguf)  # constructing needs no llama.cpp; the first use does
    with pytest.raises(ConfigError, match=r'the local backend needs xllamacpp: pip install -e "\.\[local\]"'):
        b.load()


def test_not_a_gguf_file_is_a_clear_error(tmp_path: Path) -> None:
    f = tmp_path / "garbage.gguf"
    f.write_bytes(b"this is not a model")
    with pytest.raises(ConfigError, match=r"garbage\.gguf is not a GGUF model file"):
        LocalBackend(f)


def test_a_broken_gguf_file_is_a_clear_error(tmp_path: Path) -> None:
    pytest.importorskip("xllamacpp", reason="xllamacpp is not installed (pip install -e '.[local]')")
    f = tmp_path / "broken.gguf"
    f.write_bytes(b"GGUF" + b"\0" * 60)
    with pytest.raises(ConfigError, match=r"llama\.cpp cannot load .*broken\.gguf.*is it a GGUF model file"):
        LocalBackend(f).load()


def test_a_streamed_n_request_is_put_back_together_by_choice() -> None:
    from ponder.backends.openai_wire import ChunkAssembly, parse_chat_completion

    def piece(i: int, text: str | None = None, finish: str | None = None) -> dict[str, Any]:
        delta = {"content": text} if text is not None else {}
        return {"choices": [{"index": i, "delta": delta, "finish_reason": finish}]}

    def usage(completion: int) -> dict[str, Any]:
        return {"choices": [], "usage": {"prompt_tokens": 39, "completion_tokens": completion}}

    a = ChunkAssembly()
    chunks = [piece(1, "4"), piece(0, "39"), piece(1, "01"), piece(0, "1"), piece(1, None, "stop"), usage(2)]
    chunks += [piece(0, None, "length"), usage(3), piece(-1, "bad"), piece(True, "bad"), {"choices": ["x"]}]
    assert [a.take(c) for c in chunks][:4] == ["", "39", "", "1"], "the text handed on is choice 0's"
    choices, used, _ = parse_chat_completion(a.completion(logprobs=False))
    assert [(c.text, c.finish_reason) for c in choices] == [("391", "length"), ("401", "stop")]
    assert (used.prompt_tokens, used.completion_tokens) == (39, 5), "llama.cpp: one usage per choice, one prompt"


def test_streamed_chunks_add_up_to_a_chat_completion() -> None:
    from ponder.backends.openai_wire import parse_chat_completion

    def chunk(delta: dict[str, Any], finish: str | None = None, logprob: float | None = None) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
        if logprob is not None:
            choice["logprobs"] = {"content": [{"id": 1, "token": "t", "logprob": logprob, "top_logprobs": []}]}
        return {"choices": [choice], "object": "chat.completion.chunk"}

    stream = _llama_server._Stream(threading.Event())
    chunks = [
        chunk({"role": "assistant", "content": None}),
        chunk({"content": "17"}, logprob=-0.25),
        chunk({"content": " * 23"}, logprob=-0.5),
        chunk({}, finish="length"),
        {"choices": [], "usage": {"completion_tokens": 2, "prompt_tokens": 42, "total_tokens": 44}},
    ]
    assert [stream.take(c) for c in chunks] == [False] * 5
    choices, usage, _ = parse_chat_completion(stream.completion(logprobs=True))
    assert (choices[0].text, choices[0].finish_reason, choices[0].logprob) == ("17 * 23", "length", -0.75)
    assert (usage.prompt_tokens, usage.completion_tokens) == (42, 2)
    assert "logprobs" not in stream.completion(logprobs=False)["choices"][0]

    failed = _llama_server._Stream(threading.Event())
    assert failed.take({"error": {"code": 400, "message": "bad"}}) is True  # stop streaming
    assert failed.completion(logprobs=False) == {"error": {"code": 400, "message": "bad"}}
    stop = threading.Event()
    cancelled = _llama_server._Stream(stop)
    stop.set()
    assert cancelled.take(chunks[1]) is True
    assert cancelled.completion(logprobs=False)["error"]["type"] == "cancelled"


# -- on a stand-in for the server ---------------------------------------------------------


class FakeServer:
    """Stands in for `LlamaServer`: records bodies, answers by seed, tracks requests in flight."""

    started: ClassVar[list[FakeServer]] = []

    def __init__(self, settings: _llama_server.ServerSettings, *, verbose: bool = False) -> None:
        self.settings = settings
        self.bodies: list[dict[str, Any]] = []
        self.in_flight = self.peak = 0
        self.delay = 0.05
        self.answer: dict[str, Any] | None = None
        self.stopped = False
        self.load_seconds = 0.01
        self.address, self.api_key = "http://127.0.0.1:1", "k"
        self._lock = threading.Lock()
        FakeServer.started.append(self)

    def chat(
        self, body: dict[str, Any], stop: threading.Event, on_text: Callable[[str], None] | None = None
    ) -> dict[str, Any]:
        n = int(body.get("n", 1))
        with self._lock:
            self.bodies.append(body)
            self.in_flight += n  # the slots it takes
            self.peak = max(self.peak, self.in_flight)
        try:
            deadline = time.monotonic() + self.delay
            while time.monotonic() < deadline:  # "decoding": stops at the next token when told
                if stop.is_set():
                    return {"error": {"message": "stopped", "type": "cancelled"}}
                time.sleep(0.005)
            if self.answer is not None:
                return self.answer
            if on_text is not None:  # streamed: the text goes out in pieces while "decoding"
                for piece in ("seed", f" {body['seed']}"):
                    if stop.is_set():
                        return {"error": {"message": "stopped", "type": "cancelled"}}
                    on_text(piece)
                    time.sleep(self.delay)
            choices = []
            for i in reversed(range(n)):  # out of order: the backend sorts them by index
                choice: dict[str, Any] = {
                    "index": i,
                    "message": {"content": f"seed {body['seed'] + i}"},
                    "finish_reason": "stop",
                }
                if body.get("logprobs"):
                    lp = [{"token": "seed", "logprob": -0.5}, {"token": "x", "logprob": -1.0}]
                    choice["logprobs"] = {"content": lp}
                choices.append(choice)
            return {"choices": choices, "usage": {"prompt_tokens": 4, "completion_tokens": 2 * n}}
        finally:
            with self._lock:
                self.in_flight -= n

    def stop(self) -> None:
        self.stopped = True


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeServer]]:
    FakeServer.started = []
    monkeypatch.setattr(local_mod, "LlamaServer", FakeServer)
    yield FakeServer


def req(**kw: Any) -> CompletionRequest:
    return CompletionRequest(messages=(Message.system("s"), Message.user("u")), **kw)


async def test_request_mapping(gguf: Path, fake: type[FakeServer]) -> None:
    b = LocalBackend(gguf, slots=2, context=1024, threads=2)
    c = await b.complete(req(temperature=0.8, top_p=0.9, max_tokens=7, stop=("X",), seed=42))
    server = fake.started[0]
    assert server.settings == _llama_server.ServerSettings(gguf, slots=2, context=1024, threads=2)
    assert server.bodies == [
        {
            "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}],
            "temperature": 0.8,
            "top_p": 0.9,
            "max_tokens": 7,
            "seed": 42,
            "n": 1,
            "cache_prompt": False,
            "stop": ["X"],
        }
    ]
    assert c.text == "seed 42" and c.model == "Tiny-Model.Q8_0" and c.choices[0].logprob is None
    assert (c.usage.prompt_tokens, c.usage.completion_tokens) == (4, 2)
    await b.complete(req())
    assert len(fake.started) == 1, "the model loads once"
    assert server.bodies[-1]["seed"] == local_mod.DEFAULT_SEED  # no seed: the default one, reproducibly


async def test_n_choices_are_one_request_decoded_side_by_side(gguf: Path, fake: type[FakeServer]) -> None:
    b = LocalBackend(gguf, slots=8)
    c = await b.complete(req(n=4, seed=7, temperature=0.7))
    assert [body["n"] for body in fake.started[0].bodies] == [4], "llama.cpp's own n: the prompt is read once"
    assert [ch.text for ch in c.choices] == [f"seed {s}" for s in (7, 8, 9, 10)]  # choice i: seed + i, in order
    assert (c.usage.prompt_tokens, c.usage.completion_tokens) == (4, 8)
    assert fake.started[0].peak == 4 and b.limiter.stats().peak_in_flight == 4, "the n choices take n slots"


async def test_more_choices_than_slots_go_in_groups_one_after_the_other(gguf: Path, fake: type[FakeServer]) -> None:
    b = LocalBackend(gguf, slots=3)
    c = await b.complete(req(n=7, seed=100))
    assert [(body["n"], body["seed"]) for body in fake.started[0].bodies] == [(3, 100), (3, 103), (1, 106)]
    assert [ch.text for ch in c.choices] == [f"seed {s}" for s in range(100, 107)]
    assert (c.usage.prompt_tokens, c.usage.completion_tokens) == (12, 14)
    assert fake.started[0].peak == 3


async def test_a_group_of_choices_waits_for_its_slots_and_is_not_passed(gguf: Path, fake: type[FakeServer]) -> None:
    b = LocalBackend(gguf, slots=4)
    b.load()
    fake.started[0].delay = 0.2
    first = asyncio.create_task(b.complete(req(seed=1)))  # takes one slot
    await asyncio.sleep(0.05)
    group = asyncio.create_task(b.complete(req(n=4, seed=10)))  # needs all four: waits
    await asyncio.sleep(0.05)
    late = asyncio.create_task(b.complete(req(seed=2)))  # a free slot, but the group came first
    await asyncio.gather(first, group, late)
    assert [body["seed"] for body in fake.started[0].bodies] == [1, 10, 2]
    assert fake.started[0].peak == 4


async def test_requests_beyond_the_slots_wait_in_the_limiter(gguf: Path, fake: type[FakeServer]) -> None:
    b = LocalBackend(gguf, slots=3)
    b.load()
    with collect_attempts() as attempts:
        out = await asyncio.gather(*(b.complete(req(seed=i)) for i in range(8)))
    assert [c.text for c in out] == [f"seed {i}" for i in range(8)]
    assert fake.started[0].peak == 3 and b.limiter.stats().peak_in_flight == 3
    assert len(attempts) == 8 and {a.concurrency for a in attempts} == {3} and all(a.error is None for a in attempts)


async def test_logprobs_when_asked(gguf: Path, fake: type[FakeServer]) -> None:
    b = LocalBackend(gguf)
    c = await b.complete(req(logprobs=True))
    assert fake.started[0].bodies[0]["logprobs"] is True and fake.started[0].bodies[0]["top_logprobs"] == 1
    assert c.choices[0].logprob == pytest.approx(-1.5)


async def test_context_overflow_says_which_option_to_raise(gguf: Path, fake: type[FakeServer]) -> None:
    b = LocalBackend(gguf, context=2048)
    b.load()
    fake.started[0].answer = {
        "error": {"code": 400, "type": "exceed_context_size_error", "n_prompt_tokens": 5029, "n_ctx": 2048}
    }
    with collect_attempts() as attempts, pytest.raises(BackendError, match=r"5029 tokens.*context of 2048.*`context`"):
        await b.complete(req())
    assert attempts[0].error is not None and "5029" in attempts[0].error
    fake.started[0].answer = {"error": {"code": 500, "message": "boom"}}
    with pytest.raises(BackendError, match=r"llama\.cpp refused the request: boom"):
        await b.complete(req())


async def test_a_cancelled_request_stops_decoding_and_frees_its_slot(gguf: Path, fake: type[FakeServer]) -> None:
    b = LocalBackend(gguf, slots=1)
    b.load()
    server = fake.started[0]
    server.delay = 30.0
    task = asyncio.create_task(b.complete(req()))
    while server.in_flight == 0:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(200):  # the worker thread sees the stop at its next "token"
        if server.in_flight == 0:
            break
        await asyncio.sleep(0.01)
    assert server.in_flight == 0 and b.limiter.in_flight == 0
    server.delay = 0.0
    assert (await asyncio.wait_for(b.complete(req(seed=1)), 5)).text == "seed 1"


async def test_timeout_is_a_backend_error(gguf: Path, fake: type[FakeServer]) -> None:
    b = LocalBackend(gguf, timeout=0.2)
    b.load()
    fake.started[0].delay = 30.0
    with pytest.raises(BackendError, match=r"did not finish within 0\.2 s \(option timeout\)"):
        await b.complete(req())


async def test_close_stops_the_server_and_a_later_call_starts_it_again(gguf: Path, fake: type[FakeServer]) -> None:
    b = LocalBackend(gguf)
    await b.complete(req())
    b.close()
    assert fake.started[0].stopped and not b.loaded
    b.close()  # twice is fine
    assert (await b.complete(req(seed=3))).text == "seed 3"
    assert len(fake.started) == 2


def test_options_build_it(gguf: Path) -> None:
    from ponder import registry

    b = registry.build_backend("local", {"model": str(gguf), "slots": 2, "context": 512, "threads": 1})
    assert isinstance(b, LocalBackend) and (b.model_path, b.slots, b.context, b.threads) == (gguf, 2, 512, 1)
    b = registry.build_backend("local", {"model_path": str(gguf)})
    assert isinstance(b, LocalBackend) and b.model == "Tiny-Model.Q8_0"
    with pytest.raises(ConfigError, match="n_ctx"):
        registry.build_backend("local", {"model": str(gguf), "n_ctx": 512})


# -- the real model ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def real() -> Iterator[LocalBackend]:
    path = os.environ.get("PONDER_TEST_GGUF")
    if not path:
        pytest.skip("PONDER_TEST_GGUF is not set: give the path of a small GGUF chat model (CI: the 0.5B Qwen)")
    b = LocalBackend(path, slots=5, context=1024, threads=int(os.environ.get("PONDER_TEST_THREADS", "2")))
    b.load()
    yield b
    b.close()


def _path_texts(store: TraceStore, run_id: str) -> list[str]:
    return [e.data["text"] for e in store.iter_events(run_id, with_data=True) if e.kind == "path" and e.data]


@pytest.mark.local
async def test_self_consistency_samples_differ_and_a_rerun_repeats_them(real: LocalBackend, tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "t.db")
    sc = SelfConsistency(k=5, temperature=0.7, inner_config={"max_tokens": 48})
    first = await sc.arun("What is 17 * 23?", backend=real, store=store, seed=1)
    texts = _path_texts(store, first.run_id)
    assert len(texts) == 5 and len(set(texts)) == 5, texts
    again = await sc.arun("What is 17 * 23?", backend=real, store=store, seed=1)
    assert _path_texts(store, again.run_id) == texts
    other = await sc.arun("What is 17 * 23?", backend=real, store=store, seed=2)
    assert _path_texts(store, other.run_id) != texts
    assert (await areplay(store, first.run_id)).identical


@pytest.mark.local
async def test_concurrent_requests_complete(real: LocalBackend) -> None:
    questions = [f"What is {a} + {a}? Answer with the number only." for a in range(2, 9)]
    reqs = [CompletionRequest(messages=(Message.user(q),), max_tokens=8, seed=i) for i, q in enumerate(questions)]
    out = await asyncio.gather(*(real.complete(r) for r in reqs))
    assert len(out) == 7 and all(c.usage.completion_tokens > 0 for c in out)
    assert real.limiter.stats().peak_in_flight == real.slots


@pytest.mark.local
async def test_logprobs_are_present_when_asked(real: LocalBackend) -> None:
    r = CompletionRequest(messages=(Message.user("Name a colour."),), max_tokens=6, temperature=0.0)
    without = await real.complete(r)
    asked = await real.complete(r.model_copy(update={"logprobs": True}))
    assert without.choices[0].logprob is None
    lp = asked.choices[0].logprob
    assert lp is not None and lp <= 0.0 and asked.text == without.text


@pytest.mark.local
async def test_cot_on_real_model_records_a_trace_that_replays(real: LocalBackend, tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "t.db")
    result = await CoT(max_tokens=96).arun("What is 3 + 5?", backend=real, store=store)
    assert result.calls == 1 and result.error is None
    run = store.get_run(result.run_id)
    assert (run.backend, run.model) == ("local", real.model)
    call = store.llm_calls([result.run_id])[0]
    assert call.request["seed"] is not None, "the run gave the request its seed"
    text = call.response["choices"][0]["text"] if call.response else ""
    assert text.strip() and result.answer == extract_answer(text)
    assert (await areplay(store, result.run_id)).identical
    store.close()


async def test_stream_relays_the_pieces_to_the_loop_while_decoding(gguf: Path, fake: type[FakeServer]) -> None:
    b = LocalBackend(gguf, slots=1)
    seen: list[tuple[str, bool]] = []
    loop_thread = threading.get_ident()
    call = asyncio.ensure_future(
        b.stream(req(seed=7), lambda p: seen.append((p, threading.get_ident() == loop_thread)))
    )
    while not seen:
        await asyncio.sleep(0.005)
    assert not call.done(), "the first piece came while the model was still decoding"
    c = await call
    assert seen == [("seed", True), (" 7", True)] and c.text == "seed 7"
    assert fake.started[0].bodies[-1]["seed"] == 7, "the same body as complete() sends"


async def test_a_receiver_that_raises_stops_decoding(gguf: Path, fake: type[FakeServer]) -> None:
    b = LocalBackend(gguf, slots=1)

    def refuse(piece: str) -> None:
        raise KeyError(piece)

    with pytest.raises(KeyError, match="seed"):
        await b.stream(req(seed=1), refuse)
    assert b.limiter.in_flight == 0


@pytest.mark.local
async def test_a_streamed_answer_is_the_completed_one(real: LocalBackend) -> None:
    r = CompletionRequest(messages=(Message.user("List three colours, one a line."),), max_tokens=24, seed=3)
    pieces: list[str] = []
    streamed = await real.stream(r, pieces.append)
    completed = await real.complete(r)
    assert len(pieces) > 3 and "".join(pieces) == streamed.text == completed.text
    assert streamed.usage == completed.usage
