"""A WebSub subscriber on 127.0.0.1 and a `syndicator serve` to subscribe to.

The subscriber is webhook_support's Receiver: it confirms each verification of
intent by echoing `hub.challenge` (unless told otherwise per callback path) and
keeps every request, so tests read verifications and notifications back.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from server_process import serving
from webhook_support import Received, Receiver, Reply

from syndicator.models import WebSubStatus

TOKEN = "websub-admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
Answer = Callable[[Received], Reply]


def path_of(request: Received) -> str:
    return urlsplit(request.path).path


def query_of(request: Received) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(request.path).query, keep_blank_values=True))


def echo(request: Received) -> Reply:
    """A subscriber that agrees: the challenge back with 200; 200 to each notification."""
    if request.method == "GET":
        return Reply(200, body=query_of(request).get("hub.challenge", "").encode())
    return Reply(204, body=b"")


def answering(**by_path: Answer) -> Answer:
    """`echo`, except on the callback paths given, which answer their own way."""
    return lambda request: by_path.get(path_of(request), echo)(request)


def verifications(receiver: Receiver, path: str) -> list[dict[str, str]]:
    return [
        query_of(r) for r in list(receiver.received) if r.method == "GET" and path_of(r) == path
    ]


def notifications(receiver: Receiver, path: str) -> list[Received]:
    return [r for r in list(receiver.received) if r.method == "POST" and path_of(r) == path]


def signed(secret: str, body: bytes) -> str:
    """The X-Hub-Signature a subscriber expects, computed here independently."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def wait_for(condition: Callable[[], Any], seconds: float = 15) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := condition()):
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)
    return found


def config_text(base: str, database_url: str, content_dir: Path, **websub: int) -> str:
    """A server whose worker polls five times a second and retries within seconds."""
    lines = [f"{key} = {value}" for key, value in {"min_lease_seconds": 1, **websub}.items()]
    return (
        f'[site]\nbase_url = "{base}"\n'
        f'[storage]\ndatabase_url = "{database_url}"\ncontent_dir = "{content_dir}"\n'
        f'[admin]\ntoken = "{TOKEN}"\n'
        "[scheduler]\npoll_seconds = 0.2\n"
        "[webhooks]\nallow_private_targets = true\ntimeout_seconds = 2\n"
        "retry_schedule = [0, 1, 1, 1]\n"
        "[websub]\n" + "\n".join(lines) + "\n"
        '[email]\nmaildir = "mail"\n'
    )


class Hub:
    """A running `syndicator serve`, spoken to as a subscriber and as its admin."""

    def __init__(self, base: str) -> None:
        self.base = base

    def topic(self, path: str = "/news/atom.xml") -> str:
        return self.base + path

    def ask(self, **fields: str) -> requests.Response:
        """POST /websub with hub.* fields (`hub_mode="subscribe"` is `hub.mode=subscribe`)."""
        form = {name.replace("hub_", "hub.", 1): value for name, value in fields.items()}
        return requests.post(self.base + "/websub", data=form, timeout=10)

    def subscribe(self, callback: str, topic: str | None = None, **fields: str) -> None:
        answer = self.ask(
            hub_mode="subscribe", hub_topic=topic or self.topic(), hub_callback=callback, **fields
        )
        assert answer.status_code == 202, answer.text

    def publish(self, title: str, feed: str = "news", **fields: Any) -> dict[str, Any]:
        answer = requests.post(
            f"{self.base}/api/feeds/{feed}/posts",
            json={"title": title, "content": f"About {title}.", **fields},
            headers=AUTH,
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    def subscriptions(self) -> list[dict[str, Any]]:
        answer = requests.get(f"{self.base}/api/websub/subscriptions", headers=AUTH, timeout=10)
        assert answer.status_code == 200, answer.text
        return list(answer.json()["items"])

    def status(self, callback: str) -> str | None:
        found = [s["status"] for s in self.subscriptions() if s["callback"] == callback]
        return found[0] if found else None

    def wait_status(self, callback: str, status: WebSubStatus, seconds: float = 15) -> None:
        wait_for(lambda: self.status(callback) == status, seconds)


@contextmanager
def hub(tmp_path: Path, database_url: str, content_dir: Path, **websub: int) -> Iterator[Hub]:
    def config(base: str) -> str:
        return config_text(base, database_url, content_dir, **websub)

    # A generous start: with other test suites on the same two cores one took over 30 s.
    with serving(tmp_path, config, start_seconds=90) as base:
        yield Hub(base)
