"""Tests for syndicator.formats: each renderer's output is checked three ways.

1. Read back with feedparser (bozo must stay 0) and compared field by field.
2. Checked against the format's own rules: Atom against the RFC 4287 RELAX NG
   schema plus the RFC's Schematron asserts; RSS against the RSS 2.0 rules the
   W3C feed validator enforces; JSON Feed against a JSON Schema written from
   the 1.1 spec (all under tests/data/schemas/).
3. Hostile text (XML-forbidden characters, markup, `]]>`), ordering and
   determinism.
"""

from __future__ import annotations

import email.utils
import html
import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from feedcheck import (
    NS,
    PAGING_RELS,
    SCHEMAS,
    as_utc,
    assert_atom_schema_valid,
    atom_problems,
    json_problems,
    read_back,
    rss_problems,
    schematron_failures,
    xml,
)
from lxml import etree

from syndicator.feeds import formats
from syndicator.feeds.formats import Entry, FeedDocument, Paging, Person, Tag

BASE = "https://jobs.example.com"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CONTROL = "\x00\x0b\x1b\x85\ud800\uffff"
HOSTILE_TITLE = 'Less <script>alert("x")</script> & ]]> more'


def page_url(page: int) -> str:
    return f"{BASE}/feeds/jobs/feed?page={page}"


def make_entry(n: int = 1, **overrides: object) -> Entry:
    """Entry n of a feed; larger n is older."""
    fields: dict[str, object] = {
        "guid": f"urn:uuid:4f1c0000-0000-4000-8000-{n:012d}",
        "url": f"{BASE}/posts/{n}/",
        "title": f"Post {n}",
        "content_html": f'<p>Body {n} <a href="{BASE}/posts/{n}/more/">more</a></p>',
        "summary": f"Summary {n}: salaries & <benefits>",
        "published_at": T0 - timedelta(days=n),
        "updated_at": T0 - timedelta(days=n) + timedelta(hours=1),
        "authors": (Person("Ann Author", "ann@example.com", f"{BASE}/people/ann/"),),
        "tags": (Tag("Job Search", f"{BASE}/tags/job-search/"), Tag("Remote", f"{BASE}/tags/r/")),
    }
    fields.update(overrides)
    return Entry(**fields)  # type: ignore[arg-type]


def make_doc(**overrides: object) -> FeedDocument:
    """Page 2 of 3 of a feed with three entries, newest first."""
    fields: dict[str, object] = {
        "id": f"{BASE}/feeds/jobs/",
        "title": "Jobs & <Careers>",
        "subtitle": "Openings, advice & more",
        "language": "en-US",
        "html_url": f"{BASE}/feeds/jobs/?page=2",
        "self_url": page_url(2),
        "updated_at": T0,
        "authors": (Person("Eddie Editor", "editor@example.com", f"{BASE}/about/"),),
        "icon": f"{BASE}/icon.png",
        "entries": (make_entry(1), make_entry(2), make_entry(3)),
        "paging": Paging(
            first=page_url(1), last=page_url(3), next=page_url(3), previous=page_url(1)
        ),
    }
    fields.update(overrides)
    return FeedDocument(**fields)  # type: ignore[arg-type]


def bare_entry(n: int) -> Entry:
    return make_entry(n, content_html=None, summary=None, authors=(), tags=())


VARIANTS = {
    "page-2-of-3": make_doc(),
    "first-page": make_doc(
        self_url=page_url(1), paging=Paging(first=page_url(1), last=page_url(3), next=page_url(2))
    ),
    "last-page": make_doc(
        self_url=page_url(3),
        paging=Paging(first=page_url(1), last=page_url(3), previous=page_url(2)),
    ),
    "empty": make_doc(entries=(), paging=None),
    "summaries-only": make_doc(entries=tuple(make_entry(n, content_html=None) for n in (1, 2))),
    "bare": make_doc(
        subtitle=None,
        language=None,
        icon=None,
        authors=(),
        paging=None,
        entries=(bare_entry(1), bare_entry(2)),
    ),
    "several-authors": make_doc(
        entries=(make_entry(1, authors=(Person("Ann"), Person("Bob", "bob@example.com"))),)
    ),
}


@pytest.fixture(scope="module")
def atom_rng() -> etree._ElementTree:
    return etree.parse(str(SCHEMAS / "atom.rng"))


@pytest.fixture(scope="module")
def atom_schema(atom_rng: etree._ElementTree) -> etree.RelaxNG:
    return etree.RelaxNG(atom_rng)


# --- the public tables ---------------------------------------------------------


def test_tables_cover_the_same_three_formats() -> None:
    assert formats.MEDIA_TYPES == {
        "atom": "application/atom+xml; charset=utf-8",
        "rss": "application/rss+xml; charset=utf-8",
        "json": "application/feed+json; charset=utf-8",
    }
    renderers = [(fmt, render.__name__) for fmt, render in formats.RENDERERS.items()]
    assert renderers == [("atom", "atom"), ("rss", "rss"), ("json", "json_feed")]
    assert formats.FILENAMES == {"atom": "atom.xml", "rss": "rss.xml", "json": "feed.json"}


# --- validity of every variant in every format -----------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_atom_is_valid_rfc4287(variant: str, atom_schema, atom_rng) -> None:
    doc = VARIANTS[variant]
    data = formats.atom(doc)
    assert_atom_schema_valid(data, atom_schema, atom_rng)
    assert atom_problems(data, doc) == []
    read_back(data)


@pytest.mark.parametrize("variant", VARIANTS)
def test_rss_follows_rss2_and_w3c_rules(variant: str) -> None:
    doc = VARIANTS[variant]
    data = formats.rss(doc)
    assert rss_problems(data, doc) == []
    read_back(data)


@pytest.mark.parametrize("variant", VARIANTS)
def test_json_feed_is_valid_1_1(variant: str) -> None:
    doc = VARIANTS[variant]
    assert json_problems(formats.json_feed(doc), doc) == []


# --- the checks really reject bad documents --------------------------------------


def test_schema_rejects_a_feed_without_id(atom_schema) -> None:
    root = xml(formats.atom(make_doc()))
    root.remove(root.find("atom:id", NS))
    assert not atom_schema.validate(root)


def test_schema_rejects_an_entry_without_id_and_bad_dates(atom_schema) -> None:
    root = xml(formats.atom(make_doc()))
    entry = root.find("atom:entry", NS)
    entry.remove(entry.find("atom:id", NS))
    assert not atom_schema.validate(root)
    root = xml(formats.atom(make_doc()))
    root.find("atom:updated", NS).text = "Wed, 01 May 2024 12:00:00 +0000"
    assert not atom_schema.validate(root)


def test_schematron_rules_catch_a_feed_without_any_author(atom_rng) -> None:
    root = xml(formats.atom(make_doc()))
    for author in root.xpath("//atom:author", namespaces=NS):
        author.getparent().remove(author)
    failures = schematron_failures(root, atom_rng)
    assert len(failures) == 1 + 3  # the feed's rule, then the entry rule for each of 3 entries
    assert failures[0].startswith("An atom:feed must have an atom:author")


def test_rss_and_json_checks_reject_broken_documents() -> None:
    doc = make_doc()
    root = xml(formats.rss(doc))
    root[0].remove(root[0].find("description"))
    root[0].find("item/guid").set("isPermaLink", "true")
    broken = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    problems = rss_problems(broken, doc)  # lxml re-serialised it: hex spelling gone too
    assert [p.split(" ")[0] for p in problems] == ["channel", "guid", "markup-like"]
    feed = json.loads(formats.json_feed(doc))
    del feed["items"][0]["content_html"]
    assert json_problems(json.dumps(feed).encode(), doc)


def test_committed_rng_is_the_rfc_rnc_converted() -> None:
    rnc2rng = pytest.importorskip("rnc2rng")
    converted = rnc2rng.dumps(rnc2rng.loads((SCHEMAS / "atom.rnc").read_text(encoding="utf-8")))
    converted = re.sub(r"\s+xmlns:local=\"\"", "", converted)  # see schemas/README.md
    fresh = etree.fromstring(converted.encode("utf-8"))
    committed = etree.parse(str(SCHEMAS / "atom.rng")).getroot()
    assert etree.tostring(fresh, method="c14n") == etree.tostring(committed, method="c14n")


# --- field-by-field round trips ----------------------------------------------------


def test_atom_round_trip() -> None:
    doc = make_doc()
    parsed = read_back(formats.atom(doc))
    feed = parsed.feed
    assert (feed.id, feed.title, feed.subtitle) == (doc.id, doc.title, doc.subtitle)
    assert (feed.language, feed.icon, feed.generator) == ("en-US", doc.icon, "syndicator")
    assert as_utc(feed.updated_parsed) == doc.updated_at
    assert feed.authors == [
        {"name": "Eddie Editor", "email": "editor@example.com", "href": f"{BASE}/about/"}
    ]
    assert {(link.rel, link.href, link.type) for link in feed.links} == {
        ("alternate", doc.html_url, "text/html"),
        ("self", doc.self_url, "application/atom+xml"),
        ("first", page_url(1), "application/atom+xml"),
        ("previous", page_url(1), "application/atom+xml"),
        ("next", page_url(3), "application/atom+xml"),
        ("last", page_url(3), "application/atom+xml"),
    }
    for got, want in zip(parsed.entries, doc.entries, strict=True):
        assert (got.id, got.link, got.title) == (want.guid, want.url, want.title)
        assert [(link.rel, link.type) for link in got.links] == [("alternate", "text/html")]
        assert as_utc(got.published_parsed) == want.published_at
        assert as_utc(got.updated_parsed) == want.updated_at
        assert got.authors == [
            {"name": "Ann Author", "email": "ann@example.com", "href": f"{BASE}/people/ann/"}
        ]
        assert [(t.term, t.label) for t in got.tags] == [(t.name, t.name) for t in want.tags]
        assert (got.summary, got.summary_detail.type) == (want.summary, "text/plain")
        assert (got.content[0].value, got.content[0].type) == (want.content_html, "text/html")


def test_rss_round_trip() -> None:
    doc = make_doc()
    parsed = read_back(formats.rss(doc))
    feed = parsed.feed
    assert (feed.title, feed.link, feed.language) == (doc.title, doc.html_url, "en-US")
    assert html.unescape(feed.subtitle) == doc.subtitle  # readers treat it as HTML
    assert (as_utc(feed.updated_parsed), feed.generator) == (doc.updated_at, "syndicator")
    assert {(link.rel, link.href) for link in feed.links} == {
        ("alternate", doc.html_url),
        ("self", doc.self_url),
        ("first", page_url(1)),
        ("previous", page_url(1)),
        ("next", page_url(3)),
        ("last", page_url(3)),
    }
    for got, want in zip(parsed.entries, doc.entries, strict=True):
        assert (got.id, got.guidislink, got.link, got.title) == (
            want.guid,
            False,
            want.url,
            want.title,
        )
        assert as_utc(got.published_parsed) == want.published_at
        # The summary in <description>, the whole post in content:encoded: both reach a reader.
        assert html.unescape(got.summary) == want.summary
        assert got.content[0].value == want.content_html
        assert [t.term for t in got.tags] == [t.name for t in want.tags]
        assert got.author == "ann@example.com (Ann Author)"
    raw = xml(formats.rss(doc))
    assert raw.xpath("//guid/@isPermaLink") == ["false"] * 3
    assert raw.find("channel/item/dc:creator", NS) is None


def test_rss_puts_the_content_in_the_description_when_there_is_no_summary() -> None:
    doc = make_doc(entries=(make_entry(1, summary=None),))
    (got,) = read_back(formats.rss(doc)).entries
    assert got.summary == doc.entries[0].content_html
    assert b"content:encoded" not in formats.rss(doc)


def test_rss_uses_the_summary_when_there_is_no_content() -> None:
    doc = VARIANTS["summaries-only"]
    parsed = read_back(formats.rss(doc))
    assert [html.unescape(e.summary) for e in parsed.entries] == [e.summary for e in doc.entries]


def test_json_round_trip() -> None:
    doc = make_doc()
    feed = json.loads(formats.json_feed(doc))
    assert {k: v for k, v in feed.items() if k != "items"} == {
        "version": "https://jsonfeed.org/version/1.1",
        "title": doc.title,
        "home_page_url": doc.html_url,
        "feed_url": page_url(1),  # the feed itself, though this is page 2 (a reader subscribes)
        "description": doc.subtitle,
        "icon": doc.icon,
        "language": "en-US",
        "authors": [{"name": "Eddie Editor", "url": f"{BASE}/about/"}],
        "next_url": page_url(3),
    }
    assert feed["items"][0] == {
        "id": doc.entries[0].guid,
        "url": doc.entries[0].url,
        "title": "Post 1",
        "content_html": doc.entries[0].content_html,
        "summary": doc.entries[0].summary,
        "date_published": "2024-04-30T12:00:00+00:00",
        "date_modified": "2024-04-30T13:00:00+00:00",
        "authors": [{"name": "Ann Author", "url": f"{BASE}/people/ann/"}],
        "tags": ["Job Search", "Remote"],
    }


def test_json_content_text_stands_in_for_missing_html() -> None:
    items = json.loads(formats.json_feed(VARIANTS["summaries-only"]))["items"]
    assert [(i["content_text"], "content_html" in i) for i in items] == [
        ("Summary 1: salaries & <benefits>", False),
        ("Summary 2: salaries & <benefits>", False),
    ]
    bare = json.loads(formats.json_feed(VARIANTS["bare"]))
    assert [i["content_text"] for i in bare["items"]] == ["", ""]
    assert not {"authors", "description", "icon", "language", "next_url"} & set(bare)


# --- authors ---------------------------------------------------------------------


def test_feed_author_falls_back_to_the_title_in_atom_only() -> None:
    doc = make_doc(authors=())
    assert read_back(formats.atom(doc)).feed.authors == [{"name": doc.title}]
    assert "authors" not in json.loads(formats.json_feed(doc))


def test_rss_author_needs_a_lone_author_with_a_usable_email() -> None:
    cases = {
        (Person("Ann", "ann@example.com"),): ("ann@example.com (Ann)", []),
        (Person("Ann"),): (None, ["Ann"]),
        (Person("Ann", "not-an-email"),): (None, ["Ann"]),
        (Person("Ann (admin)", "ann@example.com"),): (None, ["Ann (admin)"]),
        (Person("Ann", "a@example.com"), Person("Bob", "b@example.com")): (None, ["Ann", "Bob"]),
    }
    for authors, (author, creators) in cases.items():
        doc = make_doc(entries=(make_entry(1, authors=authors),))
        item = xml(formats.rss(doc)).find("channel/item")
        assert (item.findtext("author"), item.xpath("dc:creator/text()", namespaces=NS)) == (
            author,
            creators,
        )
        assert rss_problems(formats.rss(doc), doc) == []


def test_unusable_emails_are_left_out_of_atom() -> None:
    doc = make_doc(
        authors=(Person("Eddie", "eddie at example"),),
        entries=(make_entry(1, authors=(Person("Ann", "ann@"),)),),
    )
    root = xml(formats.atom(doc))
    assert root.xpath("//atom:email", namespaces=NS) == []
    assert root.xpath("//atom:author/atom:name/text()", namespaces=NS) == ["Eddie", "Ann"]


# --- hostile text ------------------------------------------------------------------


def hostile_doc() -> FeedDocument:
    def dirty(text: str) -> str:
        return f"{CONTROL[:3]}{text}{CONTROL[3:]}"

    entry = make_entry(
        1,
        title=dirty("Post"),
        summary=dirty("Sum"),
        content_html=f"<p>{dirty('Body')}</p>",
        authors=(Person(dirty("Ann"), "ann@example.com"), Person(dirty("Bob"))),
        tags=(Tag(dirty("Job Search"), f"{BASE}/tags/j/"),),
    )
    return make_doc(
        title=dirty("Jobs"),
        subtitle=dirty("Sub"),
        generator=dirty("syndicator"),
        authors=(Person(dirty("Eddie")),),
        entries=(entry,),
    )


FORBIDDEN_REFS = re.compile(
    r"&#(x0*(0|b|1b|85|d800|ffff)|0*(0|11|27|133|55296|65535));|\\u(0000|000b|001b|0085|d800|ffff)",
    re.IGNORECASE,
)


@pytest.mark.parametrize("fmt", formats.RENDERERS)
def test_xml_forbidden_characters_are_dropped(fmt: str) -> None:
    data = formats.RENDERERS[fmt](hostile_doc())
    text = data.decode("utf-8")  # strict: a lone surrogate could not have been encoded
    assert not set(CONTROL) & set(text)
    assert not FORBIDDEN_REFS.search(text)


def test_cleaned_text_survives_every_format(atom_schema, atom_rng) -> None:
    doc = hostile_doc()
    atom_data, rss_data = formats.atom(doc), formats.rss(doc)
    assert_atom_schema_valid(atom_data, atom_schema, atom_rng)
    assert rss_problems(rss_data, doc) == []
    assert json_problems(formats.json_feed(doc), doc) == []
    for parsed in read_back(atom_data), read_back(rss_data):
        assert (parsed.feed.title, parsed.entries[0].title) == ("Jobs", "Post")
        assert [t.term for t in parsed.entries[0].tags] == ["Job Search"]
    assert read_back(atom_data).entries[0].summary == "Sum"
    assert [a.name for a in read_back(atom_data).entries[0].authors] == ["Ann", "Bob"]
    assert xml(rss_data).xpath("//dc:creator/text()", namespaces=NS) == ["Ann", "Bob"]
    item = json.loads(formats.json_feed(doc))["items"][0]
    assert (item["title"], item["summary"], item["content_html"]) == ("Post", "Sum", "<p>Body</p>")


def test_blank_titles_fall_back_to_the_url() -> None:
    doc = make_doc(title="\x00", entries=(make_entry(1, title=" \x1b"),))
    assert read_back(formats.atom(doc)).entries[0].title == doc.entries[0].url
    assert read_back(formats.rss(doc)).feed.title == doc.html_url
    assert json.loads(formats.json_feed(doc))["items"][0]["title"] == doc.entries[0].url


def test_markup_in_titles_is_escaped_and_round_trips(atom_schema, atom_rng) -> None:
    doc = make_doc(title=HOSTILE_TITLE, entries=(make_entry(1, title=HOSTILE_TITLE),))
    atom_data, rss_data = formats.atom(doc), formats.rss(doc)
    for data in atom_data, rss_data:
        assert b"<script" not in data and b"]]>" not in data
        parsed = read_back(data)
        assert (parsed.feed.title, parsed.entries[0].title) == (HOSTILE_TITLE, HOSTILE_TITLE)
    assert_atom_schema_valid(atom_data, atom_schema, atom_rng)
    assert json.loads(formats.json_feed(doc))["items"][0]["title"] == HOSTILE_TITLE


def test_rss_profile_escaping_leaves_the_document_unchanged() -> None:
    plain = (
        b"<?xml version='1.0' encoding='UTF-8'?>\n<rss a=\"&lt;&amp;&gt;\">"
        b"<t>a &amp;lt; b &lt;i&gt; &amp;amp; c</t></rss>"
    )
    escaped = formats._rss_profile_escape(plain)
    assert b"&lt;" not in escaped and b"&amp;" not in escaped and b"&#x26;lt;" in escaped
    assert etree.tostring(etree.fromstring(escaped), method="c14n") == etree.tostring(
        etree.fromstring(plain), method="c14n"
    )


# --- order, dates and determinism ------------------------------------------------------


def test_entries_keep_the_given_order_in_every_format() -> None:
    doc = make_doc(entries=(make_entry(1), make_entry(2), make_entry(3), make_entry(4)))
    guids = [e.guid for e in doc.entries]
    assert [e.id for e in read_back(formats.atom(doc)).entries] == guids
    assert [e.id for e in read_back(formats.rss(doc)).entries] == guids
    assert [i["id"] for i in json.loads(formats.json_feed(doc))["items"]] == guids


@pytest.mark.parametrize("fmt", formats.RENDERERS)
def test_rendering_is_deterministic(fmt: str) -> None:
    render = formats.RENDERERS[fmt]
    assert render(make_doc()) == render(make_doc()) == render(VARIANTS["page-2-of-3"])


def test_xml_dates_all_come_from_the_document_not_the_clock() -> None:
    doc = make_doc()
    instants = (
        {doc.updated_at}
        | {e.published_at for e in doc.entries}
        | {e.updated_at for e in doc.entries}
    )
    atom_dates = xml(formats.atom(doc)).xpath("//atom:updated | //atom:published", namespaces=NS)
    assert {datetime.fromisoformat(d.text) for d in atom_dates} == instants
    rss_dates = xml(formats.rss(doc)).xpath("//lastBuildDate | //pubDate")
    assert {email.utils.parsedate_to_datetime(d.text) for d in rss_dates} == {doc.updated_at} | {
        e.published_at for e in doc.entries
    }


def test_dates_are_normalised_to_whole_utc_seconds() -> None:
    local = timezone(timedelta(hours=2))
    moment = datetime(2024, 5, 1, 14, 0, 0, 123456, tzinfo=local)
    doc = make_doc(
        updated_at=moment, entries=(make_entry(1, published_at=moment, updated_at=moment),)
    )
    assert (
        xml(formats.atom(doc)).findtext("atom:updated", namespaces=NS)
        == "2024-05-01T12:00:00+00:00"
    )
    assert (
        xml(formats.rss(doc)).findtext("channel/item/pubDate") == "Wed, 01 May 2024 12:00:00 +0000"
    )
    item = json.loads(formats.json_feed(doc))["items"][0]
    assert item["date_published"] == item["date_modified"] == "2024-05-01T12:00:00+00:00"


@pytest.mark.parametrize("fmt", formats.RENDERERS)
def test_naive_datetimes_are_refused(fmt: str) -> None:
    naive = datetime(2024, 5, 1, 12, 0)
    doc = make_doc(updated_at=naive, entries=(make_entry(1, published_at=naive, updated_at=naive),))
    with pytest.raises(ValueError, match="naive"):
        formats.RENDERERS[fmt](doc)


# --- paging --------------------------------------------------------------------------


def test_no_paging_means_no_paging_links() -> None:
    doc = make_doc(paging=None)
    for render in formats.atom, formats.rss:
        assert not {link.rel for link in read_back(render(doc)).feed.links} & PAGING_RELS
    assert "next_url" not in json.loads(formats.json_feed(doc))


def test_json_next_url_is_never_the_feed_url() -> None:
    doc = make_doc(paging=Paging(first=page_url(1), last=page_url(2), next=page_url(1)))
    assert "next_url" not in json.loads(formats.json_feed(doc))
