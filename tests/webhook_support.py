"""A real HTTP receiver on 127.0.0.1 that records every webhook request it gets, and
the webhook settings and read-backs the webhook tests share."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import select

from syndicator import core as core_module
from syndicator import worker
from syndicator.models import Delivery, DeliveryAttempt, WebhookEndpoint
from syndicator.webhooks import endpoints


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    method: str = "POST"


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0  # seconds before answering
    drip: float = 0.0  # seconds between body bytes


Behaviour = Callable[[Received], Reply]


class _Server(ThreadingHTTPServer):
    # socketserver listens with a backlog of 5: a burst of a worker's parallel
    # connections would overflow it and wait a SYN retransmission (1 s), which a
    # test's 1 s timeout takes for a dead receiver.
    request_queue_size = 128
    daemon_threads = True


class Receiver:
    """Answers with `behaviour(request)`; keeps every request in `received`."""

    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour or (lambda _request: Reply())
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str) -> list[Received]:
        with self.lock:
            return [request for request in self.received if request.path == path]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                request = Received(self.path, headers, body, self.command)
                with receiver.lock:
                    receiver.received.append(request)
                reply = receiver.behaviour(request)
                time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if not reply.drip:
                    self.wfile.write(reply.body)
                    return
                for index in range(len(reply.body)):
                    time.sleep(reply.drip)
                    self.wfile.write(reply.body[index : index + 1])
                    self.wfile.flush()

            do_GET = do_POST  # WebSub's verification of intent

            def log_message(self, *_args: object) -> None:
                pass

        return Handler

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- webhook settings and read-backs for tests ------------------------------------------

FAST = {
    "allow_private_targets": True,
    "timeout_seconds": 1,
    "retry_schedule": [0, 5, 60],
    "concurrency": 8,
}


def real_now() -> datetime:
    """Webhook timestamps are checked against the receiver's clock: start tests at now."""
    return datetime.now(UTC).replace(microsecond=0)


def deliver(core: core_module.Core) -> int:
    return worker.deliver_webhooks(core)


def bodies(requests: list[Received]) -> list[dict[str, Any]]:
    return [json.loads(request.body) for request in requests]


def messages(core: core_module.Core) -> list[Delivery]:
    with core.reading() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def attempts(core: core_module.Core) -> list[DeliveryAttempt]:
    with core.reading() as session:
        return list(session.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.id)))


def endpoint(core: core_module.Core, endpoint_id: int) -> WebhookEndpoint:
    with core.reading() as session:
        return endpoints.get(session, endpoint_id)
