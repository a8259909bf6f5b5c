"""Composing the mails: a digest of posts and the opt-in confirmation. Pure functions.

What every copy of a digest shares (each post's rendered block) is built once
per post by `Items` and reused for every recipient; only the frame with the
recipient's address and unsubscribe link is rendered per mail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from syndicator import markup, timestamps
from syndicator.config import Config
from syndicator.feeds import documents
from syndicator.mail import mime
from syndicator.models import Feed, Post
from syndicator.urls import Urls

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=True,
    auto_reload=False,  # templates ship with the package; no stat() per mail
)
_IMG = re.compile(r"<img\b", re.IGNORECASE)
# Longer posts appear as their summary with a link: ten posts must stay under Gmail's
# ~100 KiB clipping limit with both parts (and quoted-printable) counted.
FULL_CONTENT_LIMIT = 3500
# Where the post blocks go in the digest templates (alone on its line).
_ITEMS = "<!--syndicator:items-->"


@dataclass(frozen=True)
class Item:
    """One post as it appears in every digest that holds it."""

    post_id: int
    published_at: datetime
    html: bytes  # quoted-printable, encoded once for every digest that holds the post
    text: bytes


@dataclass(frozen=True)
class Recipient:
    email: str
    frequency: str
    unsubscribe_token: str


@dataclass(frozen=True)
class Letterhead:
    """What the mails take from the configuration."""

    sender: str
    urls: Urls
    timezone: tzinfo
    full_content: bool
    unsubscribe_mailto: str
    expiry_days: int

    @classmethod
    def from_config(cls, config: Config, timezone: tzinfo) -> Letterhead:
        return cls(
            sender=config.email.sender,
            urls=Urls(config.site.base_url),
            timezone=timezone,
            full_content=config.feeds.full_content,
            unsubscribe_mailto=config.email.list_unsubscribe_mailto,
            expiry_days=config.digest.confirm_expiry_days,
        )

    def date(self, moment: datetime) -> str:
        local = timestamps.in_zone(moment, self.timezone)
        return f"{local:%A, %B} {local.day}, {local.year}"


def item(post: Post, letterhead: Letterhead) -> Item:
    """A post's block in both parts: title linked, date, summary or full content."""
    full = letterhead.full_content and len(post.content_html) <= FULL_CONTENT_LIMIT
    entry = documents.entry(post, letterhead.urls, full_content=full)
    body_html = _IMG.sub('<img style="max-width:100%;height:auto;"', entry.content_html or "")
    summary = entry.summary or ""
    values = {
        "title": entry.title,
        "url": entry.url,
        "date": letterhead.date(post.published_at),
        "body_html": Markup(body_html) if body_html else None,
        "summary": summary,
        "body_text": markup.plain_text(entry.content_html) if entry.content_html else summary,
    }
    html = _TEMPLATES.get_template("digest_item.html").render(values)
    text = _TEMPLATES.get_template("digest_item.txt").render(values)
    return Item(post.id, post.published_at, mime.encode_body(html), mime.encode_body(text))


def subject(feed_title: str, count: int) -> str:
    return f"{feed_title}: {count} new post{'' if count == 1 else 's'}"


def list_id(feed: Feed, urls: Urls) -> str:
    host = urlsplit(urls.base_url).hostname or "localhost"
    return f"{_quoted(feed.title)} <{feed.slug}.{host}>"


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "").replace('"', "'") + '"'


def digest(
    letterhead: Letterhead,
    feed: Feed,
    items: list[Item],
    recipient: Recipient,
    *,
    message_id: str,
    date: datetime,
) -> bytes:
    """The digest mail for one recipient, newest post first, byte-identical on a re-send."""
    items = sorted(items, key=lambda entry: (entry.published_at, entry.post_id), reverse=True)
    unsubscribe_url = letterhead.urls.unsubscribe(recipient.unsubscribe_token)
    title = subject(feed.title, len(items))
    values = {
        "subject": title,
        "language": feed.language or "en",
        "feed_title": feed.title,
        "feed_url": letterhead.urls.listing(feed.slug),
        "intro": f"{len(items)} new post{'' if len(items) == 1 else 's'} since your last digest",
        "frequency": recipient.frequency,
        "email": recipient.email,
        "unsubscribe_url": unsubscribe_url,
        "items_html": Markup(_ITEMS),
        "items_text": _ITEMS,
    }
    headers = mime.Headers(
        sender=letterhead.sender,
        to=recipient.email,
        subject=title,
        date=date,
        message_id=message_id,
        extra=(
            ("List-Id", list_id(feed, letterhead.urls)),
            ("List-Unsubscribe", _list_unsubscribe(letterhead, recipient.unsubscribe_token)),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ),
    )
    html = _around_items("digest.html", values, [entry.html for entry in items])
    text = _around_items("digest.txt", values, [entry.text for entry in items])
    return mime.assemble(headers, text, html)


def _around_items(template: str, values: dict[str, object], items: list[bytes]) -> list[bytes]:
    """The reader's frame, encoded here, around the shared, already encoded post blocks."""
    head, tail = _TEMPLATES.get_template(template).render(values).split(_ITEMS + "\n")
    return [mime.encode_body(head), *items, mime.encode_body(tail)]


def _list_unsubscribe(letterhead: Letterhead, token: str) -> str:
    links = [f"<{letterhead.urls.unsubscribe(token)}>"]
    if letterhead.unsubscribe_mailto:
        links.append(f"<mailto:{letterhead.unsubscribe_mailto}?subject=unsubscribe%20{token}>")
    return ", ".join(links)


def confirmation(
    letterhead: Letterhead,
    feed: Feed,
    *,
    email: str,
    frequency: str,
    token: str,
    message_id: str,
    date: datetime,
) -> bytes:
    """The opt-in mail: a link to a page whose button confirms (scanners only GET)."""
    title = f"Confirm your subscription to {feed.title}"
    values = {
        "subject": title,
        "feed_title": feed.title,
        "email": email,
        "frequency": frequency,
        "confirm_url": letterhead.urls.confirm(token),
        "expiry_days": letterhead.expiry_days,
    }
    headers = mime.Headers(
        sender=letterhead.sender, to=email, subject=title, date=date, message_id=message_id
    )
    html = _TEMPLATES.get_template("confirm.html").render(values)
    text = _TEMPLATES.get_template("confirm.txt").render(values)
    return mime.build(headers, text, html)
