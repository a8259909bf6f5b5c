"""Screenshots of the shipped blog: home, post, confirm page and a digest mail.

Each at 1280 px (desktop) and 390 px (phone) wide, written next to this file as
`<page>-<width>.png`. The blog runs from the `feeds/` folder on a throw-away
SQLite database; the digest is the HTML part of a real digest mail, shown as a
page. Needs Playwright and Chromium (not in the test extras' install path):

    apt-get install -y chromium && pip install playwright
    python docs/screenshots/make.py
"""

from __future__ import annotations

import email
import email.policy
import shutil
import sys
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import Page, sync_playwright
from sqlalchemy import select
from werkzeug.serving import make_server

from syndicator import config as config_module
from syndicator import core as core_module
from syndicator import db
from syndicator.feeds import catalog
from syndicator.mail import compose, subscriptions
from syndicator.models import Subscriber
from syndicator.posts import importer, store
from syndicator.web import create_app

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
WIDTHS = {1280: 900, 390: 844}  # viewport width: height
MAX_HEIGHT = 2400  # a long post is cut here: the top of the page is what is judged
FEED = "from-the-waters"


def main() -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("make.py: Chromium is missing (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory() as folder:
        server = make_server("127.0.0.1", 0, None, threaded=True)  # type: ignore[arg-type]
        base = f"http://127.0.0.1:{server.server_port}"
        core = _blog(Path(folder), base)
        server.app = create_app(core=core)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            pages = {
                "home": base + "/",
                "post": base + _newest_post(core),
                "confirm": base + _confirm_path(core),
            }
            _shoot(chromium, pages, _digest_html(core))
        finally:
            server.shutdown()
            core.close()


def _blog(folder: Path, base: str) -> core_module.Core:
    config = config_module.from_mapping(
        {
            "site": {"base_url": base, "default_feed": FEED},
            "storage": {
                "database_url": f"sqlite:///{folder / 'screens.db'}",
                "content_dir": str(ROOT / "feeds"),
            },
            "email": {"maildir": str(folder / "mail")},
        },
        source="screenshots",
        base_dir=folder,
        env={},
    )
    core = core_module.build(config)
    db.upgrade(core.engine)
    with core.transaction() as session:
        importer.sync(session, ROOT / "feeds", core.timezone, core.now())
    return core


def _newest_post(core: core_module.Core) -> str:
    with core.reading() as session:
        post = store.visible(session, FEED, core.now())[0]
        return core.urls.post_path(FEED, post.slug)


def _confirm_path(core: core_module.Core) -> str:
    """A reader who has just subscribed, and the link from their confirmation mail."""
    token = subscriptions.new_token()
    with core.transaction() as session:
        request = subscriptions.Request(FEED, "reader@example.org")
        subscriptions.subscribe(session, request, core.config, core.timezone, core.now())
        subscriber = session.scalars(select(Subscriber)).one()
        subscriber.confirm_digest = subscriptions.token_digest(token)
    return f"/confirm/{token}"


def _digest_html(core: core_module.Core) -> str:
    """The HTML part of the digest the reader above would get with every post."""
    letterhead = compose.Letterhead.from_config(core.config, core.timezone)
    with core.reading() as session:
        feed = catalog.get(session, FEED)
        posts = store.visible(session, FEED, core.now())
        items = [compose.item(post, feed, letterhead) for post in posts]
        recipient = compose.Recipient(
            "reader@example.org", "daily", "unsubscribe-token", first_digest=True
        )
        raw = compose.digest(
            letterhead, feed, items, recipient, message_id="<screens@example.org>", date=core.now()
        )
    message = email.message_from_bytes(raw, policy=email.policy.default)
    html = message.get_body(("html",))
    assert html is not None
    return str(html.get_content())


def _shoot(chromium: str, pages: dict[str, str], digest: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        for width, height in WIDTHS.items():
            page = browser.new_page(
                viewport={"width": width, "height": height}, color_scheme="light"
            )
            for name, url in pages.items():
                page.goto(url)
                _save(page, name, width)
            page.set_content(digest)
            _save(page, "digest", width)
            page.close()
        browser.close()


def _save(page: Page, name: str, width: int) -> None:
    height = min(MAX_HEIGHT, int(page.evaluate("document.documentElement.scrollHeight")))
    target = HERE / f"{name}-{width}.png"
    page.screenshot(
        path=target, full_page=True, clip={"x": 0, "y": 0, "width": width, "height": height}
    )
    print(target.relative_to(ROOT))


if __name__ == "__main__":
    main()
