"""llama.cpp's server, in-process through xllamacpp: start it, stream one chat completion, stop it.

`LlamaServer` owns one `xllamacpp.Server` (the model, its slots, the decode loop on a thread of
its own). `chat` runs one request to the end in the calling thread, streaming, so that a request
whose caller gave up (a cancelled branch, a run past its deadline) stops at its next token instead
of decoding to `max_tokens` in a slot someone else is waiting for. The streamed chunks are put
back together as the chat completion object llama.cpp would have answered without streaming.
"""

from __future__ import annotations

import importlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ponder.backends.openai_wire import ChunkAssembly
from ponder.errors import ConfigError

INSTALL_HINT = 'pip install -e ".[local]"'


def import_xllamacpp() -> Any:
    """The xllamacpp module; a `ConfigError` naming the install command without it."""
    try:
        return importlib.import_module("xllamacpp")
    except ImportError as e:
        raise ConfigError(f"the local backend needs xllamacpp: {INSTALL_HINT} ({e})") from e


@dataclass(frozen=True)
class ServerSettings:
    """What the server is started with.

    slots: llama.cpp's `n_parallel`, requests decoded together; context: tokens per slot.
    threads: CPU threads for decoding and prompt processing (None: llama.cpp's default).
    batch_invariant: keep the weights as the file has them instead of repacking them for the
    CPU's batched kernels; the repacked kernels sum in another order for a batch than for one
    row, so a seeded request's text would depend on what was decoded beside it (measured).
    llama_params: other fields of llama.cpp's `CommonParams`, set last, as (name, value) pairs
    (benchmarks/local_slot_settings.py tries some).
    """

    path: Path
    slots: int
    context: int
    threads: int | None = None
    batch_invariant: bool = True
    llama_params: tuple[tuple[str, Any], ...] = ()


@dataclass
class _Stream:
    """One streamed completion as it arrives; `on_text` (if any) gets each piece of its text."""

    stop: threading.Event
    on_text: Callable[[str], None] | None = None
    chunks: ChunkAssembly = field(default_factory=ChunkAssembly)
    error: dict[str, Any] | None = None

    def take(self, chunk: Any) -> bool:
        """Take one chunk; True asks the server to stop streaming (the caller gave up, or an error came)."""
        if not isinstance(chunk, dict):
            self.error = {"message": f"unexpected chunk {str(chunk)[:200]}"}
            return True
        if "error" in chunk or ("code" in chunk and "message" in chunk):
            err = chunk.get("error", chunk)
            self.error = err if isinstance(err, dict) else {"message": str(err)}
            return True
        piece = self.chunks.take(chunk)
        if piece and self.on_text is not None and not self.stop.is_set():
            self.on_text(piece)
        return self.stop.is_set()

    def completion(self, logprobs: bool) -> dict[str, Any]:
        """The chat completion object the chunks add up to (or `{"error": ...}`)."""
        if self.error is not None:
            return {"error": self.error}
        if self.stop.is_set():
            return {"error": {"message": "stopped: the request was cancelled", "type": "cancelled"}}
        return self.chunks.completion(logprobs)


class LlamaServer:
    """A started llama.cpp server: `chat` from any thread, `stop` once.

    It also listens on a loopback port (llama.cpp's server always does), guarded by a random API
    key that only this object knows (`address`, `api_key`): the benchmark compares against it.
    """

    def __init__(self, settings: ServerSettings, *, verbose: bool = False) -> None:
        xllamacpp = import_xllamacpp()
        params = xllamacpp.CommonParams()
        params.model.path = str(settings.path)
        params.n_parallel = settings.slots
        params.n_ctx = settings.context * settings.slots
        params.kv_unified = False  # each slot its own `context` tokens
        params.warmup = False
        params.no_extra_bufts = settings.batch_invariant
        params.verbosity = 3 if verbose else 0
        if settings.threads is not None:
            params.cpuparams.n_threads = settings.threads
            params.cpuparams_batch.n_threads = settings.threads
        for name, value in settings.llama_params:
            setattr(params, name, value)
        self.api_key = secrets.token_urlsafe(24)
        params.api_keys = [self.api_key]
        self.settings = settings
        self._active: set[threading.Event] = set()
        self._lock = threading.Lock()
        t0 = time.perf_counter()
        try:
            self._server: Any = xllamacpp.Server(params)
        except (RuntimeError, ValueError, OSError) as e:
            raise ConfigError(
                f"llama.cpp cannot load {settings.path} ({e}): is it a GGUF model file, and do "
                f"{settings.slots} slots of {settings.context} tokens fit in memory? (options: slots, context)"
            ) from e
        self.load_seconds = time.perf_counter() - t0
        self.address: str = self._server.listening_address

    def chat(
        self, body: dict[str, Any], stop: threading.Event, on_text: Callable[[str], None] | None = None
    ) -> dict[str, Any]:
        """One chat completion (blocking; streamed so that setting `stop` ends it at the next token).

        on_text: called (in this thread) with each piece of the text as it is decoded.
        """
        server = self._server
        if server is None:
            return {"error": {"message": "the local model was closed", "type": "closed"}}
        stream = _Stream(stop, on_text)
        with self._lock:
            self._active.add(stop)
        try:
            server.handle_chat_completions(
                {**body, "stream": True, "stream_options": {"include_usage": True}}, stream.take
            )
        except (ValueError, RuntimeError, TypeError) as e:  # the binding refused the request itself
            return {"error": {"message": f"{type(e).__name__}: {e}"}}
        finally:
            with self._lock:
                self._active.discard(stop)
        return stream.completion(bool(body.get("logprobs")))

    def stop(self) -> None:
        """Stop every request in flight, then the server (its decode loop and its port)."""
        with self._lock:
            for event in self._active:
                event.set()
        server, self._server = self._server, None
        del server  # the last reference: xllamacpp's destructor ends the loop and joins its thread
