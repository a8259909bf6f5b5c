"""Transports against real servers, and the digest mail as a mail client parses it."""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import mailbox
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dkim
import jinja2
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from factories import FakeClock, add_feed, build_core
from lxml import html as lxml_html
from mail_support import (
    reader_with_one_new_post,
    self_signed,
    smtp_email_config,
    smtp_server,
)
from markupsafe import Markup

from syndicator import config as config_module
from syndicator import worker
from syndicator.errors import ConfigError
from syndicator.mail import compose, digests, mime, sender, textpart, transports
from syndicator.models import Feed, Post, PostTag
from syndicator.urls import Urls


def envelope(to: str = "ann@example.org", subject: str = "hello") -> transports.Envelope:
    data = (f"From: news@example.org\r\nTo: {to}\r\nSubject: {subject}\r\n\r\nbody\r\n").encode()
    return transports.Envelope("news@example.org", to, data)


def smtp_settings(port: int, **overrides: Any) -> config_module.Smtp:
    return config_module.Smtp(host="127.0.0.1", port=port, timeout_seconds=5, **overrides)


def sent_begun_first(transport: transports.SmtpTransport, message: transports.Envelope) -> None:
    """How the mail sender sends: the envelope begun while it records, then sent."""
    transport.begin(message)
    transport.send(message)


def test_starttls_with_login_sends_a_batch_over_one_connection(tmp_path: Path) -> None:
    certificate = self_signed(tmp_path)
    with smtp_server(starttls=certificate, login=("relay", "s3cret")) as (recorder, port):
        transport = transports.SmtpTransport(
            smtp_settings(
                port,
                security="starttls",
                username="relay",
                password="s3cret",
                ca_file=str(certificate.cert),
            )
        )
        for n in range(3):
            transport.send(envelope(subject=f"message {n}"))
        transport.close()
    assert [r.message["Subject"] for r in recorder.received] == [f"message {n}" for n in range(3)]
    assert recorder.connections == 2  # EHLO before and after STARTTLS, on one connection


def test_starttls_refuses_a_certificate_it_does_not_trust(tmp_path: Path) -> None:
    certificate = self_signed(tmp_path)
    with smtp_server(starttls=certificate) as (recorder, port):
        transport = transports.SmtpTransport(smtp_settings(port, security="starttls"))
        with pytest.raises(transports.TemporaryFailure) as failure:
            transport.send(envelope())
    assert failure.value.connection and recorder.received == []


def test_implicit_tls_delivers(tmp_path: Path) -> None:
    certificate = self_signed(tmp_path)
    with smtp_server(tls=certificate) as (recorder, port):
        transport = transports.SmtpTransport(
            smtp_settings(port, security="tls", ca_file=str(certificate.cert))
        )
        transport.send(envelope())
        transport.close()
    assert [r.recipients for r in recorder.received] == [["ann@example.org"]]


@pytest.mark.parametrize("send", [transports.SmtpTransport.send, sent_begun_first])
def test_reconnects_when_the_server_dropped_the_connection(send: Any) -> None:
    with smtp_server() as (recorder, port):
        transport = transports.SmtpTransport(smtp_settings(port, security="none"))
        transport.send(envelope(subject="before"))
    with smtp_server(port=port, recorder=recorder):
        send(transport, envelope(subject="after"))  # the old connection is dead by now
        transport.close()
    assert [r.message["Subject"] for r in recorder.received] == ["before", "after"]


@pytest.mark.parametrize("send", [transports.SmtpTransport.send, sent_begun_first])
def test_refusals_are_told_apart_4xx_temporary_5xx_permanent(send: Any) -> None:
    with smtp_server() as (recorder, port):
        recorder.rcpt_rule = lambda a: (
            "550 5.1.1 unknown"
            if a.startswith("gone")
            else ("452 4.2.2 mailbox full" if a.startswith("full") else None)
        )
        transport = transports.SmtpTransport(smtp_settings(port, security="none"))
        transport.send(envelope("first@example.org"))  # connected: later envelopes begin early
        with pytest.raises(transports.PermanentFailure, match="550"):
            send(transport, envelope("gone@example.org"))
        with pytest.raises(transports.TemporaryFailure, match="452") as temporary:
            send(transport, envelope("full@example.org"))
        send(transport, envelope("ok@example.org"))  # the same connection still works
        transport.close()
    assert not temporary.value.connection
    assert [r.recipients[0] for r in recorder.received] == ["first@example.org", "ok@example.org"]
    assert recorder.connections == 1


def test_a_mail_begun_but_then_not_sent_reaches_no_one() -> None:
    """The sender begins each envelope while it commits the mail's `sending` mark; when
    the mark says no (the reader unsubscribed a moment ago), that mail is never delivered
    and the connection goes on with the next."""
    with smtp_server() as (recorder, port):
        transport = transports.SmtpTransport(smtp_settings(port, security="none"))
        transport.send(envelope(subject="first"))
        transport.begin(envelope("left@example.org", subject="dropped"))
        sent_begun_first(transport, envelope(subject="next"))
        transport.begin(envelope("left@example.org", subject="dropped at the end"))
        transport.close()
    assert [r.message["Subject"] for r in recorder.received] == ["first", "next"]
    assert recorder.connections == 1


def test_unreachable_server_is_a_temporary_connection_failure() -> None:
    with smtp_server() as (_recorder, port):
        pass
    with pytest.raises(transports.TemporaryFailure) as failure:
        transports.SmtpTransport(smtp_settings(port, security="none")).send(envelope())
    assert failure.value.connection


def test_maildir_transport_writes_readable_mail(tmp_path: Path) -> None:
    transport = transports.MaildirTransport(tmp_path / "mail")
    transport.send(envelope(subject="in the box"))
    transport.close()
    box = mailbox.Maildir(tmp_path / "mail", create=False)
    assert [message["Subject"] for message in box] == ["in the box"]


def _feed() -> Feed:
    return Feed(slug="news", title="News Feed", language="en")


def _post(n: int, body_html: str) -> Post:
    published = datetime(2026, 11, 20 + n % 5, 9, tzinfo=UTC)
    post = Post(
        id=n,
        feed_slug="news",
        guid=f"urn:uuid:{n}",
        slug=f"post-{n}",
        title=f"Post {n} & more",
        content_html=body_html,
        summary=None,
        published_at=published,
        updated_at=published,
    )
    post.tags = [PostTag(tag_slug="t", name="T", position=0)]
    return post


def _letterhead(**overrides: Any) -> compose.Letterhead:
    values = {
        "sender": "News Desk <news@example.org>",
        "urls": Urls("https://blog.example.org"),
        "timezone": UTC,
        "full_content": True,
        "unsubscribe_mailto": "",
        "expiry_days": 7,
        **overrides,
    }
    return compose.Letterhead(**values)


def _digest(letterhead: compose.Letterhead, count: int, body_html: str) -> bytes:
    items = [compose.item(_post(n, body_html), _feed(), letterhead) for n in range(count)]
    return compose.digest(
        letterhead,
        _feed(),
        items,
        compose.Recipient("ann@example.org", "daily", "tok3n"),
        message_id="<abc@example.org>",
        date=datetime(2026, 11, 26, 7, tzinfo=UTC),
    )


def test_digest_headers_and_both_parts_as_a_mail_client_reads_them() -> None:
    body = '<p>See <a href="/about/">about</a> and <img src="pic.png" alt="x"></p>'
    raw = _digest(_letterhead(unsubscribe_mailto="leave@example.org"), 3, body)
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message.get_content_type() == "multipart/alternative"
    assert message["From"] == "News Desk <news@example.org>"
    assert message["To"] == "ann@example.org"
    assert message["Subject"] == "News Feed: 3 new posts"
    assert message["Date"] == "Thu, 26 Nov 2026 07:00:00 +0000"
    assert message["Message-ID"] == "<abc@example.org>"
    assert message["List-Id"] == '"News Feed" <news.blog.example.org>'
    assert message["List-Unsubscribe"] == (
        "<https://blog.example.org/unsubscribe/tok3n>, "
        "<mailto:leave@example.org?subject=unsubscribe%20tok3n>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Post 2 & more\nhttps://blog.example.org/news/post-2/\n" in text
    assert "https://blog.example.org/unsubscribe/tok3n" in text
    page = lxml_html.fromstring(message.get_body(("html",)).get_content())
    links = page.xpath("//a/@href")
    assert "https://blog.example.org/news/post-0/" in links
    assert "https://blog.example.org/about/" in links  # relative link made absolute
    assert page.xpath("//img/@src") == [
        f"https://blog.example.org/news/post-{n}/pic.png" for n in (2, 1, 0)
    ]
    assert page.xpath("//link | //script | //style") == []  # inline styles only: Gmail, Outlook
    cells = page.xpath("//td")
    assert cells and all(cell.get("style") for cell in cells)  # a table layout, styled inline
    headings = [h.text_content() for h in page.xpath("//h2")]
    assert headings == ["Post 2 & more", "Post 1 & more", "Post 0 & more"]  # newest first


def _whole(
    letterhead: compose.Letterhead,
    feed: Feed,
    items: list[compose.Item],
    recipient: compose.Recipient,
    *,
    message_id: str,
    date: datetime,
) -> bytes:
    """A digest the plain way, as a reference: each template rendered whole, with every value
    (the post blocks decoded back from the items), each part encoded in one go."""
    templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(compose.__file__).parent / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        keep_trailing_newline=True,
    )
    newest = sorted(items, key=lambda entry: (entry.published_at, entry.post_id), reverse=True)

    def blocks(part: str) -> str:  # the items stand on the template's own line
        decoded = b"".join(binascii.a2b_qp(getattr(entry, part)) for entry in newest)
        return decoded.decode().replace("\r\n", "\n").removesuffix("\n")

    count = len(items)
    unsubscribe_url = f"https://blog.example.org/unsubscribe/{recipient.unsubscribe_token}"
    values = {
        "subject": f"{feed.title}: {count} new post{'s' if count > 1 else ''}",
        "language": feed.language or "en",
        "feed_title": feed.title,
        "feed_url": f"https://blog.example.org/{feed.slug}/",
        "intro": f"{count} new post{'s' if count > 1 else ''} since "
        + ("you subscribed" if recipient.first_digest else "your last digest"),
        "link_colour": compose.LINK_COLOUR,
        "frequency": recipient.frequency,
        "email": recipient.email,
        "unsubscribe_url": unsubscribe_url,
        "items_html": Markup(blocks("html")),
        "items_text": blocks("text"),
    }
    unsubscribe = [f"<{unsubscribe_url}>"]
    if letterhead.unsubscribe_mailto:
        unsubscribe.append(
            f"<mailto:{letterhead.unsubscribe_mailto}"
            f"?subject=unsubscribe%20{recipient.unsubscribe_token}>"
        )
    title = feed.title.replace("\\", "").replace('"', "'")
    headers = mime.Headers(
        sender=letterhead.sender,
        to=recipient.email,
        subject=values["subject"],
        date=date,
        message_id=message_id,
        extra=(
            ("List-Id", f'"{title}" <{feed.slug}.blog.example.org>'),
            ("List-Unsubscribe", ", ".join(unsubscribe)),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ),
    )
    text = templates.get_template("digest.txt").render(values)
    html = templates.get_template("digest.html").render(values)
    return mime.build(headers, text, html)


@pytest.mark.parametrize(
    ("title", "recipient", "mailto"),
    [
        ("News Feed", compose.Recipient("ann@example.org", "daily", "tok3n"), ""),
        (
            # Quotes to escape, non-ASCII to encode, and U+2028, a line end to Python, not to QP
            'Nouvelles «été» = "x" & <b>\u2028',
            compose.Recipient(
                "Zoë O'Brien <zoe+o'brien@example.org>", "weekly", "T0k-_9", first_digest=True
            ),
            "leave@example.org",
        ),
    ],
)
def test_a_digest_is_byte_for_byte_the_templates_rendered_whole(
    title: str, recipient: compose.Recipient, mailto: str
) -> None:
    letterhead = _letterhead(sender="Rédaction <news@example.org>", unsubscribe_mailto=mailto)
    feed = Feed(slug="news", title=title, language="fr")
    date = datetime(2026, 11, 26, 7, tzinfo=UTC)
    long_lines = "<p>" + "Ünïcödé = wörds, trailing space \n" * 30 + "long " * 400 + "</p>"
    for count in (1, 3):
        items = [compose.item(_post(n, long_lines), feed, letterhead) for n in range(count)]
        for message_id in ("<first@example.org>", "<second@example.org>"):
            sent = compose.digest(
                letterhead, feed, items, recipient, message_id=message_id, date=date
            )
            expected = _whole(letterhead, feed, items, recipient, message_id=message_id, date=date)
            assert sent == expected


def test_two_readers_of_the_same_posts_differ_only_in_their_own_address_and_links() -> None:
    letterhead = _letterhead(unsubscribe_mailto="leave@example.org")
    items = [compose.item(_post(n, "<p>Hello</p>"), _feed(), letterhead) for n in range(3)]
    date = datetime(2026, 11, 26, 7, tzinfo=UTC)
    ann, bob = (
        compose.Recipient("ann@example.org", "daily", "tokenOfAnn"),
        compose.Recipient("bob@example.org", "daily", "tokenOfBob"),
    )
    mails = [
        email.message_from_bytes(
            compose.digest(
                letterhead, _feed(), items, reader, message_id=f"<{n}@example.org>", date=date
            ),
            policy=email.policy.default,
        )
        for n, reader in enumerate((ann, bob))
    ]
    own = {"To", "Message-ID", "List-Unsubscribe", "Content-Type"}  # Content-Type: boundary
    first, second = ({k: v for k, v in m.items() if k not in own} for m in mails)
    assert first == second and len(first) == 6  # From, Subject, Date, List-Id, -Post, MIME
    assert mails[0].get_content_type() == mails[1].get_content_type() == "multipart/alternative"
    assert mails[0]["Message-ID"] != mails[1]["Message-ID"]
    assert "tokenOfAnn" in mails[0]["List-Unsubscribe"]
    assert "tokenOfBob" in mails[1]["List-Unsubscribe"]
    for part in ("plain", "html"):
        ours, theirs = (m.get_body((part,)).get_content() for m in mails)
        assert ours.count("https://blog.example.org/unsubscribe/tokenOfAnn") == 1
        assert theirs.count("https://blog.example.org/unsubscribe/tokenOfBob") == 1
        as_bob = ours.replace("tokenOfAnn", "tokenOfBob").replace("ann@", "bob@")
        assert as_bob == theirs


def test_the_digest_around_a_post_set_is_rendered_once_for_all_its_readers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    letterhead = _letterhead()
    items = [compose.item(_post(n, "<p>Hello</p>"), _feed(), letterhead) for n in range(3)]
    rendered: list[str] = []
    render = jinja2.Template.render

    def counted(template: jinja2.Template, *args: Any, **kwargs: Any) -> str:
        rendered.append(str(template.name))
        return render(template, *args, **kwargs)

    monkeypatch.setattr(jinja2.Template, "render", counted)
    feed = Feed(slug="news", title="A title no other test uses", language="en")
    date = datetime(2026, 11, 26, 7, tzinfo=UTC)
    for n in range(50):
        reader = compose.Recipient(f"reader{n}@example.org", "daily", f"token{n}")
        message_id = f"<{n}@example.org>"
        compose.digest(letterhead, feed, items, reader, message_id=message_id, date=date)
    assert sorted(rendered) == ["digest.html", "digest.txt"]


@pytest.mark.parametrize("paragraphs", [1, 2, 20])  # ~1.7, ~3.5 and ~35 KB of text per post
def test_ten_posts_stay_under_100_kib(paragraphs: int) -> None:
    paragraph = "<p>" + "A sentence of a reasonably <em>long</em> blog post. " * 32 + "</p>"
    raw = _digest(_letterhead(), 10, paragraph * paragraphs)
    assert len(raw) < 100 * 1024
    html = email.message_from_bytes(raw, policy=email.policy.default).get_body(("html",))
    full = paragraphs * 32 * 10 == html.get_content().count("<em>long</em>")
    assert full == (len(paragraph * paragraphs) <= compose.FULL_CONTENT_LIMIT)


def test_summary_only_when_full_content_is_off() -> None:
    raw = _digest(_letterhead(full_content=False), 1, "<p>" + "word " * 200 + "</p>")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    text = message.get_body(("plain",)).get_content()
    assert "word word" in text and "…" in text
    assert text.count("word") < 100


def test_dkim_signature_verifies_and_covers_list_unsubscribe(
    make_config: Any, clock: FakeClock, tmp_path: Path
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "dkim.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    dns_record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    dkim_settings = {
        "dkim_domain": "example.org",
        "dkim_selector": "mail",
        "dkim_private_key_path": str(key_file),
    }
    with smtp_server() as (recorder, port):
        core = build_core(make_config(email={**smtp_email_config(port), **dkim_settings}), clock)
        try:
            add_feed(core)
            reader_with_one_new_post(core, clock)
            worker.tick(core)
        finally:
            core.close()
    (received,) = recorder.received
    signature = received.message["DKIM-Signature"]
    signed = re.search(r"h=([^;]+)", signature.replace("\r\n", "").replace(" ", "")).group(1)
    assert {"list-unsubscribe", "list-unsubscribe-post", "from", "subject"} <= set(
        signed.lower().split(":")
    )

    def dns(name: bytes, timeout: int = 5) -> bytes:
        return dns_record if name == b"mail._domainkey.example.org." else b""

    assert dkim.verify(received.data, dnsfunc=dns)
    tampered = received.data.replace(b"List-Unsubscribe-Post: ", b"List-Unsubscribe-Post:  ")
    tampered = tampered.replace(b"/unsubscribe/", b"/unsubscribx/", 1)
    assert not dkim.verify(tampered, dnsfunc=dns)


def test_a_resent_digest_carries_the_same_message_id(make_config: Any, clock: FakeClock) -> None:
    with smtp_server() as (recorder, port):
        recorder.data_rule = lambda _address: "451 4.3.0 try again later"
        core = build_core(make_config(email=smtp_email_config(port)), clock)
        try:
            add_feed(core)
            reader_with_one_new_post(core, clock)
            digests.plan_due(core)
            first = sender.send_pending(core)
            recorder.data_rule = None
            clock.advance(hours=2)
            second = sender.send_pending(core)
        finally:
            core.close()
    (refused,) = recorder.refused
    (accepted,) = recorder.received
    assert (first.deferred, second.sent) == (1, 1)
    assert accepted.message["Message-ID"] == refused.message["Message-ID"]
    assert accepted.data == refused.data  # byte for byte the same mail


@pytest.mark.parametrize(
    ("email", "key"),
    [
        ({"dkim_domain": "example.org"}, "email.dkim_selector"),
        ({"smtp": {"timeout_seconds": 0}}, "email.smtp.timeout_seconds"),
        ({"lease_seconds": 0}, "email.lease_seconds"),
    ],
)
def test_unusable_mail_settings_are_refused_at_start(email: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as error:
        config_module.from_mapping({"email": email}, source="config.toml", env={})
    assert error.value.key == key


def test_the_text_part_keeps_lists_quotes_code_and_where_links_lead() -> None:
    html = (
        "<p>Read <a href='https://x.org/a'>this</a>, or <a href='https://x.org/'>https://x.org/</a>."
        "<br>Then <img src='d.jpg' alt='a dolphin'>.</p>"
        "<ul><li>One</li><li>Two</li></ul><ol><li>First</li><li>Second</li></ol>"
        "<blockquote><p>It's not you; it's them!</p></blockquote>"
        "<pre><code>indent:\n    kept\n</code></pre>"
    )
    assert textpart.from_html(html) == (
        "Read this <https://x.org/a>, or https://x.org/.\nThen a dolphin.\n\n"
        "- One\n- Two\n\n1. First\n2. Second\n\n"
        "> It's not you; it's them!\n\n"
        "indent:\n    kept"
    )
