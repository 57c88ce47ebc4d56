"""A real HTTP receiver for the webhook tests (http.server on 127.0.0.1, a free port, in a
thread): it keeps every request it receives and can be told to answer an error the first
N times, as a receiving system that is briefly down would.

    receiver = Receiver().start()
    try: ... receiver.url ... receiver.requests ...
    finally: receiver.stop()
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        owner = self.server.owner
        with owner.lock:
            if owner.failures_left > 0:
                owner.failures_left -= 1
                status, answer = owner.failure_status, b'{"error": "try again later"}'
            else:
                status, answer = owner.status, owner.answer
            owner.requests.append(Received(
                path=self.path, headers={k.lower(): v for k, v in self.headers.items()},
                body=body, answered=status))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:  # quiet in the test output
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: Receiver


class Receiver:
    """Records the webhook requests it receives; ``fail_first(n)`` answers 500 n times."""

    def __init__(self, status: int = 200, answer: bytes = b'{"ok": true}') -> None:
        self.status = status
        self.answer = answer
        self.failure_status = 500
        self.failures_left = 0
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Receiver:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/lms-events"

    def fail_first(self, times: int, status: int = 500) -> None:
        with self.lock:
            self.failures_left = times
            self.failure_status = status

    def delivery_ids(self) -> list[str]:
        with self.lock:
            return [r.header("X-LMS-Delivery") for r in self.requests]
