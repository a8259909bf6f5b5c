"""The public mail routes: subscribe form and JSON, confirm, unsubscribe, one-click.

The end-to-end test runs the real app on a real HTTP server with a real SMTP
server; the rest use Flask's client and the default Maildir transport.
"""

from __future__ import annotations

import mailbox
import re
import threading
import time
from pathlib import Path
from typing import Any

import lxml.html
import pytest
import requests
from factories import FakeClock, add_feed, build_core
from mail_support import free_port, smtp_server
from sqlalchemy import func, select, text
from werkzeug.serving import make_server

from syndicator import config as config_module
from syndicator import worker
from syndicator.mail import sender, subscriptions
from syndicator.models import Delivery, Subscriber, SubscriberStatus
from syndicator.web import create_app

EMAIL = "ann@example.org"


@pytest.fixture
def site(make_core: Any, make_feed: Any, tmp_path: Path) -> Site:
    """A core with generous rate limits, its Flask client, and the maildir it writes."""
    core = make_core(digest={"subscribe_limit_per_ip": 50, "subscribe_limit_per_email": 20})
    make_feed(core=core)
    return Site(core, create_app(core=core).test_client(), tmp_path / "mail")


class Site:
    def __init__(self, core: Any, client: Any, maildir: Path) -> None:
        self.core, self.client, self.maildir = core, client, maildir

    def subscribe(self, email: str = EMAIL, **extra: Any) -> Any:
        return self.client.post("/news/subscribe", json={"email": email, **extra})

    def mails(self) -> list[Any]:
        sender.send_pending(self.core)
        if not self.maildir.exists():
            return []
        return sorted(mailbox.Maildir(self.maildir, create=False), key=lambda m: m["Date"])

    def link(self, kind: str) -> str:
        text = self.mails()[-1].get_payload()[0].get_payload(decode=True).decode()
        return re.findall(rf"http://127\.0\.0\.1:8000(/{kind}/\S+)", text)[-1]

    def status(self, email: str = EMAIL) -> str:
        with self.core.reading() as session:
            return session.scalar(select(Subscriber.status).where(Subscriber.email == email))


def test_opt_in_digest_and_one_click_unsubscribe_through_the_running_app(
    make_core: Any, make_feed: Any, make_post: Any, clock: FakeClock
) -> None:
    web_port = free_port()
    base = f"http://127.0.0.1:{web_port}"
    with smtp_server() as (recorder, smtp_port):
        core = make_core(
            site={"base_url": base},
            email={
                "backend": "smtp",
                "from": "News <news@example.org>",
                "smtp": {"host": "127.0.0.1", "port": smtp_port, "security": "none"},
            },
        )
        make_feed(core=core)
        server = make_server("127.0.0.1", web_port, create_app(core=core), threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            page = requests.get(f"{base}/news/", timeout=5)
            assert 'action="/news/subscribe"' in page.text
            answer = requests.post(
                f"{base}/news/subscribe", data={"email": EMAIL, "frequency": "daily"}, timeout=5
            )
            assert answer.status_code == 200 and "Check your inbox" in answer.text
            worker.tick(core)
            (confirmation,) = recorder.to(EMAIL)
            text = confirmation.get_body(("plain",)).get_content()
            confirm_url = re.search(rf"{re.escape(base)}/confirm/\S+", text).group(0)
            assert "Confirm</button>" in requests.get(confirm_url, timeout=5).text
            assert "Subscription confirmed" in requests.post(confirm_url, timeout=5).text
            clock.advance(minutes=5)
            make_post("Post one", core=core)
            clock.advance(days=1)
            worker.tick(core)
            digest = recorder.to(EMAIL)[-1]
            assert digest["Subject"] == "News Feed: 1 new post"
            unsubscribe_url = digest["List-Unsubscribe"].strip("<>")
            one_click = requests.post(
                unsubscribe_url,
                data="List-Unsubscribe=One-Click",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                timeout=5,
            )
            assert one_click.status_code == 200
            clock.advance(minutes=5)
            make_post("Post two", core=core)
            clock.advance(days=1)
            worker.tick(core)
        finally:
            server.shutdown()
            thread.join()
    assert [m["Subject"] for m in recorder.to(EMAIL)] == [
        "Confirm your subscription to News Feed",
        "News Feed: 1 new post",
    ]


def test_the_answer_is_the_same_whether_or_not_the_address_is_known(site: Site) -> None:
    first = site.subscribe()
    again_unconfirmed = site.subscribe()
    site.client.post(site.link("confirm"))
    again_confirmed = site.subscribe()
    answers = [(r.status_code, r.get_json()) for r in (first, again_unconfirmed, again_confirmed)]
    assert answers[0][0] == 202
    assert answers[0] == answers[1] == answers[2]
    forms = [
        site.client.post("/news/subscribe", data={"email": email})
        for email in (EMAIL, "new@example.org")
    ]
    assert forms[0].headers["Location"] == forms[1].headers["Location"]
    assert forms[0].get_data() == forms[1].get_data()


def test_an_invalid_address_is_refused_and_nothing_is_queued(site: Site) -> None:
    answer = site.subscribe("not-an-address")
    form = site.client.post("/news/subscribe", data={"email": "ann@@example"})
    bad_frequency = site.subscribe(frequency="hourly")
    assert answer.status_code == 422 and "email" in answer.get_json()["error"]["fields"]
    assert form.status_code == 422
    page = form.get_data(as_text=True)
    assert "Email address" in page and 'value="ann@@example"' in page
    assert bad_frequency.status_code == 422
    assert bad_frequency.get_json()["error"]["fields"] == {"frequency": "must be daily or weekly"}
    with site.core.reading() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0


def test_form_posts_redirect_so_a_reload_sends_nothing_again(site: Site) -> None:
    """Subscribe, confirm and unsubscribe forms answer 303 to a page a reload only reads."""
    posted = site.client.post("/news/subscribe", data={"email": EMAIL, "frequency": "weekly"})
    assert posted.status_code == 303
    sent = posted.headers["Location"]
    assert sent == "http://127.0.0.1:8000/news/subscribe/sent"
    for _reload in range(3):
        page = site.client.get(sent.removeprefix("http://127.0.0.1:8000"))
        assert page.status_code == 200 and "Check your inbox" in page.get_data(as_text=True)
    assert len(site.mails()) == 1
    link = site.link("confirm")
    pressed = site.client.post(link)
    assert pressed.status_code == 303 and pressed.headers["Location"].endswith(link)
    shown = site.client.get(link).get_data(as_text=True)
    assert "Subscription confirmed" in shown and "<button" not in shown
    with site.core.reading() as session:
        token = session.scalar(select(Subscriber.unsubscribe_token))
    pressed = site.client.post(f"/unsubscribe/{token}")
    assert pressed.status_code == 303 and pressed.headers["Location"].endswith(f"/{token}")
    assert "Unsubscribed" in site.client.get(f"/unsubscribe/{token}").get_data(as_text=True)
    assert site.status() == SubscriberStatus.UNSUBSCRIBED


def test_a_form_with_an_error_is_shown_again_with_one_clean_sentence(site: Site) -> None:
    answer = site.client.post("/news/subscribe", data={"email": "ann.example.org"})
    assert answer.status_code == 422
    page = lxml.html.fromstring(answer.data)
    (alert,) = page.xpath('//*[@role="alert"]')
    assert alert.text_content() == "An email address must have an @-sign."
    blank = site.client.post("/news/subscribe", data={"email": " ", "frequency": "hourly"})
    (alert,) = lxml.html.fromstring(blank.data).xpath('//*[@role="alert"]')
    assert alert.text_content() == "The email address is required."
    # the page starts with its own heading, not with "Or get new posts by email"
    main = lxml.html.fromstring(answer.data).xpath("//main")[0]
    assert main.text_content().split()[:2] == ["Subscribe", "to"]
    assert "Or get new posts" not in main.text_content()


def test_unknown_feed_is_404(site: Site) -> None:
    as_json = site.client.post("/nope/subscribe", json={"email": EMAIL})
    assert as_json.status_code == 404
    assert as_json.get_json()["error"] == {
        "code": "not_found",
        "message": "no feed named 'nope'; the feeds are: news",
        "fields": {},
    }
    assert site.client.post("/nope/subscribe", data={"email": EMAIL}).status_code == 404


def test_subscribe_is_rate_limited_per_client_and_per_address(
    make_core: Any, make_feed: Any, clock: FakeClock
) -> None:
    core = make_core(digest={"subscribe_limit_per_ip": 3, "subscribe_limit_per_email": 2})
    make_feed(core=core)
    client = create_app(core=core).test_client()

    def post(email: str, ip: str) -> int:
        return client.post(
            "/news/subscribe", json={"email": email}, environ_base={"REMOTE_ADDR": ip}
        ).status_code

    per_address = [post(EMAIL, f"10.0.0.{n}") for n in range(3)]
    per_client = [post(f"r{n}@example.org", "10.9.9.9") for n in range(4)]
    limited = client.post(
        "/news/subscribe", json={"email": EMAIL}, environ_base={"REMOTE_ADDR": "10.0.0.7"}
    )
    clock.advance(hours=1, seconds=1)
    after_an_hour = post(EMAIL, "10.9.9.9")
    assert per_address == [202, 202, 429]
    assert per_client == [202, 202, 202, 429]
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert after_an_hour == 202


def test_following_the_confirmation_link_does_not_confirm_pressing_the_button_does(
    site: Site,
) -> None:
    site.subscribe()
    link = site.link("confirm")
    page = site.client.get(link)
    assert page.status_code == 200 and '<form method="post">' in page.get_data(as_text=True)
    assert EMAIL not in page.get_data(as_text=True)
    assert site.status() == SubscriberStatus.UNCONFIRMED
    assert site.client.post(link).status_code == 303
    assert site.client.post(link).status_code == 303  # idempotent
    assert site.status() == SubscriberStatus.CONFIRMED


def test_expired_confirmation_is_410_and_unknown_is_404(site: Site, clock: FakeClock) -> None:
    site.subscribe()
    link = site.link("confirm")
    clock.advance(days=7, seconds=1)
    assert site.client.get(link).status_code == 410
    assert site.client.post(link).status_code == 410
    assert site.client.get("/confirm/nonsense").status_code == 404
    assert site.client.post("/unsubscribe/nonsense").status_code == 404
    assert site.status() == SubscriberStatus.UNCONFIRMED


def test_unsubscribe_page_asks_first_and_the_post_unsubscribes(site: Site) -> None:
    site.subscribe()
    site.client.post(site.link("confirm"))
    with site.core.reading() as session:
        token = session.scalar(select(Subscriber.unsubscribe_token))
    page = site.client.get(f"/unsubscribe/{token}")
    assert "Unsubscribe</button>" in page.get_data(as_text=True)
    assert site.status() == SubscriberStatus.CONFIRMED
    one_click = site.client.post(
        f"/unsubscribe/{token}",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert one_click.status_code == 200
    assert site.client.post(f"/unsubscribe/{token}").status_code == 303  # idempotent
    assert site.status() == SubscriberStatus.UNSUBSCRIBED


def test_subscribing_again_after_unsubscribing_starts_a_new_opt_in(
    site: Site, clock: FakeClock
) -> None:
    site.subscribe()
    old_confirm = site.link("confirm")
    site.client.post(old_confirm)
    with site.core.reading() as session:
        old_token = session.scalar(select(Subscriber.unsubscribe_token))
    site.client.post(f"/unsubscribe/{old_token}")
    clock.advance(minutes=1)
    site.subscribe(frequency="weekly")
    new_confirm = site.link("confirm")
    assert site.status() == SubscriberStatus.UNCONFIRMED
    assert site.client.post(old_confirm).status_code == 404
    assert site.client.post(new_confirm).status_code == 303
    assert site.status() == SubscriberStatus.CONFIRMED
    assert len(site.mails()) == 2


def test_the_email_form_is_on_every_page_of_a_feed(
    site: Site, make_post: Any, clock: FakeClock
) -> None:
    make_post("Post one", tags=("Rivers",), core=site.core)
    clock.advance(minutes=1)
    for path in ("/news/", "/news/post-one/", "/news/tags/rivers/"):
        body = site.client.get(path).get_data(as_text=True)
        assert 'action="/news/subscribe"' in body and 'name="email"' in body, path


def test_two_simultaneous_requests_for_one_address_make_one_subscription(
    postgres_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    config = config_module.from_mapping(
        {"storage": {"database_url": postgres_url}, "email": {"maildir": str(tmp_path / "mail")}},
        base_dir=tmp_path,
        env={},
    )
    core = build_core(config, clock)
    add_feed(core)
    request = subscriptions.Request("news", EMAIL)
    outcome: dict[str, object] = {}

    def subscribe() -> None:
        with core.transaction() as session:
            subscriptions.subscribe(session, request, core.config, core.timezone, core.now())

    def second_request() -> None:
        try:
            subscribe()
            outcome["answer"] = "accepted"
        except Exception as error:  # what a web worker would have turned into a 500
            outcome["answer"] = repr(error)

    try:
        with core.transaction() as session:
            subscriptions.subscribe(session, request, core.config, core.timezone, core.now())
            rival = threading.Thread(target=second_request)
            rival.start()
            _wait_until_blocked(core)  # the rival's INSERT waits for this uncommitted row
        rival.join(timeout=10)
        with core.reading() as session:
            rows = session.scalar(select(func.count()).select_from(Subscriber))
            mails = session.scalar(select(func.count()).select_from(Delivery))
    finally:
        core.close()
    assert outcome == {"answer": "accepted"}
    # One subscription and one confirmation: the second request's replaced the first's
    # (the same work as for any known address, so timing cannot tell one from the other).
    assert (rows, mails) == (1, 1)


def test_two_racing_subscribes_for_a_new_address_send_one_confirmation_that_works(
    site: Site,
) -> None:
    """Two readers' clicks (or a double submit) at the same moment: one mail, whose link
    confirms, on SQLite and PostgreSQL."""
    start = threading.Barrier(2)
    answers: list[int] = []

    def subscribe(client: Any) -> None:
        start.wait(timeout=10)
        answers.append(client.post("/news/subscribe", json={"email": EMAIL}).status_code)

    # Apps built here, not in the threads: building two Flask apps at once trips
    # CPython 3.11's compile() (werkzeug compiles each route), which is not what is tested.
    clients = [create_app(core=site.core).test_client() for _ in range(2)]
    racers = [threading.Thread(target=subscribe, args=(client,)) for client in clients]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=30)
    assert answers == [202, 202]
    (mail,) = site.mails()
    assert mail["To"] == EMAIL
    text = mail.get_payload()[0].get_payload(decode=True).decode()
    (link,) = re.findall(r"http://127\.0\.0\.1:8000(/confirm/\S+)", text)
    assert site.client.post(link).status_code == 303
    assert site.status() == SubscriberStatus.CONFIRMED


def test_subscribing_again_before_the_mail_went_sends_only_the_newest_link(site: Site) -> None:
    """The first request's link stops working when the second makes new ones: only the
    mail with the working link goes."""
    assert site.subscribe().status_code == 202
    assert site.subscribe(frequency="weekly").status_code == 202
    (mail,) = site.mails()
    assert "weekly" in mail.get_payload()[0].get_payload(decode=True).decode()


def _wait_until_blocked(core: Any) -> None:
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE wait_event_type = 'Lock' AND datname = current_database() "
        "AND query LIKE '%INSERT INTO subscribers%'"
    )
    with core.engine.connect() as connection:
        for _poll in range(500):
            waiting = connection.execute(query).scalar()
            connection.rollback()  # pg_stat_activity is a snapshot held until the transaction ends
            if waiting:
                return
            time.sleep(0.01)
    raise AssertionError("the second request never waited for the first")
