"""A local fake OpenAI-compatible server (loopback only) that answers from a Python function.

Used to record recordings with plausible model text where no real model runs here:

    with FakeOpenAI(responder) as server:   # responder(request body) -> assistant message dict
        os.environ["OPENAI_BASE_URL"] = server.url

A request with `stream: true` is answered as server-sent events: the text word by word (one chunk
each, `piece_delay` seconds apart), then the finish reason, the usage if asked for, and `[DONE]`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

# the assistant message for a request body; a list gives the `n` choices of a request with n > 1
Responder = Callable[[dict[str, Any]], dict[str, Any] | list[dict[str, Any]]]


def text(content: str) -> dict[str, Any]:
    """An assistant message with text."""
    return {"role": "assistant", "content": content}


def tool_call(name: str, arguments: dict[str, Any], id: str = "call_1") -> dict[str, Any]:
    """An assistant message asking for one native tool call."""
    call = {"id": id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}
    return {"role": "assistant", "content": None, "tool_calls": [call]}


class FakeOpenAI:
    """Serves `/v1/chat/completions` on 127.0.0.1 (a free port) from `responder`, until closed."""

    def __init__(self, responder: Responder, model: str = "fake-model", *, piece_delay: float = 0.0) -> None:
        self.responder = responder
        self.model = model
        self.piece_delay = piece_delay
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                outer.requests.append(body)
                try:
                    message = outer.responder(body)
                    status, payload = 200, outer._completion(body, message)
                except Exception as e:  # a responder bug shows up as a server error the client reports
                    status, payload = 500, {"error": {"message": f"{type(e).__name__}: {e}"}}
                if status == 200 and body.get("stream"):
                    self._stream(body, payload)
                    return
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, body: dict[str, Any], payload: dict[str, Any]) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()  # no length: the body ends when the connection closes (HTTP/1.0)
                for chunk in outer._chunks(body, payload):
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                    if chunk["choices"] and outer.piece_delay:
                        time.sleep(outer.piece_delay)
                self.wfile.write(b"data: [DONE]\n\n")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _completion(self, body: dict[str, Any], reply: dict[str, Any] | list[dict[str, Any]]) -> dict[str, Any]:
        n = max(int(body.get("n") or 1), 1)
        messages = reply if isinstance(reply, list) else [reply]
        messages = (messages * n)[:n]
        prompt = sum(len(str(m.get("content") or "").split()) for m in body.get("messages", []))
        completion = sum(
            len(str(m.get("content") or "").split()) + 8 * len(m.get("tool_calls") or []) for m in messages
        )
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": 0,
            "model": self.model,
            "choices": [
                {"index": i, "message": m, "finish_reason": "tool_calls" if m.get("tool_calls") else "stop"}
                for i, m in enumerate(messages)
            ],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
        }

    def _chunks(self, body: dict[str, Any], payload: dict[str, Any]) -> list[dict[str, Any]]:
        """The `chat.completion.chunk` objects of a streamed answer (its first choice, word by word)."""
        choice = payload["choices"][0]
        head = {"id": payload["id"], "object": "chat.completion.chunk", "created": 0, "model": self.model}
        words = re.findall(r"\s*\S+|\s+$", choice["message"].get("content") or "")
        out = [{**head, "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]} for w in words]
        out.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            out.append({**head, "choices": [], "usage": payload["usage"]})
        return out

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
