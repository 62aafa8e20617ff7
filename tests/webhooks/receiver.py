"""A real HTTP receiver for webhooks, in a thread: it answers each request by a script
("ok", "fail", "hang", "redirect", "big") and records what it got."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BIG_BODY_BYTES = 8 * 1024 * 1024


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    script: list[str] = field(default_factory=list)  # one answer per request, then "ok"
    received: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    got: threading.Condition = field(default_factory=threading.Condition)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hooks/tts"

    def wait_for(self, n: int, timeout: float) -> list[Received]:
        with self.got:
            if not self.got.wait_for(lambda: len(self.received) >= n, timeout):
                raise AssertionError(f"the receiver got {len(self.received)} of {n} requests")
            return list(self.received)

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                with receiver.got:
                    n = len(receiver.received)
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    receiver.got.notify_all()
                answer = receiver.script[n] if n < len(receiver.script) else "ok"
                try:
                    self._answer(answer)
                except OSError:
                    pass  # the sender gave up on us

            def _answer(self, answer: str) -> None:
                if answer == "hang":
                    receiver.release.wait(120)
                    return
                if answer == "redirect":
                    self.send_response(302)
                    self.send_header("Location", "/elsewhere")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if answer == "big":
                    self.send_response(500)
                    self.send_header("Content-Length", str(BIG_BODY_BYTES))
                    self.end_headers()
                    chunk = b"x" * 65536
                    for _ in range(BIG_BODY_BYTES // len(chunk)):
                        self.wfile.write(chunk)
                    return
                status = 204 if answer == "ok" else 500
                body = b"" if status == 204 else b"receiver is down"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
