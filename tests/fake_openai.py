"""A local fake OpenAI-compatible server (loopback only) that answers from a Python function.

Used to record recordings with plausible model text where no real model runs here:

    with FakeOpenAI(responder) as server:   # responder(request body) -> assistant message dict
        os.environ["OPENAI_BASE_URL"] = server.url
"""

from __future__ import annotations

import json
import threading
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

    def __init__(self, responder: Responder, model: str = "fake-model") -> None:
        self.responder = responder
        self.model = model
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
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

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
