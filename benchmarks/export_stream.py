"""`ponder export --otlp` of a long run streams in constant memory: prints JSON (time, peak RSS).

Builds a ReAct-shaped run of `--events` events (every fourth an llm_call with its llm_calls
row, as `show_stream.py` does) and a run ten times smaller, starts a sink collector on loopback
(another process: it reads each request and answers 200), and runs `ponder export` in a fresh
process for each run, reporting seconds, peak RSS, spans sent and accepted. Constant memory
shows as `rss_ratio` (large run / small run) near 1; the target (issue 22) is <= 150 MB for 1M
events. It also exports the large run to a closed port (the deadline: timeout + 5 s).

Run: python benchmarks/export_stream.py [--events 1000000]
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from show_stream import CHILD, build

SINK = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def export(db: Path, run_id: str, url: str, report: Path) -> dict[str, object]:
    """`ponder export` in a fresh process: seconds, peak RSS (MB), and the one line it printed."""
    code = CHILD.replace("REPORT", repr(str(report)))
    args = [sys.executable, "-c", code, "-", "export", run_id, "--db", str(db), "--otlp", url, "--timeout", "10"]
    t0 = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    _took, rss = report.read_text().split()
    line = (done.stdout + done.stderr).strip().splitlines()
    return {
        "seconds": round(wall, 2),
        "peak_rss_mb": round(float(rss), 1),
        "said": line[-1] if line else "",
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--events", type=int, default=1_000_000)
    args = p.parse_args()
    sink = subprocess.Popen([sys.executable, "-c", SINK], stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout is not None
        url = f"http://127.0.0.1:{sink.stdout.readline().strip()}"
        with tempfile.TemporaryDirectory() as d:
            db = Path(d) / "export.db"
            t0 = time.perf_counter()
            build(db, "large", args.events)
            build(db, "small", args.events // 10)
            result: dict[str, object] = {"events": args.events, "build_s": round(time.perf_counter() - t0, 1)}
            small = export(db, "small", url, Path(d) / "r")
            large = export(db, "large", url, Path(d) / "r")
            closed = export(db, "large", f"http://127.0.0.1:{closed_port()}", Path(d) / "r")
    finally:
        sink.terminate()
        sink.wait(10)
    result.update(
        {
            "large": large,
            "small": small,
            "rss_ratio": round(float(large["peak_rss_mb"]) / float(small["peak_rss_mb"]), 2),  # type: ignore[arg-type]
            "to_a_closed_port": closed,
            "targets": {"peak_rss_mb": "<= 150", "to_a_closed_port_seconds": "<= 15 (timeout 10 + 5)"},
        }
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
