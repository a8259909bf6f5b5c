"""The pages as a browser lays them out (Playwright with Debian's Chromium).

What a reader sees and the HTML alone cannot tell: a styled button, the space
between the bio and the first post, headings apart from the first title, no
sideways scrolling on a phone. Skipped where Playwright or Chromium is missing
(`.ci/run` installs both).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from api_support import live_server  # noqa: F401  (a fixture)
from sqlalchemy import select

from syndicator.mail import subscriptions
from syndicator.models import Subscriber

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium")
ACCENT = "rgb(11, 110, 138)"
pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"
    ),
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),  # layout, not storage
    pytest.mark.config(site={"default_feed": "news"}),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()


@pytest.fixture
def site(blog, sync, core, live_server) -> str:  # noqa: F811
    blog.feed("news", title="From the Waters....", subtitle="A long bio. " * 80)
    for number in range(1, 4):
        blog.post(
            f"post-{number}",
            "A paragraph with a https://example.org/a/very/long/address/that/does/not/wrap/" * 3,
            title=f"Finding work on the water, part {number}",
            date=f"2026-01-0{number}T09:00:00Z",
            tags=["Job Search"],
        )
    sync()
    return live_server


def open_page(browser: Any, url: str, width: int) -> Any:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(url)
    return page


def gap(page: Any, upper: str, lower: str) -> float:
    """Pixels between the bottom of the first `upper` and the top of the first `lower`."""
    top = page.locator(lower).first.bounding_box()["y"]
    above = page.locator(upper).first.bounding_box()
    return float(top - (above["y"] + above["height"]))


def confirm_link(core: Any, client: Any) -> str:
    client.post("/news/subscribe", data={"email": "ann@example.org"})
    token = subscriptions.new_token()
    with core.transaction() as session:
        session.scalar(select(Subscriber)).confirm_digest = subscriptions.token_digest(token)
    return f"/confirm/{token}"


@pytest.mark.parametrize("width", [1280, 390])
def test_no_page_scrolls_sideways(site, browser, core, client, width):
    for path in ("/", "/news/post-1/", "/news/tags/job-search/", confirm_link(core, client)):
        page = open_page(browser, site + path, width)
        overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, path
        page.close()


def test_the_confirm_button_is_styled_in_the_blogs_colour(site, browser, core, client):
    page = open_page(browser, site + confirm_link(core, client), 390)
    button = page.get_by_role("button", name="Confirm")
    style = button.evaluate(
        "b => { const s = getComputedStyle(b); return [s.backgroundColor, s.color] }"
    )
    assert style == [ACCENT, "rgb(255, 255, 255)"]
    assert button.bounding_box()["height"] >= 44  # a finger-sized target on a phone


@pytest.mark.parametrize("width", [1280, 390])
def test_the_bio_stands_apart_from_the_first_post(site, browser, width):
    page = open_page(browser, site + "/", width)
    assert gap(page, "section.about", "article.teaser h2") >= 32


@pytest.mark.parametrize("path", ["/news/tags/job-search/", "/news/atom.xml"])
def test_list_headings_stand_apart_from_the_first_title(site, browser, path):
    page = browser.new_page(
        viewport={"width": 390, "height": 900}, extra_http_headers={"Accept": "text/html"}
    )
    page.goto(site + path)
    assert gap(page, "main h1", "article.teaser h2") >= 24
