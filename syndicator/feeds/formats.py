"""Feed renderers: one `FeedDocument` in, Atom 1.0, RSS 2.0 or JSON Feed 1.1 bytes out.

The renderers are pure (no Flask, no database, no I/O) so the web layer can
cache, hash and test their output, and deterministic: the same document always
gives the same bytes, which keeps ETags stable. Every text field goes through
`xmltext.clean` because feedgen raises on XML-forbidden characters and JSON
cannot encode lone surrogates as UTF-8.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from syndicator.feeds.podcast import Settings as Podcast
from syndicator.xmltext import clean

ATOM_NS = "http://www.w3.org/2005/Atom"
ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST_NS = "https://podcastindex.org/namespace/1.0"
ATOM_TYPE = "application/atom+xml"
RSS_TYPE = "application/rss+xml"
HTML_TYPE = "text/html"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
PAGING_RELS = ("first", "previous", "next", "last")

# The addr-spec shape the W3C feed validator accepts; anything else is dropped
# rather than published as an invalid atom:email or RSS <author>.
_EMAIL = re.compile(r"^[A-Z0-9_\-+.']+@([A-Z0-9\-]+\.)+[A-Z0-9][-A-Z0-9]*$", re.IGNORECASE)
# A name that can sit in the RFC 2822 comment of RSS's "email (Name)".
_COMMENT_SAFE = re.compile(r"[^()\\\r\n]+")


@dataclass(frozen=True)
class Person:
    name: str
    email: str | None = None
    uri: str | None = None


@dataclass(frozen=True)
class Tag:
    name: str
    url: str


@dataclass(frozen=True)
class Enclosure:
    """A file attached to an entry: absolute URL, type and length always known."""

    url: str
    type: str
    length: int
    duration: int | None = None  # seconds
    title: str | None = None


@dataclass(frozen=True)
class Entry:
    guid: str
    url: str
    title: str
    content_html: str | None
    summary: str | None
    published_at: datetime
    updated_at: datetime
    authors: tuple[Person, ...] = ()
    tags: tuple[Tag, ...] = ()
    enclosures: tuple[Enclosure, ...] = ()
    episode: int | None = None
    season: int | None = None


@dataclass(frozen=True)
class Paging:
    first: str
    last: str
    next: str | None = None
    previous: str | None = None


@dataclass(frozen=True)
class FeedDocument:
    id: str
    title: str
    subtitle: str | None
    language: str | None
    html_url: str
    self_url: str
    updated_at: datetime
    authors: tuple[Person, ...]
    icon: str | None
    entries: tuple[Entry, ...]
    paging: Paging | None = None
    generator: str = "syndicator"
    podcast: Podcast | None = None  # image an absolute URL and guid set (documents.py)
    hub_urls: tuple[str, ...] = ()  # WebSub discovery: set on the topics (page 1)


# --- shared helpers -------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    """Aware UTC at whole seconds, so all three formats state the same instant."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: feeds need timezone-aware times")
    return moment.astimezone(UTC).replace(microsecond=0)


def _text(value: str | None) -> str | None:
    """Cleaned text, or None when nothing visible is left (validators flag blanks)."""
    if value is None:
        return None
    cleaned = clean(value)
    return cleaned if cleaned.strip() else None


def _title(value: str, fallback: str) -> str:
    """A non-blank title: feedgen refuses empty ones, so fall back to a URL."""
    return _text(value) or clean(fallback)


def _email(person: Person) -> str | None:
    email = _text(person.email)
    return email if email and _EMAIL.match(email) else None


def _people(people: tuple[Person, ...]) -> list[Person]:
    """Persons with a usable name (Atom requires one), text cleaned."""
    named = (Person(_text(p.name) or "", _email(p), _text(p.uri)) for p in people)
    return [p for p in named if p.name]


def _tag_names(tags: tuple[Tag, ...]) -> list[str]:
    return [name for name in (_text(t.name) for t in tags) if name]


def _paging_links(paging: Paging | None) -> list[tuple[str, str]]:
    """RFC 5005 (rel, href) pairs in a fixed order, skipping absent ones."""
    hrefs = [(rel, getattr(paging, rel)) for rel in PAGING_RELS] if paging else []
    return [(rel, clean(href)) for rel, href in hrefs if href]


def _base_generator(doc: FeedDocument) -> FeedGenerator:
    """Channel fields common to Atom and RSS; lastBuildDate pinned for determinism."""
    fg = FeedGenerator()
    fg.id(clean(doc.id))
    fg.title(_title(doc.title, doc.html_url))
    fg.updated(_utc(doc.updated_at))  # also sets RSS lastBuildDate (default: now)
    fg.generator(_title(doc.generator, "syndicator"))
    if _text(doc.language):
        fg.language(_text(doc.language))
    return fg


# --- Atom -----------------------------------------------------------------


def _atom_person(person: Person) -> dict[str, str]:
    fields = {"name": person.name, "email": person.email, "uri": person.uri}
    return {key: value for key, value in fields.items() if value}


class _AtomEntryLinkFix(BaseEntryExtension):
    """feedgen 1.0 writes entry links without rel/type (it reads them back from
    the element it just created); put them back on the permalink. Enclosures are
    written here too, since feedgen would write them as more such bare links."""

    def __init__(self) -> None:
        self.enclosures: tuple[Enclosure, ...] = ()

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        for link in entry.iterfind("link"):  # feedgen builds un-namespaced nodes
            link.set("rel", "alternate")
            link.set("type", HTML_TYPE)
        for enclosure in self.enclosures:
            attributes = {"rel": "enclosure", "href": clean(enclosure.url)}
            attributes |= {"type": clean(enclosure.type), "length": str(enclosure.length)}
            if _text(enclosure.title):
                attributes["title"] = clean(enclosure.title or "")
            etree.SubElement(entry, "link", attributes)
        return entry


def _atom_entry(fg: FeedGenerator, entry: Entry) -> None:
    """One atom:entry; summary falls back to the title so no entry is textless."""
    fe = fg.add_entry(order="append")  # feedgen prepends by default
    fe.id(clean(entry.guid))
    fe.title(_title(entry.title, entry.url))
    fe.link(href=clean(entry.url), rel="alternate", type=HTML_TYPE)
    fe.published(_utc(entry.published_at))
    fe.updated(_utc(entry.updated_at))
    for person in _people(entry.authors):
        fe.author(_atom_person(person))
    for name in _tag_names(entry.tags):
        fe.category(term=name, label=name)
    fe.linkfix.enclosures = entry.enclosures
    content = _text(entry.content_html)
    summary = _text(entry.summary)
    if summary or not content:
        fe.summary(summary or _title(entry.title, entry.url), type="text")
    if content:
        fe.content(content, type="html")


def atom(doc: FeedDocument) -> bytes:
    """Atom 1.0 (RFC 4287) with RFC 5005 paging links."""
    fg = _base_generator(doc)
    fg.register_extension("linkfix", BaseExtension, _AtomEntryLinkFix, atom=True, rss=False)
    if _text(doc.subtitle):
        fg.subtitle(_text(doc.subtitle))
    authors = _people(doc.authors) or [Person(_title(doc.title, doc.html_url))]
    fg.author([_atom_person(p) for p in authors])  # feed-level author is mandatory
    fg.link(href=clean(doc.html_url), rel="alternate", type=HTML_TYPE)
    fg.link(href=clean(doc.self_url), rel="self", type=ATOM_TYPE)
    for rel, href in _paging_links(doc.paging):
        fg.link(href=href, rel=rel, type=ATOM_TYPE)
    for hub in doc.hub_urls:
        fg.link(href=clean(hub), rel="hub")
    if _text(doc.icon):
        fg.icon(_text(doc.icon))
    for entry in doc.entries:
        _atom_entry(fg, entry)
    document: bytes = fg.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    return document


# --- RSS ------------------------------------------------------------------


class _RssPagingExtension(BaseExtension):
    """Writes RFC 5005 atom:link elements into the channel, which feedgen's RSS
    output lacks (it only emits rel=self)."""

    def __init__(self) -> None:
        self.links: list[tuple[str, str]] = []
        self.hubs: list[str] = []

    def extend_ns(self) -> dict[str, str]:
        return {"atom": ATOM_NS}

    def extend_rss(self, rss_feed: etree._Element) -> etree._Element:
        channel = rss_feed[0]  # runs before items are appended: metadata stays first
        for rel, href in self.links:
            etree.SubElement(channel, f"{{{ATOM_NS}}}link", href=href, rel=rel, type=RSS_TYPE)
        for hub in self.hubs:
            etree.SubElement(channel, f"{{{ATOM_NS}}}link", href=hub, rel="hub")
        return rss_feed


class _PodcastTags(BaseExtension):
    """The show tags feedgen's podcast extension cannot write: itunes:explicit as Apple
    now spells it (true/false; feedgen knows only yes/no/clean), podcast:guid and
    podcast:locked."""

    def __init__(self) -> None:
        self.show: Podcast | None = None

    def extend_ns(self) -> dict[str, str]:
        return {"itunes": ITUNES_NS, "podcast": PODCAST_NS}

    def extend_rss(self, rss_feed: etree._Element) -> etree._Element:
        channel, show = rss_feed[0], self.show
        if show is not None:
            explicit = etree.SubElement(channel, f"{{{ITUNES_NS}}}explicit")
            explicit.text = "true" if show.explicit else "false"
            etree.SubElement(channel, f"{{{PODCAST_NS}}}guid").text = show.guid or ""
            locked = etree.SubElement(channel, f"{{{PODCAST_NS}}}locked", owner=show.owner_email)
            locked.text = "yes" if show.locked else "no"
        return rss_feed


def _podcast_channel(fg: FeedGenerator, show: Podcast) -> None:
    """Apple's show tags through feedgen's podcast extension, the rest through ours."""
    fg.load_extension("podcast", atom=False, rss=True)
    fg.podcast.itunes_author(clean(show.author))
    fg.podcast.itunes_image(clean(show.image))
    fg.podcast.itunes_category([{"cat": top, "sub": sub} for top, sub in show.categories])
    fg.podcast.itunes_owner(name=clean(show.owner_name), email=clean(show.owner_email))
    fg.podcast.itunes_type(show.type)
    fg.register_extension("show", _PodcastTags, None, atom=False, rss=True)
    fg.show.show = show


def _episode_tags(fe: FeedEntry, entry: Entry) -> None:
    durations = [e.duration for e in entry.enclosures[:1] if e.duration is not None]
    if durations:
        fe.podcast.itunes_duration(durations[0])
    if entry.episode is not None:
        fe.podcast.itunes_episode(entry.episode)
    if entry.season is not None:
        fe.podcast.itunes_season(entry.season)


def _rss_item(fg: FeedGenerator, entry: Entry, *, podcast: bool = False) -> None:
    """One item; a single emailed author becomes <author>, names go to dc:creator.

    With both a summary and the full post, <description> holds the summary and
    content:encoded the post, as most readers expect; with one, <description> holds it.
    """
    fe = fg.add_entry(order="append")  # feedgen prepends by default
    fe.guid(clean(entry.guid), permalink=False)
    fe.title(_title(entry.title, entry.url))
    fe.link(href=clean(entry.url), rel="alternate")
    fe.pubDate(_utc(entry.published_at))
    for name in _tag_names(entry.tags):
        fe.category(term=name)
    if entry.enclosures:  # RSS allows one: the first
        first = entry.enclosures[0]
        fe.enclosure(clean(first.url), str(first.length), clean(first.type))
    content, summary = _text(entry.content_html), _as_html(_text(entry.summary))
    if content and summary:
        fe.description(summary)  # the summary, with the whole post in content:encoded
        fe.content(content)
    elif content or summary:
        fe.description(content or summary)
    people = _people(entry.authors)
    if len(people) == 1 and people[0].email and _COMMENT_SAFE.fullmatch(people[0].name):
        fe.author(name=people[0].name, email=people[0].email)  # "email (Name)"
    elif people:
        fe.dc.dc_creator([p.name for p in people])  # RSS <author> must be an email
    if podcast:
        _episode_tags(fe, entry)


def _as_html(text: str | None) -> str | None:
    """Plain text made safe for RSS descriptions, which readers treat as HTML."""
    return None if text is None else html.escape(text, quote=False)


def _rss_profile_escape(xml: bytes) -> bytes:
    """Re-spell '<', '&', '>' as hex references, as the RSS Best Practices Profile
    asks for plain-text elements (the W3C validator warns otherwise). feedgen
    writes no CDATA, comments or PIs here, so every '&' starts a reference and
    the parsed document is unchanged."""
    for entity, hexref in ((b"&lt;", b"&#x3C;"), (b"&amp;", b"&#x26;"), (b"&gt;", b"&#x3E;")):
        xml = xml.replace(entity, hexref)
    return xml


def rss(doc: FeedDocument) -> bytes:
    """RSS 2.0 with atom:link rel=self and RFC 5005 paging links."""
    fg = _base_generator(doc)
    fg.load_extension("dc", atom=False, rss=True)
    fg.register_extension("paging", _RssPagingExtension, None, atom=False, rss=True)
    fg.paging.links = _paging_links(doc.paging)
    fg.paging.hubs = [clean(hub) for hub in doc.hub_urls]
    fg.description(_as_html(_text(doc.subtitle) or _title(doc.title, doc.html_url)))
    fg.link(href=clean(doc.self_url), rel="self", type=RSS_TYPE)
    fg.link(href=clean(doc.html_url), rel="alternate")  # last link() = channel <link>
    if doc.podcast is not None:
        _podcast_channel(fg, doc.podcast)
    for entry in doc.entries:
        _rss_item(fg, entry, podcast=doc.podcast is not None)
    return _rss_profile_escape(fg.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True))


# --- JSON Feed --------------------------------------------------------------


def _json_authors(people: tuple[Person, ...]) -> list[dict[str, str]]:
    return [{k: v for k, v in (("name", p.name), ("url", p.uri)) if v} for p in _people(people)]


def _json_item(entry: Entry) -> dict[str, object]:
    """One item; content_text stands in when there is no HTML (one is required)."""
    content = _text(entry.content_html)
    summary = _text(entry.summary)
    item: dict[str, object | None] = {
        "id": clean(entry.guid),
        "url": clean(entry.url),
        "title": _title(entry.title, entry.url),
        "content_html": content,
        "content_text": None if content else summary or "",
        "summary": summary,
        "date_published": _utc(entry.published_at).isoformat(),
        "date_modified": _utc(entry.updated_at).isoformat(),
        "authors": _json_authors(entry.authors) or None,
        "tags": _tag_names(entry.tags) or None,
        "attachments": [_json_attachment(e) for e in entry.enclosures] or None,
    }
    return _present(item)


def _json_attachment(enclosure: Enclosure) -> dict[str, object]:
    return _present(
        {
            "url": clean(enclosure.url),
            "mime_type": clean(enclosure.type),
            "title": _text(enclosure.title),
            "size_in_bytes": enclosure.length,
            "duration_in_seconds": enclosure.duration,
        }
    )


def _present(fields: dict[str, object | None]) -> dict[str, object]:
    """JSON Feed omits absent members rather than writing null."""
    return {key: value for key, value in fields.items() if value is not None}


def _feed_url(doc: FeedDocument) -> str:
    """The feed's own URL on every page (what a reader subscribes to), not this page's."""
    return clean(doc.paging.first if doc.paging else doc.self_url)


def _next_url(doc: FeedDocument) -> str | None:
    """RFC 5005 rel=next; the spec forbids a next_url equal to feed_url."""
    if doc.paging is None or not doc.paging.next or clean(doc.paging.next) == _feed_url(doc):
        return None
    return clean(doc.paging.next)


def json_feed(doc: FeedDocument) -> bytes:
    """JSON Feed 1.1; next_url carries RFC 5005's rel=next (older entries)."""
    feed: dict[str, object | None] = {
        "version": JSON_FEED_VERSION,
        "title": _title(doc.title, doc.html_url),
        "home_page_url": clean(doc.html_url),
        "feed_url": _feed_url(doc),
        "description": _text(doc.subtitle),
        "icon": _text(doc.icon),
        "language": _text(doc.language),
        "authors": _json_authors(doc.authors) or None,
        "next_url": _next_url(doc),
        "hubs": [{"type": "WebSub", "url": clean(hub)} for hub in doc.hub_urls] or None,
        "items": [_json_item(entry) for entry in doc.entries],
    }
    return json.dumps(_present(feed), ensure_ascii=False, indent=2).encode("utf-8")


MEDIA_TYPES: dict[str, str] = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}
RENDERERS: dict[str, Callable[[FeedDocument], bytes]] = {
    "atom": atom,
    "rss": rss,
    "json": json_feed,
}
FILENAMES: dict[str, str] = {"atom": "atom.xml", "rss": "rss.xml", "json": "feed.json"}
