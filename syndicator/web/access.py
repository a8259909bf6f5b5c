"""One access-log line and one metric sample per request, whichever path answered it.

Every request field in the line is something a client chose, so each is made
safe to log: link tokens (confirm, unsubscribe) and token-bearing query
parameters are redacted, and control characters, quotes and backslashes are
escaped as Apache does (`\\x0a`, `\\"`, `\\\\`), so no request can forge or split
a line, nor hide in one with terminal escapes or bidi overrides.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any
from urllib.parse import unquote_plus

from syndicator.core import Core

access_log = logging.getLogger("syndicator.access")

REDACTED = "<redacted>"
# The path segment after these is a secret: whoever has it can confirm or unsubscribe.
_TOKEN_PATH = re.compile(
    r"(?P<route>(?:[a-z][a-z0-9+.-]*://[^/]*)?/+(?:confirm|unsubscribe)/+).+",
    re.IGNORECASE | re.DOTALL,
)
_SECRET_PARAMETER = re.compile(
    r"token|secret|passw|key|sig|auth|code|challenge|session", re.IGNORECASE
)


def observe(
    core: Core, environ: dict[str, Any], endpoint: str, status: int, started: float
) -> None:
    """Count and log a finished request; `endpoint` is its URL rule (the metric label)."""
    elapsed = time.perf_counter() - started
    method = environ.get("REQUEST_METHOD", "GET")
    core.metrics.observe_request(endpoint, method, status, elapsed)
    target = redact_path(_text(environ.get("PATH_INFO", "/")))
    if query := environ.get("QUERY_STRING"):
        target += "?" + redact_query(_text(query))
    access_log.info(
        '%s "%s %s" %s %.1fms "%s" "%s"',
        escape(_text(environ.get("REMOTE_ADDR", "-"))),
        escape(_text(method)),
        escape(target),
        status,
        elapsed * 1000,
        escape(redact_url(_text(environ.get("HTTP_REFERER", "-")))),
        escape(_text(environ.get("HTTP_USER_AGENT", "-"))),
    )


def _text(value: str) -> str:
    """A WSGI string (bytes as latin-1) as UTF-8 text; bytes that are not UTF-8 kept apart."""
    return value.encode("latin-1", "replace").decode("utf-8", "surrogateescape")


def redact_path(path: str) -> str:
    """`/confirm/<token>`, `/unsubscribe/<token>` (also in a full URL) with the token replaced."""
    match = _TOKEN_PATH.match(path)
    return match["route"] + REDACTED if match else path


def redact_query(query: str) -> str:
    """The query string with the value of every secret-looking parameter replaced."""
    parts = []
    for part in query.split("&"):
        name, equals, _value = part.partition("=")
        secret = equals and _SECRET_PARAMETER.search(unquote_plus(name))
        parts.append(f"{name}={REDACTED}" if secret else part)
    return "&".join(parts)


def redact_url(url: str) -> str:
    """A referrer with its path and query redacted like the request's own."""
    address, mark, query = url.partition("?")
    return redact_path(address) + mark + redact_query(query)


def escape(text: str) -> str:
    """Printable characters as they are; everything else as a backslash escape."""
    return "".join(_escaped(char) for char in text)


def _escaped(char: str) -> str:
    if char in '"\\':
        return "\\" + char
    if char.isprintable():
        return char
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
