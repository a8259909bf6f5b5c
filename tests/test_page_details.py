"""What a reader notices on the pages: link previews, branded notices, dates, sentences.

Pages are parsed as HTML (lxml.html), as a browser or a link-preview crawler
would read them.
"""

from __future__ import annotations

import lxml.html
import pytest
from sqlalchemy import select

from syndicator.models import Subscriber
from syndicator.web import create_app

BASE = "http://127.0.0.1:8000"
TITLE = 'Tom & "Jerry" <b>'
pytestmark = pytest.mark.config(site={"default_feed": "news"})


def parse(response):
    return lxml.html.fromstring(response.get_data(as_text=True))


def meta(page, key: str) -> str | None:
    found = page.xpath(f'//meta[@property="{key}" or @name="{key}"]/@content')
    assert len(found) <= 1, key
    return found[0] if found else None


@pytest.fixture
def news(blog, sync):
    blog.feed(
        "news",
        title="From the Waters....",
        subtitle="A career advisor's " + "long bio, " * 90 + "the end.",
        icon="https://cdn.example.org/dolphin.png",
        language="en-US",
    )
    blog.post(
        "first",
        "Intro.\n\n![A dolphin](images/dolphin.jpg)\n\nMore text.",
        title=TITLE,
        summary="Cats & <mice>",
        date="2026-01-02T09:00:00Z",
        updated="2026-01-02T17:30:00Z",
        tags=["Job Search"],
    )
    blog.post("second", "No pictures here.", date="2026-01-01T09:00:00Z")
    sync()


def test_post_page_carries_opengraph_and_twitter_card_meta_escaped(news, client):
    response = client.get("/news/first/")
    page = parse(response)
    assert meta(page, "og:type") == "article"
    assert meta(page, "og:title") == TITLE  # quotes and brackets survive, escaped
    assert meta(page, "og:description") == "Cats & <mice>"
    assert meta(page, "og:url") == f"{BASE}/news/first/"
    assert meta(page, "og:image") == f"{BASE}/news/first/images/dolphin.jpg"
    assert meta(page, "og:site_name") == "From the Waters...."
    assert meta(page, "twitter:card") == "summary_large_image"
    assert meta(page, "twitter:title") == TITLE
    assert meta(page, "twitter:image") == meta(page, "og:image")
    assert meta(page, "article:published_time").startswith("2026-01-02T09:00:00")
    assert page.xpath('//link[@rel="canonical"]/@href') == [f"{BASE}/news/first/"]
    assert b"<b>" not in response.data.split(b"</head>")[0]  # the title never becomes markup


def test_a_post_without_pictures_previews_with_the_feed_icon(news, client):
    page = parse(client.get("/news/second/"))
    assert meta(page, "og:image") == "https://cdn.example.org/dolphin.png"
    assert meta(page, "og:description") == "No pictures here."


@pytest.mark.parametrize("path", ["/", "/news/"])
def test_home_page_carries_the_blogs_preview_meta(news, client, path):
    page = parse(client.get(path))
    assert page.xpath('//link[@rel="canonical"]/@href') == [f"{BASE}/"]  # one page, one URL
    assert meta(page, "og:type") == "website"
    assert meta(page, "og:title") == "From the Waters...."
    assert meta(page, "og:url") == f"{BASE}/"
    assert meta(page, "og:description").startswith("A career advisor's long bio")
    assert len(meta(page, "og:description")) <= 201
    assert meta(page, "og:image") == "https://cdn.example.org/dolphin.png"
    assert meta(page, "og:locale") == "en_US"


def test_a_feed_without_icon_or_pictures_has_a_text_card(blog, sync, client):
    blog.post("plain", feed="news")
    sync()
    page = parse(client.get("/news/plain/"))
    assert meta(page, "og:image") is None and meta(page, "twitter:card") == "summary"


def branded(page) -> None:
    """The page wears the blog's title and links back to it, not "syndicator"."""
    assert "From the Waters...." in page.findtext(".//title")
    assert "syndicator" not in page.findtext(".//title")
    (name,) = page.xpath('//header[@class="site"]/a')
    assert name.text_content() == "From the Waters...." and name.get("href") == "/news/"
    back = page.xpath('//p[@class="back"]/a')
    assert [(a.get("href"), a.text_content()) for a in back] == [
        ("/news/", "← Back to From the Waters....")
    ]


@pytest.mark.parametrize("path", ["/news/nope/", "/nowhere/", "/news/tags/nope/", "/x/y/z/w/"])
def test_not_found_pages_wear_the_blogs_title(news, client, path):
    response = client.get(path)
    assert response.status_code == 404
    branded(parse(response))


def test_the_gone_page_wears_the_blogs_title(news, blog, sync, client):
    (blog.root / "news" / "posts" / "second.md").unlink()
    sync()
    response = client.get("/news/second/")
    assert response.status_code == 410
    branded(parse(response))


def test_confirm_and_unsubscribe_pages_wear_the_blogs_title_and_a_real_button(news, client, core):
    client.post("/news/subscribe", data={"email": "ann@example.org"})
    from syndicator.mail import subscriptions

    with core.transaction() as session:
        subscriber = session.scalar(select(Subscriber))
        confirm_token = subscriptions.new_token()
        subscriber.confirm_digest = subscriptions.token_digest(confirm_token)
        unsubscribe_token = subscriber.unsubscribe_token
    confirm = parse(client.get(f"/confirm/{confirm_token}"))
    branded(confirm)
    (button,) = confirm.xpath("//form[@method='post']//button")
    assert button.text_content() == "Confirm"
    client.post(f"/confirm/{confirm_token}")
    done = parse(client.get(f"/confirm/{confirm_token}"))
    text = done.xpath("//main")[0].text_content()
    assert "posts of From the Waters.... Every mail" in text  # no fifth dot
    branded(parse(client.get(f"/unsubscribe/{unsubscribe_token}")))
    client.post(f"/unsubscribe/{unsubscribe_token}")
    gone = parse(client.get(f"/unsubscribe/{unsubscribe_token}")).xpath("//main")[0]
    assert "any more digests of From the Waters...." in gone.text_content()
    assert "....." not in gone.text_content()
    assert not parse(client.get(f"/unsubscribe/{unsubscribe_token}")).xpath("//aside")


def test_broken_links_and_rate_limits_wear_the_blogs_title(news, make_core, blog):
    from factories import import_folder

    core = make_core(digest={"subscribe_limit_per_ip": 1})
    import_folder(core, blog.root)
    client = create_app(core=core).test_client()
    unknown = client.get("/confirm/nonsense")
    assert unknown.status_code == 404
    branded(parse(unknown))
    client.post("/news/subscribe", data={"email": "ann@example.org"})
    limited = client.post("/news/subscribe", data={"email": "bob@example.org"})
    assert limited.status_code == 429
    branded(parse(limited))


def test_no_sentence_on_any_page_gets_a_fifth_dot(news, client):
    pages = ["/", "/news/", "/news/first/", "/news/tags/job-search/", "/news/subscribe"]
    client.post("/news/subscribe", data={"email": "ann@example.org"})
    pages.append("/news/subscribe/sent")
    for path in pages:
        text = parse(client.get(path)).text_content()
        assert "From the Waters...." in text, path
        assert "....." not in text, path


def test_page_zero_is_not_found(news, client):
    for path in ("/news/page/0/", "/news/tags/job-search/page/0/", "/news/page/0/atom.xml"):
        assert client.get(path).status_code == 404, path


def test_the_home_bio_is_set_apart_from_the_first_post(news, client):
    page = parse(client.get("/"))
    main = page.xpath("//main")[0]
    about, first = main[0], main[1]
    assert about.tag == "section" and about.get("class") == "about"
    assert about.text_content().startswith("A career advisor's")
    assert first.tag == "article" and first.xpath(".//h2")


@pytest.mark.parametrize("path", ["/news/tags/job-search/", "/news/atom.xml"])
def test_headings_of_tag_pages_and_previews_stand_apart_from_the_first_title(news, client, path):
    page = parse(client.get(path, headers={"Accept": "text/html"}))
    (heading,) = page.xpath("//main//h1")
    assert heading.getparent().tag == "header" and heading.getparent().get("class") == "listing"
    assert heading.getparent().getnext().get("class") == "teaser"


def test_a_post_edited_on_its_day_shows_its_date_once(news, blog, sync, client):
    edited_that_day = parse(client.get("/news/first/")).xpath("//article/p[@class='meta']")[0]
    assert edited_that_day.text_content() == "Friday, January 2, 2026"
    blog.post("second", "Changed.", date="2026-01-01T09:00:00Z", updated="2026-01-05T09:00:00Z")
    sync()
    edited_later = parse(client.get("/news/second/")).xpath("//article/p[@class='meta']")[0]
    assert edited_later.text_content() == (
        "Thursday, January 1, 2026 · updated Monday, January 5, 2026"
    )


def test_every_page_links_an_icon(news, client):
    for path in ("/", "/news/first/", "/news/nope/"):
        icons = parse(client.get(path)).xpath('//link[@rel="icon"]/@href')
        assert icons == ["https://cdn.example.org/dolphin.png"], path
