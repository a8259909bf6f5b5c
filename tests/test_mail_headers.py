"""No value that reaches a mail header can add a header: feed.toml, config, addresses."""

from __future__ import annotations

import mailbox
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from factories import add_feed, add_post, add_subscriber, import_folder
from sqlalchemy import func, select

from syndicator import worker
from syndicator.feeds import catalog
from syndicator.mail import mime
from syndicator.models import Channel, Delivery, Feed
from syndicator.web import create_app

INJECTED = "News\\r\\nBcc: victim@example.org"  # as written in TOML: a CRLF once parsed


def maildir_messages(path: Path) -> list[Any]:
    return list(mailbox.Maildir(path, create=False)) if path.exists() else []


def test_a_feed_title_with_a_line_break_never_adds_a_bcc_header(
    blog, make_core, clock, tmp_path
) -> None:
    blog.feed("news", title="News")
    blog.post("first")
    core = make_core()
    import_folder(core, blog.root)
    client = create_app(core=core).test_client()
    assert client.post("/news/subscribe", json={"email": "ann@example.org"}).status_code == 202
    worker.tick(core)
    (confirmation,) = maildir_messages(tmp_path / "mail")
    link = re.search(r"http://127\.0\.0\.1:8000(/confirm/\S+)", confirmation.as_string())
    assert client.post(link.group(1)).status_code == 303  # confirmed, and back to the page

    feed_toml = blog.root / "news" / "feed.toml"
    feed_toml.write_text(f'title = "{INJECTED}"\n', encoding="utf-8")
    report = import_folder(core, blog.root)
    assert [(error.path, error.reason) for error in report.errors] == [
        (str(feed_toml), "'title' must be one line (it contains a line break)")
    ]
    with core.reading() as session:
        assert catalog.get(session, "news").title == "News"  # the last good settings

    assert client.post("/news/subscribe", json={"email": "bob@example.org"}).status_code == 202
    clock.advance(minutes=1)
    add_post(core, "Second")
    clock.advance(days=1)
    worker.tick(core)
    messages = maildir_messages(tmp_path / "mail")
    assert sorted(m["Subject"] for m in messages) == [
        "Confirm your subscription to News",
        "Confirm your subscription to News",
        "News: 1 new post",
    ]
    for message in messages:
        assert "Bcc" not in message and "victim" not in message.as_string()


@pytest.mark.parametrize("field", ["title", "author.name", "author.email", "author.uri"])
def test_a_control_character_in_a_header_bound_feed_field_is_a_bad_feed_toml(
    blog, core, field
) -> None:
    folder = blog.feed("news", title="News")
    key = field.split(".")[-1]
    value = 'title = "News"\n[author]\n' if "." in field else ""
    value += f'{key} = "A\\nBcc: victim@example.org"\n'
    (folder / "feed.toml").write_text(value, encoding="utf-8")
    (error,) = import_folder(core, blog.root).errors
    assert error.path.endswith("feed.toml") and f"'{field}' must be one line" in error.reason


def test_mime_refuses_a_header_value_with_a_line_break() -> None:
    headers = mime.Headers(
        sender="news@example.org",
        to="ann@example.org",
        subject="News\r\nBcc: victim@example.org",
        date=datetime(2026, 11, 26, tzinfo=UTC),
        message_id="<m@example.org>",
    )
    with pytest.raises(mime.UnsafeHeader, match="Subject header must be one line"):
        mime.build(headers, "text", "<p>html</p>")


def test_a_title_stored_with_a_line_break_before_the_check_is_sent_on_one_line(
    make_core, clock, tmp_path
) -> None:
    """A feed imported before feed.toml titles were checked may hold a line break: its
    digests and confirmations still go, the title on one line, and no header is added."""
    core = make_core()
    add_feed(core)
    add_subscriber(core, "ann@example.org")
    with core.transaction() as session:  # as an older version stored it
        session.get_one(Feed, "news").title = "Harbour\r\n  News\nBcc: victim@example.org"
    clock.advance(minutes=1)
    add_post(core, "First")
    clock.advance(days=1)
    client = create_app(core=core).test_client()
    assert client.post("/news/subscribe", json={"email": "bob@example.org"}).status_code == 202
    worker.tick(core)
    messages = maildir_messages(tmp_path / "mail")
    assert sorted((m["To"], m["Subject"]) for m in messages) == [
        ("ann@example.org", "Harbour News Bcc: victim@example.org: 1 new post"),
        ("bob@example.org", "Confirm your subscription to Harbour News Bcc: victim@example.org"),
    ]
    assert all(message["Bcc"] is None for message in messages)
    (digest,) = [message for message in messages if message["To"] == "ann@example.org"]
    assert digest["List-Id"] == '"Harbour News Bcc: victim@example.org" <news.127.0.0.1>'


@pytest.mark.parametrize(
    "email",
    ["ann@example.org\r\nBcc: victim@example.org", "ann\n@example.org", "ann@example.org\x00"],
)
def test_an_address_with_a_control_character_is_refused_and_nothing_is_queued(
    blog, sync, client, core, email
) -> None:
    blog.feed("news")
    sync()
    answer = client.post("/news/subscribe", json={"email": email})
    assert answer.status_code == 422 and "email" in answer.get_json()["error"]["fields"]
    with core.reading() as session:
        assert session.scalar(select(func.count()).where(Delivery.channel == Channel.MAIL)) == 0
