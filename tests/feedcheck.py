"""Feed validity checks shared by the tests: RFC 4287 RELAX NG + Schematron for Atom,
the RSS 2.0 rules the W3C feed validator enforces, and a JSON Schema of JSON Feed 1.1
(all under tests/data/schemas/). Each `*_problems` returns what is wrong, [] when valid.
"""

from __future__ import annotations

import email.utils
import json
import re
from datetime import UTC, datetime
from functools import cache
from html.entities import name2codepoint
from pathlib import Path

import feedparser
import jsonschema
from lxml import etree

from syndicator.feeds.formats import FeedDocument
from syndicator.feeds.podcast import CATEGORIES

SCHEMAS = Path(__file__).parent / "data" / "schemas"
ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
SCHEMATRON_NS = "http://www.ascc.net/xml/schematron"
ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
NS = {"atom": ATOM_NS, "dc": DC_NS, "itunes": ITUNES_NS}
# The W3C validator's mime_re, and the enclosure formats it accepts in an iTunes feed.
MIME = re.compile(r"^[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+$", re.IGNORECASE)
ITUNES_FORMATS = {"m4a", "mp3", "mov", "mp4", "m4v", "pdf", "epub"}
PAGING_RELS = {"first", "previous", "next", "last"}
# RFC 2822 date with a four-digit year, as the W3C validator's rfc2822_re.
RFC2822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d? (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d\d:\d\d:\d\d ([+-]\d\d[03]0|GMT|UT|Z)$"
)
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def read_back(data: bytes) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def as_utc(struct: object) -> datetime:
    return datetime(*struct[:6], tzinfo=UTC)  # type: ignore[index]


def xml(data: bytes) -> etree._Element:
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    return etree.fromstring(data)  # strict: raises on anything not well-formed


def schematron_failures(root: etree._Element, rng: etree._ElementTree) -> list[str]:
    """Evaluate the RFC's Schematron asserts, which RELAX NG itself ignores."""
    failures = []
    for rule in rng.iterfind(f".//{{{SCHEMATRON_NS}}}rule"):
        for node in root.xpath("//" + rule.get("context"), namespaces=NS):
            for check in rule.iterfind(f"{{{SCHEMATRON_NS}}}assert"):
                if not node.xpath(f"boolean({check.get('test')})", namespaces=NS):
                    failures.append(check.text)
    return failures


def assert_atom_schema_valid(data: bytes, schema: etree.RelaxNG, rng: etree._ElementTree) -> None:
    root = xml(data)
    assert schema.validate(root), schema.error_log
    assert schematron_failures(root, rng) == []


def atom_problems(data: bytes, doc: FeedDocument) -> list[str]:
    """What RFC 4287/5005 and the W3C validator require beyond the schema."""
    root, problems = xml(data), []
    links = root.findall("atom:link", NS)
    selves = [link for link in links if link.get("rel") == "self"]
    if [(s.get("href"), s.get("type")) for s in selves] != [(doc.self_url, "application/atom+xml")]:
        problems.append("feed needs one rel=self link to self_url typed application/atom+xml")
    alternates = [
        (link.get("type"), link.get("hreflang"))
        for link in links
        if link.get("rel", "alternate") == "alternate"
    ]
    if len(alternates) != len(set(alternates)):
        problems.append("two feed alternate links share type and hreflang")
    hrefs = {link.get("rel"): link.get("href") for link in links}
    if hrefs.get("first") == doc.self_url and "previous" in hrefs:
        problems.append("rel=previous on the first page (LinkPastEnd)")
    if hrefs.get("last") == doc.self_url and "next" in hrefs:
        problems.append("rel=next on the last page (LinkPastEnd)")
    for date in root.iterfind(".//atom:updated", NS), root.iterfind(".//atom:published", NS):
        problems += [f"not RFC 3339: {d.text}" for d in date if not RFC3339.match(d.text)]
    texts = root.xpath("//atom:title | //atom:subtitle | //atom:summary", namespaces=NS)
    problems += plain_text_warnings(data, texts, rss=False)
    for name in root.xpath("//atom:name", namespaces=NS) + texts:
        if not (name.text or "").strip():
            problems.append(f"blank {name.tag}")
    for entry in root.iterfind("atom:entry", NS):
        if entry.find("atom:summary", NS) is None and entry.find("atom:content", NS) is None:
            problems.append("entry without summary or content (MissingTextualContent)")
        links = [(link.get("rel"), link.get("type")) for link in entry.iterfind("atom:link", NS)]
        if [link for link in links if link[0] != "enclosure"] != [("alternate", "text/html")]:
            problems.append(f"entry links should be one typed permalink: {links}")
        for link in entry.xpath("atom:link[@rel='enclosure']", namespaces=NS):
            if not MIME.match(link.get("type") or "") or not (link.get("length") or "").isdigit():
                problems.append(f"enclosure link needs a type and a length: {dict(link.attrib)}")
    ids = root.xpath("atom:entry/atom:id/text()", namespaces=NS)
    if len(ids) != len(set(ids)):
        problems.append("duplicate entry ids")
    return problems


def plain_text_warnings(data: bytes, elements: list, *, rss: bool) -> list[str]:
    """The W3C validator's checks on plain-text elements (its `nonhtml`): an HTML
    end tag is always flagged; entity-like text ("&amp", "&#38") and, in RSS,
    "<x" or "&#" are flagged unless the element's source line spells some
    character as a hex reference, as the RSS Best Practices Profile asks."""
    lines, warnings = data.decode("utf-8").split("\n"), []
    for element in elements:
        value = element.text or ""
        source = lines[element.sourceline - 1 : element.sourceline + value.count("\n")]
        hex_spelled = any("&#x" in line for line in source)
        entities = [
            e
            for e in re.findall(r"&(#?\w+)", value)
            if e in name2codepoint or e == "apos" or not e.isalpha()
        ]
        if re.search(r"</\w+>", value):
            warnings.append(f"HTML in plain-text {element.tag}: {value!r}")
        elif entities and not hex_spelled:
            warnings.append(f"entity-like text in {element.tag}: {value!r}")
        elif rss and re.search(r"&#[x0-9]|<[/a-zA-Z]", value) and not hex_spelled:
            warnings.append(f"markup-like text not hex-encoded in {element.tag}: {value!r}")
    return warnings


def rss_problems(data: bytes, doc: FeedDocument) -> list[str]:
    """RSS 2.0 spec rules and the W3C validator's errors and warnings for RSS."""
    root, problems = xml(data), []
    if root.tag != "rss" or root.get("version") != "2.0" or len(root) != 1:
        return ["root must be <rss version='2.0'> with one <channel>"]
    channel = root[0]
    for name in ("title", "link", "description"):
        found = channel.findall(name)
        if len(found) != 1 or not (found[0].text or "").strip():
            problems.append(f"channel needs exactly one non-blank <{name}>")
    if doc.language and channel.findtext("language") != doc.language:
        problems.append("channel <language> missing")
    problems += _rss_date_problems(channel.findtext("lastBuildDate"), doc.updated_at)
    if root.nsmap.get("atom") != ATOM_NS:
        problems.append("atom namespace not declared on the root")
    selves = [
        (link.get("href"), link.get("type"))
        for link in channel.iterfind("atom:link", NS)
        if link.get("rel") == "self"
    ]
    if selves != [(doc.self_url, "application/rss+xml")]:
        problems.append(f"atom:link rel=self must be the self URL, got {selves}")
    tags = [child.tag for child in channel]
    if "item" in tags and any(tag != "item" for tag in tags[tags.index("item") :]):
        problems.append("channel metadata after the first item (MisplacedItem)")
    for item in channel.iterfind("item"):
        problems += _rss_item_problems(item)
    if root.nsmap.get("itunes") == ITUNES_NS:
        problems += itunes_problems(channel)
    plain = channel.xpath(
        "title | description | item/title | item/category | item/dc:creator", namespaces=NS
    )
    problems += plain_text_warnings(data, plain, rss=True)
    guids = channel.xpath("item/guid/text()")
    if len(guids) != len(set(guids)):
        problems.append("duplicate guids")
    return problems


def _rss_date_problems(text: str | None, expected: datetime) -> list[str]:
    if text is None or not RFC2822.match(text):
        return [f"not an RFC 822 date with a 4-digit year: {text!r}"]
    if email.utils.parsedate_to_datetime(text) != expected.replace(microsecond=0):
        return [f"{text} is not {expected}"]
    return []


def _rss_item_problems(item: etree._Element) -> list[str]:
    problems = []
    if item.find("title") is None and item.find("description") is None:
        problems.append("item needs a title or a description")
    for name in ("title", "description", "link", "guid", "pubDate", "author"):
        if len(item.findall(name)) > 1:
            problems.append(f"duplicate <{name}> in item")
    guid = item.find("guid")
    if guid is None or guid.get("isPermaLink") != "false":
        problems.append("guid must be present with isPermaLink='false'")
    if not re.match(r"^https?://[^/]", item.findtext("link") or ""):
        problems.append("item link must be absolute")
    pub = item.findtext("pubDate")
    if pub is None or not RFC2822.match(pub):
        problems.append(f"bad pubDate {pub!r}")
    author = item.findtext("author")
    if author is not None:
        if not re.fullmatch(r"[^\s@()]+@[^\s@()]+\.[^\s@()]+ \([^()\\]+\)", author):
            problems.append(f"<author> must be 'email (Name)', got {author!r}")
        if item.find("dc:creator", NS) is not None:
            problems.append("both <author> and dc:creator (DuplicateItemSemantics)")
    if any(not (cat.text or "").strip() for cat in item.iterfind("category")):
        problems.append("blank category")
    enclosures = item.findall("enclosure")
    if len(enclosures) > 1:
        problems.append("more than one enclosure (DuplicateEnclosure)")
    for enclosure in enclosures:
        if not re.match(r"^https?://[^/]", enclosure.get("url") or ""):
            problems.append(f"enclosure url must be an http URL: {enclosure.get('url')!r}")
        if not (enclosure.get("length") or "").isdigit():
            problems.append(f"enclosure length must be a whole number: {enclosure.get('length')!r}")
        if not MIME.match(enclosure.get("type") or ""):
            problems.append(f"enclosure type is not a MIME type: {enclosure.get('type')!r}")
    return problems


def itunes_problems(channel: etree._Element) -> list[str]:
    """The W3C validator's rules for iTunes feeds (its itunes.py): required show tags,
    known categories, true/false, an owner email, supported enclosure formats."""
    problems = [
        f"iTunes feed without {name}"
        for name in ("language", "itunes:category", "itunes:explicit", "itunes:owner")
        if channel.find(name, NS) is None
    ]
    for category in channel.iterfind("itunes:category", NS):
        subs = CATEGORIES.get(category.get("text") or "")
        if subs is None:
            problems.append(f"unknown iTunes category {category.get('text')!r}")
        for sub in category.iterfind("itunes:category", NS):
            if subs is not None and sub.get("text") not in subs:
                problems.append(f"unknown iTunes subcategory {sub.get('text')!r}")
    for explicit in channel.xpath("itunes:explicit | item/itunes:explicit", namespaces=NS):
        if (explicit.text or "").lower() not in ("true", "false"):
            problems.append(f"itunes:explicit must be true or false: {explicit.text!r}")
    if not re.match(r"^[^@\s]+@[^@\s]+$", channel.findtext("itunes:owner/itunes:email", "", NS)):
        problems.append("itunes:owner needs an itunes:email")
    for image in channel.xpath("itunes:image | item/itunes:image", namespaces=NS):
        if not re.match(r"^https?://[^/]", image.get("href") or ""):
            problems.append("itunes:image href must be an http URL")
    for url in channel.xpath("item/enclosure/@url"):
        if url.rsplit(".", 1)[-1] not in ITUNES_FORMATS:
            problems.append(f"enclosure format not supported by iTunes: {url}")
    for duration in channel.xpath("item/itunes:duration/text()", namespaces=NS):
        if not re.fullmatch(r"(\d+:)?(\d+:)?\d+", duration):
            problems.append(f"bad itunes:duration {duration!r}")
    for number in channel.xpath(
        "item/itunes:episode/text() | item/itunes:season/text()", namespaces=NS
    ):
        if not number.isdigit() or int(number) < 1:
            problems.append(f"itunes:episode/season must be a positive integer: {number!r}")
    if channel.findtext("itunes:type", "episodic", NS) not in ("episodic", "serial"):
        problems.append("itunes:type must be episodic or serial")
    return problems


def json_problems(data: bytes, doc: FeedDocument) -> list[str]:
    schema = json.loads((SCHEMAS / "jsonfeed-1.1.schema.json").read_text(encoding="utf-8"))
    feed = json.loads(data.decode("utf-8"))
    problems = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(feed)]
    if next(iter(feed)) != "version":
        problems.append("version should come first")
    if "next_url" in feed and feed["next_url"] == feed.get("feed_url"):
        problems.append("next_url must differ from feed_url")
    return problems


@cache
def atom_rng() -> etree._ElementTree:
    return etree.parse(str(SCHEMAS / "atom.rng"))


@cache
def atom_schema() -> etree.RelaxNG:
    return etree.RelaxNG(atom_rng())


def atom_schema_problems(data: bytes) -> list[str]:
    root = xml(data)
    problems = [] if atom_schema().validate(root) else [str(atom_schema().error_log)]
    return problems + schematron_failures(root, atom_rng())


def problems(fmt: str, data: bytes, doc: FeedDocument) -> list[str]:
    """Everything wrong with a rendered feed of format `fmt` meant to show `doc`."""
    if fmt == "atom":
        return atom_schema_problems(data) + atom_problems(data, doc)
    if fmt == "rss":
        return rss_problems(data, doc)
    return json_problems(data, doc)
