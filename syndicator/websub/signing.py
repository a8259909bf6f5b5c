"""X-Hub-Signature: the subscriber's secret signs each notification's body (WebSub 8)."""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Hub-Signature"


def signature(secret: str, body: bytes) -> str:
    """`sha256=` and the lowercase hex HMAC-SHA256 of the body, keyed with the secret."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"
