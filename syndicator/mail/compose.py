"""Composing the mails: a digest of posts and the opt-in confirmation. Pure functions.

Each post's block is rendered and encoded once per post (`item`), and the
digest around a set of posts once per set (`Frame`); per mail only the
recipient's headers and the lines with their address and unsubscribe link are
built.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from syndicator import headertext, timestamps
from syndicator.config import Config
from syndicator.feeds import documents
from syndicator.mail import mime, textpart
from syndicator.models import Feed, Post
from syndicator.urls import Urls

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=True,
    auto_reload=False,  # templates ship with the package; no stat() per mail
)
# The site's accent colour: mail clients show unstyled links in their own blue.
_TEMPLATES.globals["link_colour"] = LINK_COLOUR = "#0b6e8a"
_IMG = re.compile(r"<img\b", re.IGNORECASE)
_LINK = re.compile(r"<a\b", re.IGNORECASE)
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
    first_digest: bool = False  # their first: its posts are new "since you subscribed"


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


def item(post: Post, feed: Feed, letterhead: Letterhead) -> Item:
    """A post's block in both parts: title linked, date, summary or full content."""
    full = letterhead.full_content and len(post.content_html) <= FULL_CONTENT_LIMIT
    entry = documents.entry(post, feed, letterhead.urls, full_content=full)
    body_html = _IMG.sub('<img style="max-width:100%;height:auto;"', entry.content_html or "")
    body_html = _LINK.sub(f'<a style="color:{LINK_COLOUR};"', body_html)
    summary = entry.summary or ""
    values = {
        "title": entry.title,
        "url": entry.url,
        "date": letterhead.date(post.published_at),
        "body_html": Markup(body_html) if body_html else None,
        "summary": summary,
        "body_text": textpart.from_html(entry.content_html) if entry.content_html else summary,
    }
    html = _TEMPLATES.get_template("digest_item.html").render(values)
    text = _TEMPLATES.get_template("digest_item.txt").render(values)
    return Item(post.id, post.published_at, mime.encode_body(html), mime.encode_body(text))


def subject(feed_title: str, count: int) -> str:
    return f"{feed_title}: {count} new post{'' if count == 1 else 's'}"


def list_id(slug: str, title: str, urls: Urls) -> str:
    host = urlsplit(urls.base_url).hostname or "localhost"
    return f"{_quoted(title)} <{slug}.{host}>"


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
    """The digest mail for one recipient, newest post first, byte-identical on a re-send.

    Every recipient of the same posts shares one `Frame`, built on the first of
    their mails and kept for the next ones (a sending run goes through its
    rows in order, so mails of the same post set follow each other).
    """
    newest_first = sorted(
        items, key=lambda entry: (entry.published_at, entry.post_id), reverse=True
    )
    # Keyed by the feed's values, not by the Feed row, which a session may change in place.
    title = headertext.one_line(feed.title)  # a title stored before feed.toml was checked
    shared = _frame(letterhead, feed.slug, title, feed.language, tuple(newest_first))
    return shared.letter(recipient, message_id=message_id, date=date)


# Where each recipient's own values go in the rendered frame. NUL never occurs in stored
# text (`xmltext.clean` drops it on the way in), so no feed title can be mistaken for one.
_EMAIL = "\x00email\x00"
_FREQUENCY = "\x00frequency\x00"
_UNSUBSCRIBE_URL = "\x00unsubscribe_url\x00"
_SINCE = "\x00since\x00"
_SLOT = "\x00"
# Lines as quoted-printable sees them: ended by LF alone (splitlines would also cut at
# U+2028 and the like, which a feed title may hold).
_LINES = re.compile(r"[^\n]*\n|[^\n]+\Z")


@dataclass(frozen=True)
class Frame:
    """One digest as every recipient of the same posts gets it, their own values left out.

    Each part is a sequence of segments: bytes already encoded (the post blocks,
    and every line of the frame that holds no recipient's value), and text lines
    holding the recipient's address, frequency or unsubscribe link, filled in and
    encoded per mail. Quoted-printable works line by line, so the joined segments
    are the bytes encoding the whole part at once would give.
    """

    letterhead: Letterhead
    subject: str
    list_id: str
    text: tuple[bytes | str, ...]
    html: tuple[bytes | str, ...]

    def letter(self, recipient: Recipient, *, message_id: str, date: datetime) -> bytes:
        """The mail for one recipient: only their headers and their lines are built here."""
        letterhead, token = self.letterhead, recipient.unsubscribe_token
        unsubscribe_url = letterhead.urls.unsubscribe(token)
        headers = mime.Headers(
            sender=letterhead.sender,
            to=recipient.email,
            subject=self.subject,
            date=date,
            message_id=message_id,
            extra=(
                ("List-Id", self.list_id),
                ("List-Unsubscribe", _list_unsubscribe(letterhead, token)),
                ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            ),
        )
        text = {
            _EMAIL: recipient.email,
            _FREQUENCY: recipient.frequency,
            _UNSUBSCRIBE_URL: unsubscribe_url,
            _SINCE: "you subscribed" if recipient.first_digest else "your last digest",
        }
        html = {slot: str(escape(value)) for slot, value in text.items()}
        return mime.assemble(headers, _filled(self.text, text), _filled(self.html, html))


@functools.lru_cache(maxsize=8)  # a few post sets at once: a run meets one set's rows together
def _frame(
    letterhead: Letterhead, slug: str, title: str, language: str | None, items: tuple[Item, ...]
) -> Frame:
    """What every recipient of `items` (newest first) shares: rendered and encoded once."""
    count, heading = len(items), subject(title, len(items))
    values: dict[str, object] = {
        "subject": heading,
        "language": language or "en",
        "feed_title": title,
        "feed_url": letterhead.urls.listing(slug),
        "intro": f"{count} new post{'' if count == 1 else 's'} since {_SINCE}",
        "frequency": _FREQUENCY,
        "email": _EMAIL,
        "unsubscribe_url": _UNSUBSCRIBE_URL,
        "items_html": Markup(_ITEMS),
        "items_text": _ITEMS,
    }
    return Frame(
        letterhead=letterhead,
        subject=heading,
        list_id=list_id(slug, title, letterhead.urls),
        text=_around_items("digest.txt", values, [entry.text for entry in items]),
        html=_around_items("digest.html", values, [entry.html for entry in items]),
    )


def _around_items(
    template: str, values: dict[str, object], items: list[bytes]
) -> tuple[bytes | str, ...]:
    """The frame's segments around the shared, already encoded post blocks."""
    head, tail = _TEMPLATES.get_template(template).render(values).split(_ITEMS + "\n")
    merged: list[bytes | str] = []
    for segment in [*_segments(head), *items, *_segments(tail)]:
        if isinstance(segment, bytes) and merged and isinstance(merged[-1], bytes):
            merged[-1] += segment  # one piece, not several, to walk through per mail
        else:
            merged.append(segment)
    return tuple(merged)


def _segments(text: str) -> list[bytes | str]:
    """Runs of whole lines: encoded now where no slot appears, kept as text where one does."""
    runs: list[tuple[bool, list[str]]] = []
    for line in _LINES.findall(text):
        slotted = _SLOT in line
        if runs and runs[-1][0] == slotted:
            runs[-1][1].append(line)
        else:
            runs.append((slotted, [line]))
    return [
        "".join(lines) if slotted else mime.encode_body("".join(lines)) for slotted, lines in runs
    ]


def _filled(segments: tuple[bytes | str, ...], values: dict[str, str]) -> list[bytes]:
    """One recipient's part: their values put in the slotted lines, those lines encoded."""
    filled = []
    for segment in segments:
        if isinstance(segment, str):
            for slot, value in values.items():
                segment = segment.replace(slot, value)
            filled.append(mime.encode_body(segment))
        else:
            filled.append(segment)
    return filled


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
    feed_title = headertext.one_line(feed.title)  # stored before feed.toml was checked?
    title = f"Confirm your subscription to {feed_title}"
    values = {
        "subject": title,
        "feed_title": feed_title,
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
