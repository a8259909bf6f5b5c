"""/metrics stays small whatever clients send: every label has a fixed set of values."""

from __future__ import annotations

import random
import string


def series(body: str) -> list[str]:
    return [line for line in body.splitlines() if line and not line.startswith("#")]


def test_random_methods_and_paths_leave_metrics_bounded(blog, sync, client):
    blog.post("hello")
    sync()
    baseline = len(series(client.get("/metrics").data.decode()))
    rng = random.Random(12)
    shapes = (
        "/{}",
        "/news/{}/",
        "/news/{}/atom.xml",
        "/api/posts/{}",
        "/{}/tags/{}/",
        "/confirm/{}",
    )
    for _ in range(1000):
        method = "".join(rng.choices(string.ascii_uppercase, k=rng.randint(3, 12)))
        word = "".join(rng.choices(string.ascii_lowercase + string.digits, k=8))
        path = rng.choice(shapes).format(word, word)
        client.open(path, method=rng.choice([method, "GET", "POST"]))

    body = client.get("/metrics").data.decode()

    assert len(series(body)) < baseline + 150
    assert len(body.encode()) < 60_000
    requests = [line for line in series(body) if line.startswith("syndicator_http_requests_total")]
    methods = {line.split('method="')[1].split('"')[0] for line in requests}
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"}
    assert "OTHER" in methods
