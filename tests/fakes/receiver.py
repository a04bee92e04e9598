"""A local HTTP receiver on 127.0.0.1 for alert channels: records each POST (path and JSON body) and answers
with the statuses it is told to (``fail_next``: that many 500s first; ``hold``: not before that event is set, a
slow channel), in a thread of its own."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    body: dict[str, Any]


@dataclass
class Receiver:
    received: list[Received] = field(default_factory=list)
    attempts: int = 0
    fail_next: int = 0
    status: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)
    hold: threading.Event | None = None

    def bodies(self, path_part: str = "") -> list[dict[str, Any]]:
        with self.lock:
            return [r.body for r in self.received if path_part in r.path]

    @contextmanager
    def running(self) -> Iterator[str]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                if receiver.hold is not None:
                    receiver.hold.wait(30)
                with receiver.lock:
                    receiver.attempts += 1
                    if receiver.fail_next > 0:
                        receiver.fail_next -= 1
                        status = 500
                    else:
                        status = receiver.status
                        if 200 <= status < 300:
                            receiver.received.append(Received(self.path, body))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
