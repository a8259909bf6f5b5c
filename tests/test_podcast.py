"""A feed with [podcast] in feed.toml: the tags Apple requires, Podcasting 2.0, validity."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import feedcheck
import pytest
from lxml import etree

from syndicator.feeds import documents, formats, podcast

pytestmark = pytest.mark.config(site={"base_url": "https://blog.example"})
EXAMPLE = Path(__file__).parent / "data" / "podcast"
NS = {"itunes": feedcheck.ITUNES_NS, "podcast": formats.PODCAST_NS}
# Apple Podcasts' RSS feed requirements: the show and episode tags it lists as required,
# and those the issue asks for besides (owner, duration, episode and season numbers).
APPLE_SHOW = ("title", "description", "itunes:image", "language", "itunes:category")
APPLE_SHOW += ("itunes:explicit", "itunes:owner/itunes:email", "itunes:author", "link")
APPLE_EPISODE = ("title", "enclosure", "guid", "pubDate", "itunes:duration", "itunes:episode")
APPLE_EPISODE += ("itunes:season",)


def stated(element) -> str | None:
    """What an element says: its text, or the attribute its tag keeps the value in."""
    if element is None:
        return None
    attributes = (element.get(name) for name in ("href", "text", "url"))
    return (element.text or "").strip() or next((a for a in attributes if a), None)


@pytest.fixture
def show(blog, sync, client):
    """The example podcast of tests/data, imported and fetched as RSS."""
    shutil.copytree(EXAMPLE / "dolphin-talk", blog.root / "dolphin-talk")
    assert sync().errors == []
    response = client.get("/dolphin-talk/rss.xml")
    assert response.status_code == 200
    return response.data


def test_every_tag_apple_requires_is_there(show):
    channel = etree.fromstring(show).find("channel")
    item = channel.find("item")
    for parent, paths in ((channel, APPLE_SHOW), (item, APPLE_EPISODE)):
        for path in paths:
            assert stated(parent.find(path, NS)), path
    assert channel.find("itunes:image", NS).get("href") == (
        "https://blog.example/dolphin-talk/media/cover.jpg"
    )
    assert channel.findtext("itunes:explicit", namespaces=NS) == "false"
    categories = [
        (c.get("text"), [s.get("text") for s in c]) for c in channel.iterfind("itunes:category", NS)
    ]
    assert categories == [("Business", ["Careers"]), ("Education", [])]
    assert channel.findtext("itunes:type", namespaces=NS) == "episodic"
    numbers = [item.findtext(f"itunes:{name}", namespaces=NS) for name in ("duration", "episode")]
    assert numbers == ["754", "1"]
    enclosure = item.find("enclosure")
    url = "https://blog.example/dolphin-talk/first-episode/episode.mp3"
    assert dict(enclosure.attrib) == {"url": url, "length": "1668", "type": "audio/mpeg"}


def test_podcast_guid_is_the_uuid5_of_the_feed_url_and_the_feed_is_locked(show):
    channel = etree.fromstring(show).find("channel")
    expected = uuid.uuid5(
        uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6"), "blog.example/dolphin-talk/rss.xml"
    )
    assert channel.findtext("podcast:guid", namespaces=NS) == str(expected)
    locked = channel.find("podcast:locked", NS)
    assert (locked.text, locked.get("owner")) == ("yes", "dolphin@example.org")


def test_the_spec_example_guid():
    # The example in the Podcasting 2.0 namespace document.
    assert podcast.guid_for("https://mp3s.nashownotes.com/pc20rss.xml/") == (
        "917393e3-1b1e-5cef-ace4-edaa54e1f810"
    )


def test_the_podcast_feeds_pass_the_validator_checks(show, core):
    with core.reading() as session:
        listing = documents.listing(
            session, "dolphin-talk", tag=None, number=1, per_page=20, now=core.now()
        )
        docs = {
            fmt: documents.feed_document(listing, fmt, core.urls, full_content=True)
            for fmt in formats.FILENAMES
        }
    for fmt, doc in docs.items():
        assert feedcheck.problems(fmt, formats.RENDERERS[fmt](doc), doc) == [], fmt
    assert formats.rss(docs["rss"]) == show


def test_the_itunes_checks_catch_what_the_w3c_validator_flags(show):
    broken = (
        show.replace(b"<itunes:explicit>false<", b"<itunes:explicit>clean<")
        .replace(b'text="Education"', b'text="Cooking"')
        .replace(b"episode.mp3", b"episode.ogg")
        .replace(b"<itunes:episode>1<", b"<itunes:episode>0<")
    )
    problems = feedcheck.itunes_problems(etree.fromstring(broken).find("channel"))
    assert len(problems) == 4, problems


def test_feedparser_reads_the_episode(show):
    parsed = feedcheck.read_back(show)
    assert parsed.feed.podcast_locked == {"owner": "dolphin@example.org"}
    assert parsed.feed.image.href == "https://blog.example/dolphin-talk/media/cover.jpg"
    [episode] = parsed.entries
    assert episode.itunes_duration == "754"
    assert episode.enclosures[0].href.endswith("/first-episode/episode.mp3")


@pytest.mark.parametrize(
    ("podcast_toml", "reason"),
    [
        ('categories = ["Technology"]', "'podcast.image' is required"),
        ('image = "c.gif"\ncategories = ["Technology"]', "'podcast.image' is required"),
        ('image = "c.jpg"\ncategories = ["Cooking"]', "'Cooking' is not an Apple category"),
        ('image = "c.jpg"', "needs at least one Apple category"),
        ('image = "c.jpg"\ncategories = ["Technology"]\ntype = "daily"', "episodic or serial"),
        ('image = "c.jpg"\ncategories = ["Technology"]\nexplicit = "no"', "true or false"),
    ],
)
def test_a_bad_podcast_table_is_reported_with_the_key(blog, sync, podcast_toml, reason):
    folder = blog.root / "show"
    folder.mkdir()
    (folder / "feed.toml").write_text(
        'title = "Show"\nlanguage = "en"\n[author]\nname = "A"\nemail = "a@example.org"\n'
        f"[podcast]\n{podcast_toml}\n",
        encoding="utf-8",
    )
    [error] = sync().errors
    assert error.path.endswith("show/feed.toml")
    assert reason in error.reason


def test_a_feed_without_podcast_has_no_itunes_tags(blog, sync, client):
    blog.post("hello")
    sync()
    assert b"itunes" not in client.get("/news/rss.xml").data
