"""Mixed writes against a running server, from several client threads at once.

Each writer creates, edits and deletes posts through the admin API, adds
subscribers and webhooks, and subscribes through the public form, keeping
what it made so a caller can check every row afterwards. Used by
tests/test_write_load.py and bench/writes.py.
"""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

FEED = "news"
QUIET_FEED = "quiet"  # webhooks made under load listen here, so fan-out stays small
HOOK_URL = "http://127.0.0.1:9/hook"  # never called: nothing is published to QUIET_FEED
# Relative weights of the kinds of write in the mix.
MIX = {
    "create_post": 4,
    "patch_post": 2,
    "delete_post": 1,
    "create_subscriber": 1,
    "create_webhook": 1,
    "public_subscribe": 1,
}


@dataclass
class Made:
    """What one writer (or all of them, merged) created, and every answer it got."""

    posts: set[int] = field(default_factory=set)
    deleted_posts: set[int] = field(default_factory=set)
    subscribers: set[str] = field(default_factory=set)
    webhooks: set[int] = field(default_factory=set)
    statuses: list[tuple[str, int]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # each write's latency
    elapsed: list[float] = field(default_factory=list)  # each run's wall-clock time

    def merge(self, other: Made) -> None:
        self.posts |= other.posts
        self.deleted_posts |= other.deleted_posts
        self.subscribers |= other.subscribers
        self.webhooks |= other.webhooks
        self.statuses += other.statuses
        self.seconds += other.seconds
        self.elapsed += other.elapsed

    def server_errors(self) -> list[tuple[str, int]]:
        return [(kind, status) for kind, status in self.statuses if status >= 500]

    def unexpected(self) -> list[tuple[str, int]]:
        """Answers other than success: a 2xx, or the form's redirect after its POST."""
        return [
            (kind, status)
            for kind, status in self.statuses
            if not (200 <= status < 300 or (kind, status) == ("public_subscribe", 303))
        ]


class Writer:
    """One client thread's keep-alive session and its share of the mix."""

    def __init__(self, base: str, token: str, name: str) -> None:
        self.base, self.name = base, name
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"
        self.random = random.Random(name)
        self.made = Made()
        self.count = 0

    def run(self, writes: int) -> Made:
        kinds, weights = list(MIX), list(MIX.values())
        for _ in range(writes):
            self.write(self.random.choices(kinds, weights)[0])
        self.http.close()
        return self.made

    def write(self, kind: str) -> None:
        self.count += 1
        if kind in ("patch_post", "delete_post") and not self.made.posts:
            kind = "create_post"
        started = time.perf_counter()
        response = getattr(self, kind)(f"{self.name}-{self.count}")
        self.made.seconds.append(time.perf_counter() - started)
        self.made.statuses.append((kind, response.status_code))

    def create_post(self, name: str) -> requests.Response:
        body = {"title": f"Post {name}", "content": f"Written by {name}.", "tags": ["load"]}
        response = self.http.post(f"{self.base}/api/feeds/{FEED}/posts", json=body, timeout=60)
        if response.status_code == 201:
            self.made.posts.add(response.json()["id"])
        return response

    def patch_post(self, name: str) -> requests.Response:
        post_id = self.random.choice(sorted(self.made.posts))
        body = {"title": f"Edited {name}"}
        return self.http.patch(f"{self.base}/api/posts/{post_id}", json=body, timeout=60)

    def delete_post(self, _name: str) -> requests.Response:
        post_id = self.random.choice(sorted(self.made.posts))
        response = self.http.delete(f"{self.base}/api/posts/{post_id}", timeout=60)
        if response.status_code == 204:
            self.made.posts.discard(post_id)
            self.made.deleted_posts.add(post_id)
        return response

    def create_subscriber(self, name: str) -> requests.Response:
        body = {"email": f"api-{name}@example.org", "feed": FEED}
        response = self.http.post(f"{self.base}/api/subscribers", json=body, timeout=60)
        if response.status_code == 201:
            self.made.subscribers.add(body["email"])
        return response

    def create_webhook(self, name: str) -> requests.Response:
        body = {"url": HOOK_URL, "feeds": [QUIET_FEED], "description": name}
        response = self.http.post(f"{self.base}/api/webhooks", json=body, timeout=60)
        if response.status_code == 201:
            self.made.webhooks.add(response.json()["id"])
        return response

    def public_subscribe(self, name: str) -> requests.Response:
        form = {"email": f"form-{name}@example.org", "frequency": "daily"}
        response = requests.post(
            f"{self.base}/{FEED}/subscribe", data=form, timeout=60, allow_redirects=False
        )
        if response.status_code == 303:  # to the "check your inbox" page
            self.made.subscribers.add(form["email"])
        return response


def run(base: str, token: str, *, writers: int, writes: int, prefix: str = "w") -> Made:
    """`writers` threads of `writes` each: what they made, and the run's wall-clock seconds.

    Titles and addresses start with `prefix`, so runs against one server do not collide.
    """
    clients = [Writer(base, token, f"{prefix}{number}") for number in range(writers)]
    started = time.perf_counter()
    with ThreadPoolExecutor(writers) as pool:
        results = list(pool.map(lambda client: client.run(writes), clients))
    total = Made(elapsed=[time.perf_counter() - started])
    for result in results:
        total.merge(result)
    return total


def config_text(database_url: str, content_dir: str, token: str) -> str:
    """A config for a server under write load: the scheduler polls every second."""
    return (
        f'[storage]\ndatabase_url = "{database_url}"\ncontent_dir = "{content_dir}"\n'
        f'[admin]\ntoken = "{token}"\n'
        "[scheduler]\npoll_seconds = 1\n"
        "[webhooks]\nallow_private_targets = true\n"
        "[digest]\nsubscribe_limit_per_ip = 1000000\n"
        '[email]\nmaildir = "mail"\n'
    )
