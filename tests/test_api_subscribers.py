"""The admin API's /api/subscribers routes, and the same domain through the CLI."""

from __future__ import annotations

import csv
import mailbox
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from api_support import ADMIN, AUTH, Api, api  # noqa: F401  (fixtures)
from click.testing import CliRunner

from syndicator.cli import cli
from syndicator.mail import sender

pytestmark = pytest.mark.config(admin=ADMIN)  # every core here has the admin token


def add(api: Api, email: str, **fields: Any) -> Any:  # noqa: F811
    return api.post("/api/subscribers", json={"email": email, "feed": "news", **fields})


def test_create_imports_confirmed_or_starts_opt_in(api: Api, tmp_path: Path) -> None:  # noqa: F811
    imported = add(api, "Old.Reader@Example.org", confirmed=True, frequency="weekly")
    opted_in = add(api, "new@example.org")
    assert imported.status_code == 201
    body = imported.get_json()
    assert body["email"] == "old.reader@example.org"
    assert (body["status"], body["frequency"], body["feed"]) == ("confirmed", "weekly", "news")
    assert "token" not in str(body)
    assert imported.headers["Location"].endswith(f"/api/subscribers/{body['id']}")
    assert opted_in.get_json()["status"] == "unconfirmed"
    idn = add(api, "Zoe@Bücher.example", confirmed=True).get_json()
    assert idn["email"] == "zoe@xn--bcher-kva.example"  # mail headers and relays take ASCII
    sender.send_pending(api.client.application.extensions["syndicator"])
    box = mailbox.Maildir(tmp_path / "mail", create=False)
    assert [m["To"] for m in box] == ["new@example.org"]  # no mail to the imported address


def test_create_refuses_bad_input_and_duplicates(api: Api) -> None:  # noqa: F811
    add(api, "ann@example.org")
    duplicate = add(api, "ANN@example.org")
    bad = api.post("/api/subscribers", json={"email": "nope", "feed": "news", "x": 1})
    missing = api.post("/api/subscribers", json={"confirmed": "yes"})
    unknown_feed = add(api, "bob@example.org", feed="nope")
    assert duplicate.status_code == 409
    assert bad.status_code == 422 and set(bad.get_json()["error"]["fields"]) == {"x"}
    assert set(missing.get_json()["error"]["fields"]) == {"email", "feed", "confirmed"}
    assert unknown_feed.status_code == 404
    assert (
        api.post("/api/subscribers", data="{", content_type="application/json").status_code == 400
    )


def test_list_filters_and_pages_with_a_cursor(api: Api) -> None:  # noqa: F811
    for n in range(5):
        add(api, f"r{n}@example.org", confirmed=n % 2 == 0)
    first = api.get("/api/subscribers?status=confirmed&limit=2").get_json()
    second = api.get(f"/api/subscribers?status=confirmed&limit=2&cursor={first['next_cursor']}")
    emails = [item["email"] for item in first["items"] + second.get_json()["items"]]
    assert emails == ["r0@example.org", "r2@example.org", "r4@example.org"]
    assert second.get_json()["next_cursor"] is None
    assert len(api.get("/api/subscribers?feed=news").get_json()["items"]) == 5
    assert api.get("/api/subscribers?feed=other").get_json()["items"] == []
    assert api.get("/api/subscribers?status=asleep").status_code == 422


def test_get_and_delete(api: Api) -> None:  # noqa: F811
    created = add(api, "ann@example.org").get_json()
    path = f"/api/subscribers/{created['id']}"
    assert api.get(path).get_json() == created
    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404
    assert api.delete(path).status_code == 404


def test_routes_need_the_token_and_match_the_openapi_document(api: Api) -> None:  # noqa: F811
    assert api.client.get("/api/subscribers").status_code == 401
    document = api.client.get("/api/openapi.json").get_json()
    assert {"get", "post"} <= set(document["paths"]["/api/subscribers"])
    assert {"get", "delete"} <= set(document["paths"]["/api/subscribers/{subscriber_id}"])
    created = add(api, "ann@example.org").get_json()
    listed = api.get("/api/subscribers").get_json()
    schemas = {"components": document["components"]}
    subscriber_schema = {**document["components"]["schemas"]["Subscriber"], **schemas}
    jsonschema.validate(created, subscriber_schema)
    page = document["paths"]["/api/subscribers"]["get"]["responses"]["200"]
    jsonschema.validate(listed, {**page["content"]["application/json"]["schema"], **schemas})


def test_cli_add_import_list_export_remove_and_send(
    make_config: Any,
    blog: Any,
    tmp_path: Path,
    sync: Any,
) -> None:
    blog.feed("news")
    sync()
    config_file = tmp_path / "config.toml"
    database_url = make_config().storage.database_url
    config_file.write_text(
        f'[storage]\ndatabase_url = "{database_url}"\ncontent_dir = "{blog.root}"\n'
        f'[email]\nmaildir = "{tmp_path / "mail"}"\n',
        encoding="utf-8",
    )
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(cli, ["--config", str(config_file), *args], catch_exceptions=False)

    source = tmp_path / "list.csv"
    source.write_text(
        "email,frequency\nann@example.org,weekly\nbob@example.org,\nnot an address,\n",
        encoding="utf-8",
    )
    added = run("subscribers", "add", "cat@example.org", "--feed", "news")
    imported = run("subscribers", "import", str(source), "--feed", "news")
    again = run("subscribers", "import", str(source), "--feed", "news")
    listed = run("subscribers", "list", "--status", "confirmed")
    removed = run("subscribers", "remove", "BOB@example.org", "--feed", "news")
    exported = run("subscribers", "export", str(tmp_path / "out.csv"))
    sent = run("digest", "send", "--force")
    assert added.exit_code == 0, added.output
    assert imported.exit_code == 1 and "imported 2, already known 0, bad rows 1" in imported.output
    assert "list.csv:4" in imported.output
    assert "imported 0, already known 2" in again.output
    assert [line.split("\t")[2:] for line in listed.output.splitlines()] == [
        ["ann@example.org", "weekly", "confirmed"],
        ["bob@example.org", "daily", "confirmed"],
    ]
    assert removed.exit_code == 0
    assert "exported 2 subscribers" in exported.output
    rows = list(csv.DictReader((tmp_path / "out.csv").open(encoding="utf-8")))
    assert [(r["email"], r["status"]) for r in rows] == [
        ("cat@example.org", "unconfirmed"),
        ("ann@example.org", "confirmed"),
    ]
    assert sent.exit_code == 0 and "mail sent 1" in sent.output  # cat's confirmation mail
    (tmp_path / "latin1.csv").write_bytes("email\nzo\xeb@example.org\n".encode("latin-1"))
    unreadable = run("subscribers", "import", str(tmp_path / "latin1.csv"), "--feed", "news")
    assert unreadable.exit_code == 1 and "cannot read it as CSV" in unreadable.output
    missing = run("subscribers", "remove", "zed@example.org", "--feed", "news")
    assert missing.exit_code != 0 and "not subscribed" in missing.output
