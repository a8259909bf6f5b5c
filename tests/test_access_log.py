"""The access log: link tokens redacted, no request can forge or split a line."""

from __future__ import annotations

import logging
import re

import pytest
from werkzeug.test import Client

TOKEN = "Zx9-secret-link-token-4f2a"


def wsgi(**headers: str) -> dict[str, str]:
    """Headers as a server hands them over: raw bytes (UTF-8 here) in latin-1 strings."""
    return {
        f"HTTP_{name.upper().replace('-', '_')}": value.encode().decode("latin-1")
        for name, value in headers.items()
    }


def logged(caplog: pytest.LogCaptureFixture, app, path: str, **kwargs) -> str:
    """The one access-log line a request leaves (from the whole app or a WSGI part of it)."""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="syndicator.access"):
        Client(app).open(path, environ_overrides=wsgi(**kwargs.pop("headers", {})), **kwargs)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "syndicator.access"]
    return line


@pytest.mark.parametrize(
    ("method", "path", "shown"),
    [
        ("GET", f"/confirm/{TOKEN}", '"GET /confirm/<redacted>"'),
        ("POST", f"/confirm/{TOKEN}", '"POST /confirm/<redacted>"'),
        ("GET", f"/unsubscribe/{TOKEN}", '"GET /unsubscribe/<redacted>"'),
        ("POST", f"/unsubscribe/{TOKEN}", '"POST /unsubscribe/<redacted>"'),
        ("GET", f"/Confirm/{TOKEN}/more", '"GET /Confirm/<redacted>"'),
        ("GET", f"/news/?token={TOKEN}&page=2", '"GET /news/?token=<redacted>&page=2"'),
        ("GET", f"/news/?hub.secret={TOKEN}", '"GET /news/?hub.secret=<redacted>"'),
    ],
)
def test_link_tokens_never_reach_the_access_log(app, caplog, method, path, shown) -> None:
    referrer = f"https://blog.example.org/unsubscribe/{TOKEN}?key={TOKEN}"
    line = logged(caplog, app, path, method=method, headers={"Referer": referrer})
    assert shown in line
    assert '"https://blog.example.org/unsubscribe/<redacted>?key=<redacted>"' in line
    assert TOKEN not in caplog.text


@pytest.mark.parametrize(
    ("path", "headers", "escaped"),
    [
        (
            "/nope%0a127.0.0.1%20%22GET%20/admin%22%20200",
            {},
            '/nope\\x0a127.0.0.1 \\"GET /admin\\"',
        ),
        ("/nope%0d%0a%1b[2J", {}, "/nope\\x0d\\x0a\\x1b[2J"),
        ("/nope?q=%0a\x1b", {}, "/nope?q=%0a\\x1b"),
        (
            "/",
            {"User-Agent": 'curl\r\n1.2.3.4 "GET / HTTP/1.1" 200'},
            '"curl\\x0d\\x0a1.2.3.4 \\"GET',
        ),
        (
            "/",
            {"Referer": "https://x.example/\n\u202eevil"},
            '"https://x.example/\\x0a\\u202eevil"',
        ),
    ],
)
def test_control_characters_in_a_request_cannot_forge_log_lines(
    app, caplog, path, headers, escaped
) -> None:
    line = logged(caplog, app, path, headers=headers)
    assert escaped in line
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u202e]", line)


def test_the_fast_path_logs_what_flask_logs(blog, sync, app, caplog) -> None:
    blog.post("hello")
    sync()
    path = f"/news/atom.xml?token={TOKEN}"
    headers = {"User-Agent": "reader\n/forged", "Referer": f"https://a.example/confirm/{TOKEN}"}
    assert Client(app).get(path).status_code == 200  # warms the cache
    fast = logged(caplog, app.wsgi_app, path, headers=headers)
    flask = logged(caplog, app.wsgi_app.app, path, headers=headers)
    assert '"GET /news/atom.xml?token=<redacted>" 200' in fast
    without_timing = [re.sub(r" [0-9.]+ms ", " ", line) for line in (fast, flask)]
    assert without_timing[0] == without_timing[1]
    assert '"https://a.example/confirm/<redacted>" "reader\\x0a/forged"' in fast
