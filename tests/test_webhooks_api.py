"""The /api/webhooks routes and `syndicator webhooks`, against real receivers."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import standardwebhooks
from click.testing import CliRunner
from factories import FakeClock
from webhook_support import FAST, Receiver, Reply, deliver, real_now

from syndicator import core as core_module
from syndicator.cli import cli
from syndicator.web import create_app

TOKEN = "webhook-admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


pytestmark = pytest.mark.config(admin={"token": TOKEN})  # every core here has this token


@pytest.fixture
def clock() -> FakeClock:
    """Receivers verify webhook timestamps against real time: the injected clock starts now."""
    return FakeClock(real_now())


@pytest.fixture
def hook_clock(clock: FakeClock) -> FakeClock:
    return clock


@pytest.fixture
def core(make_core: Callable[..., core_module.Core], make_feed: Any) -> core_module.Core:
    made = make_core(webhooks=FAST)
    make_feed(core=made)
    return made


@pytest.fixture
def api(core: core_module.Core) -> Any:
    client = create_app(core=core).test_client()

    def call(method: str, path: str, **kwargs: Any) -> Any:
        return client.open(path, method=method, headers=AUTH, **kwargs)

    return call


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as started:
        yield started


def create(api: Any, **fields: Any) -> dict[str, Any]:
    response = api("POST", "/api/webhooks", json=fields)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_create_returns_the_endpoint_with_a_fresh_secret_once(api, receiver) -> None:
    created = create(api, url=receiver.url(), events=["post.published"], description="CRM")
    assert created["secret"].startswith("whsec_")
    assert len(base64.b64decode(created["secret"].removeprefix("whsec_"))) == 32
    assert created["status"] == "active" and created["disabled_reason"] is None
    assert (created["events"], created["feeds"], created["description"]) == (
        ["post.published"], [], "CRM",
    )  # fmt: skip
    other = create(api, url=receiver.url("/two"))
    assert other["secret"] != created["secret"]
    listed = api("GET", "/api/webhooks").get_json()
    assert [item["id"] for item in listed["items"]] == [created["id"], other["id"]]
    assert listed["next_cursor"] is None
    shown = api("GET", f"/api/webhooks/{created['id']}").get_json()
    assert "secret" not in shown and all("secret" not in item for item in listed["items"])
    secret = api("GET", f"/api/webhooks/{created['id']}/secret").get_json()
    assert secret["secret"] == created["secret"]


def test_lists_page_with_a_cursor(api, receiver) -> None:
    ids = [create(api, url=receiver.url(f"/{n}"))["id"] for n in range(3)]
    first = api("GET", "/api/webhooks?limit=2").get_json()
    second = api("GET", f"/api/webhooks?limit=2&cursor={first['next_cursor']}").get_json()
    assert [i["id"] for i in first["items"] + second["items"]] == ids
    assert second["next_cursor"] is None


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({}, "url", "required"),
        ({"url": "ftp://example.com/"}, "url", "http"),
        ({"url": 5}, "url", "URL"),
        ({"url": "https://no-such-host.invalid/"}, "url", "cannot resolve"),
        ({"url": "https://example.com/", "events": ["post.eaten"]}, "events", "unknown event"),
        ({"url": "https://example.com/", "events": "post.published"}, "events", "list"),
        ({"url": "https://example.com/", "feeds": ["nope"]}, "feeds", "no feed"),
        ({"url": "https://example.com/", "colour": "red"}, "colour", "not a field"),
        ({"url": "https://example.com/", "status": "paused"}, "status", "one of active, disabled"),
    ],
)
def test_bad_fields_get_a_422_naming_them(api, fields, field, says) -> None:
    response = api("POST", "/api/webhooks", json=fields)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_input" and says in error["fields"][field]


def test_private_targets_are_refused_at_registration_unless_allowed(make_core, receiver) -> None:
    strict = make_core()
    client = create_app(core=strict).test_client()
    for url in (receiver.url(), "http://[::1]/x", "http://169.254.169.254/latest/meta-data"):
        response = client.post("/api/webhooks", json={"url": url}, headers=AUTH)
        assert response.status_code == 422
        message = response.get_json()["error"]["fields"]["url"]
        assert "public addresses" in message and "allow_private_targets" in message


def test_patch_changes_fields_and_re_enables(api, receiver) -> None:
    hook = create(api, url=receiver.url())
    path = f"/api/webhooks/{hook['id']}"
    disabled = api("PATCH", path, json={"status": "disabled", "description": "paused"}).get_json()
    assert (disabled["status"], disabled["description"]) == ("disabled", "paused")
    assert disabled["disabled_reason"] == "disabled by an administrator"
    enabled = api("PATCH", path, json={"status": "active", "feeds": ["news"]}).get_json()
    assert (enabled["status"], enabled["disabled_reason"], enabled["feeds"]) == (
        "active", None, ["news"],
    )  # fmt: skip
    assert api("PATCH", path, json={"url": "gopher://x"}).status_code == 422
    assert api("GET", path).get_json()["feeds"] == ["news"]


def test_delete_and_unknown_ids(api, receiver) -> None:
    hook = create(api, url=receiver.url())
    assert api("DELETE", f"/api/webhooks/{hook['id']}").status_code == 204
    for method, path in [
        ("GET", f"/api/webhooks/{hook['id']}"),
        ("PATCH", f"/api/webhooks/{hook['id']}"),
        ("DELETE", f"/api/webhooks/{hook['id']}"),
        ("POST", f"/api/webhooks/{hook['id']}/test"),
        ("POST", f"/api/webhooks/{hook['id']}/rotate-secret"),
        ("GET", f"/api/webhooks/{hook['id']}/deliveries"),
        ("POST", "/api/deliveries/999/retry"),
    ]:
        kwargs = {"json": {}} if method == "PATCH" else {}
        response = api(method, path, **kwargs)
        assert response.status_code == 404, (method, path)
        assert response.get_json()["error"]["code"] == "not_found"


def test_the_routes_need_the_admin_token(core) -> None:
    client = create_app(core=core).test_client()
    assert client.get("/api/webhooks").status_code == 401
    assert client.post("/api/webhooks", json={"url": "https://example.com/"}).status_code == 401


def test_test_sends_a_webhook_test_event_now(api, receiver) -> None:
    hook = create(api, url=receiver.url())
    result = api("POST", f"/api/webhooks/{hook['id']}/test").get_json()
    (request,) = receiver.received
    payload = standardwebhooks.Webhook(hook["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "webhook.test" and payload["data"]["endpoint"] == hook["id"]
    assert result["status"] == "succeeded" and result["event"] == "webhook.test"
    assert result["webhook_id"] == request.headers["webhook-id"]
    assert result["attempts"][0]["status_code"] == 200
    assert result["attempts"][0]["response"] == "ok"


def test_rotation_signs_with_both_keys_for_a_day(api, receiver, hook_clock) -> None:
    hook = create(api, url=receiver.url())
    rotated = api("POST", f"/api/webhooks/{hook['id']}/rotate-secret").get_json()
    assert rotated["secret"] != hook["secret"]
    api("POST", f"/api/webhooks/{hook['id']}/test")
    hook_clock.advance(hours=24, seconds=1)
    api("POST", f"/api/webhooks/{hook['id']}/test")
    during, after = receiver.received
    for secret in (hook["secret"], rotated["secret"]):
        assert _signed_by(secret, during)
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert _signed_by(rotated["secret"], after) and not _signed_by(hook["secret"], after)


def _when(request: Any) -> datetime:
    return datetime.fromtimestamp(int(request.headers["webhook-timestamp"]), tz=UTC)


def _signed_by(secret: str, request: Any) -> bool:
    """The package's own signature for this request is among those sent."""
    expected = standardwebhooks.Webhook(secret).sign(
        request.headers["webhook-id"], _when(request), request.body.decode()
    )
    return expected in request.headers["webhook-signature"].split(" ")


def test_deliveries_list_attempts_newest_first_and_retry_sends_again(
    make_core, make_feed, hook_clock
) -> None:
    answers = iter([500, 502, 200])
    with Receiver(lambda _r: Reply(status=next(answers), body=b"nope")) as receiver:
        core = make_core(webhooks={**FAST, "retry_schedule": [0, 1]})
        make_feed(core=core)
        client = create_app(core=core).test_client()
        hook = client.post("/api/webhooks", json={"url": receiver.url()}, headers=AUTH)
        hook_id = hook.get_json()["id"]
        post = client.post("/api/feeds/news/posts", json={"title": "Hi"}, headers=AUTH)
        assert post.status_code == 201, post.get_json()
        deliver(core)
        hook_clock.advance(seconds=2)
        deliver(core)
        listed = client.get(f"/api/webhooks/{hook_id}/deliveries", headers=AUTH).get_json()
        (item,) = listed["items"]
        assert (item["event"], item["status"]) == ("post.published", "failed")
        assert [a["status_code"] for a in item["attempts"]] == [502, 500]
        assert item["attempts"][0]["response"] == "nope"
        assert {"at", "duration_ms", "error"} <= set(item["attempts"][0])
        retried = client.post(f"/api/deliveries/{item['id']}/retry", headers=AUTH).get_json()
        assert retried["status"] == "succeeded"
        assert [a["status_code"] for a in retried["attempts"]] == [200, 502, 500]
        assert len({r.headers["webhook-id"] for r in receiver.received}) == 1


def test_the_cli_manages_endpoints(make_config, receiver, tmp_path: Path, database_url) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\ndatabase_url = "{database_url}"\ncontent_dir = "{tmp_path}"\n'
        f'[email]\nmaildir = "{tmp_path / "mail"}"\n'
        "[webhooks]\nallow_private_targets = true\ntimeout_seconds = 1\n",
        encoding="utf-8",
    )
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(cli, ["--config", str(config), "webhooks", *args])

    if "postgresql" in database_url:
        assert runner.invoke(cli, ["--config", str(config), "db", "upgrade"]).exit_code == 0
    added = run("add", receiver.url(), "--event", "post.published", "--description", "CRM")
    assert added.exit_code == 0, added.output
    assert "webhook 1 added" in added.output and "secret: whsec_" in added.output
    assert "whsec_" not in run("list").output
    assert "1\tactive" in run("list").output
    assert run("disable", "1").exit_code == 0
    assert "disabled by an administrator" in run("list").output
    assert run("test", "1").exit_code != 0  # disabled: refused, one line, no traceback
    assert run("enable", "1").exit_code == 0
    tested = run("test", "1")
    assert tested.exit_code == 0 and "HTTP 200" in tested.output
    assert len(receiver.received) == 1
    rotated = run("rotate", "1")
    assert rotated.exit_code == 0 and "secret: whsec_" in rotated.output
    bad = run("add", "ftp://example.com/")
    assert bad.exit_code != 0 and "Traceback" not in bad.output
    assert run("remove", "1").exit_code == 0
    assert run("list").output == ""


def test_deliveries_page_by_id_so_new_messages_shift_nothing(
    api, core, make_post, receiver
) -> None:
    hook = create(api, url=receiver.url())
    for number in range(5):
        make_post(f"Post {number}")
    deliver(core)
    path = f"/api/webhooks/{hook['id']}/deliveries?limit=2"
    first = api("GET", path).get_json()
    make_post("Newest")
    deliver(core)
    rest, cursor = [], first["next_cursor"]
    while cursor:
        page = api("GET", f"{path}&cursor={cursor}").get_json()
        rest += page["items"]
        cursor = page["next_cursor"]
    ids = [item["id"] for item in first["items"] + rest]
    assert len(ids) == len(set(ids)) == 5
    assert ids == sorted(ids, reverse=True)
