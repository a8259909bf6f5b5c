"""A subscriber's request to the hub, checked: every way it can be wrong has a plain reason.

Unknown parameters (the legacy `hub.verify`, `hub.verify_token`, anything
else) are ignored, as the spec asks. The callback passes the SSRF guard here
and again at every contact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from syndicator.config import WebSub
from syndicator.delivery import ssrf
from syndicator.errors import SyndicatorError
from syndicator.urls import Urls
from syndicator.websub import topics

MAX_SECRET_BYTES = 199  # the spec: less than 200 bytes
MAX_URL_CHARS = 2000


class Mode(StrEnum):
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"


class Refused(SyndicatorError):
    """A request the hub will not take; `status` is its 4xx, the message the reason."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class Request:
    mode: Mode
    topic: topics.Topic
    callback: str
    secret: str | None
    lease_seconds: int


def parse(
    form: Mapping[str, str],
    urls: Urls,
    settings: WebSub,
    *,
    allow_private: bool,
    resolver: ssrf.Resolver | None = None,
) -> Request:
    """The request, or Refused saying what is wrong with it."""
    mode = _required(form, "hub.mode")
    if mode not in tuple(Mode):
        raise Refused("hub.mode must be subscribe or unsubscribe")
    topic_url = _required(form, "hub.topic")
    callback = _required(form, "hub.callback")
    secret = form.get("hub.secret") or None
    if secret is not None and len(secret.encode("utf-8", "surrogatepass")) > MAX_SECRET_BYTES:
        raise Refused(f"hub.secret must be less than 200 bytes, not {len(secret.encode())}")
    if secret is not None and "\x00" in secret:  # no database stores NUL in text
        raise Refused("hub.secret must not contain NUL characters")
    lease = lease_seconds(form.get("hub.lease_seconds"), settings)
    _check_callback(callback, allow_private=allow_private, resolver=resolver)
    topic = topics.parse(urls, topic_url)
    if topic is None:
        raise Refused(
            f"hub.topic {topic_url!r} is not a feed of this hub; topics are the feed URLs"
            " (atom.xml, rss.xml, feed.json of a feed or a tag) their Link rel=self names",
            404,
        )
    return Request(Mode(mode), topic, callback, secret, lease)


def _required(form: Mapping[str, str], name: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise Refused(f"{name} is missing")
    if len(value) > MAX_URL_CHARS:
        raise Refused(f"{name} is longer than {MAX_URL_CHARS} characters")
    return value


def lease_seconds(asked: str | None, settings: WebSub) -> int:
    """The lease granted: the asked one clamped to the configured bounds, or the default."""
    if asked is None or not asked.strip():
        return settings.lease_seconds
    asked = asked.strip()
    if not (asked.isascii() and asked.isdigit()) or len(asked) > 12:
        raise Refused("hub.lease_seconds must be a whole number of seconds")
    return max(settings.min_lease_seconds, min(int(asked), settings.max_lease_seconds))


def _check_callback(callback: str, *, allow_private: bool, resolver: ssrf.Resolver | None) -> None:
    if not callback.lower().startswith(("http://", "https://")):
        raise Refused("hub.callback must be an http:// or https:// URL")
    try:
        ssrf.check(callback, allow_private=allow_private, resolver=resolver)
    except ssrf.TargetRefused as refused:
        raise Refused(f"hub.callback refused: {refused}") from None
    if "#" in callback:
        raise Refused("hub.callback must not have a fragment")
