# ruff: noqa: F811  (pytest fixtures imported from api_support)
"""`syndicator posts`: the same operations as the API, from a terminal, on the same database."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import feedcheck
import pytest
from api_support import ADMIN, api  # noqa: F401
from click.testing import CliRunner

from syndicator.cli import cli

pytestmark = pytest.mark.config(admin=ADMIN)  # every core here has the admin token


@pytest.fixture
def config_file(tmp_path, database_url, blog):
    """A config file pointing the CLI at the database and content folder the test uses."""
    path = tmp_path / "cli.toml"
    path.write_text(
        f"[storage]\ndatabase_url = {json.dumps(database_url)}\n"
        f"content_dir = {json.dumps(str(blog.root))}\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def run(config_file):
    def invoke(*args: str, input: str | None = None):
        return CliRunner().invoke(cli, ["--config", str(config_file), "posts", *args], input=input)

    return invoke


def run_process(config_file, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "syndicator", "--config", str(config_file), "posts", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def feed_titles(api) -> list[str]:
    # The CLI changed the database from outside this app: drop what it read of the versions.
    api.client.application.extensions["syndicator"].versions.invalidate()
    return [e.title for e in feedcheck.read_back(api.client.get("/news/atom.xml").data).entries]


def test_list_shows_posts_newest_first_and_filters_like_the_api(api, run):
    old = api.create(title="Old one", published="2026-01-01T00:00:00Z", tags=["sea"])
    api.create(title="Draft one", status="draft", published="2026-02-01T00:00:00Z")
    result = run("list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert ["Draft one" in lines[0], "Old one" in lines[1], len(lines)] == [True, True, 2]
    assert "draft" in lines[0] and "http://127.0.0.1:8000/news/old-one/" in lines[1]
    tagged = run("list", "--tag", "sea", "--status", "published", "--json")
    assert [json.loads(line)["id"] for line in tagged.output.splitlines()] == [old["id"]]
    assert run("list", "--feed", "elsewhere").exit_code != 0


def test_list_by_tag_without_a_feed_looks_in_every_feed(api, blog, sync, run):
    blog.feed("other")
    sync()
    old = api.create(title="Old", published="2026-01-01T00:00:00Z", tags=["Sea"])
    draft = api.create(
        title="Draft", status="draft", published="2026-02-01T00:00:00Z", tags=["sea"]
    )
    there = api.create("other", title="There", published="2026-03-01T00:00:00Z", tags=["sea"])
    api.create(title="Dry", published="2026-04-01T00:00:00Z", tags=["land"])
    gone = api.create("other", title="Gone", published="2026-05-01T00:00:00Z", tags=["sea"])
    assert api.delete(f"/api/posts/{gone['id']}").status_code == 204
    tagged = run("list", "--tag", "Sea", "--json")
    assert tagged.exit_code == 0, tagged.output
    found = [json.loads(line)["id"] for line in tagged.output.splitlines()]
    assert found == [there["id"], draft["id"], old["id"]]


def test_list_pages_through_many_posts(api, run):
    for n in range(1, 4):
        api.create(title=f"Post {n}", published=f"2026-01-0{n}T00:00:00Z")
    first = run("list", "--limit", "2").output.splitlines()
    assert "Post 3" in first[0] and "Post 2" in first[1] and first[2] == "(more: --page 2)"
    second = run("list", "--limit", "2", "--page", "2").output.splitlines()
    assert len(second) == 1 and "Post 1" in second[0]


def test_show_prints_exactly_what_the_api_returns(api, run):
    post = api.create(title="Shown", content="Body", published="2026-01-01T00:00:00Z")
    result = run("show", str(post["id"]))
    assert result.exit_code == 0
    assert json.loads(result.output) == api.get(f"/api/posts/{post['id']}").get_json()


def test_unpublish_and_publish_take_the_post_out_of_and_back_into_the_feeds(api, run):
    post = api.create(title="Toggled", published="2026-01-01T00:00:00Z")
    result = run("unpublish", str(post["id"]))
    assert result.output.strip() == f"post {post['id']} is draft: {post['url']}"
    assert feed_titles(api) == []
    assert run("publish", str(post["id"])).exit_code == 0
    assert feed_titles(api) == ["Toggled"]
    again = api.get(f"/api/posts/{post['id']}").get_json()
    assert (again["guid"], again["published"]) == (post["guid"], post["published"])


def test_publish_makes_a_scheduled_post_live_now(api, run):
    """The command runs on the real clock (the test's app on a fixed one): read it back there."""
    post = api.create(title="Soon", published="2099-01-01T00:00:00Z")
    before = datetime.now(UTC).replace(microsecond=0)
    result = run("publish", str(post["id"]))
    assert result.output.strip() == f"post {post['id']} is published: {post['url']}"
    shown = json.loads(run("show", str(post["id"])).output)
    published = datetime.fromisoformat(shown["published"])
    assert shown["status"] == "published"
    assert before <= published <= datetime.now(UTC)
    assert "Soon" in run("list", "--status", "published").output


def test_publish_at_a_future_time_schedules_the_post(api, run):
    post = api.create(title="Later", status="draft", published="2026-01-01T00:00:00Z")
    result = run("publish", str(post["id"]), "--at", "2099-01-01T09:00:00+01:00")
    assert "scheduled for 2099-01-01T08:00:00Z" in result.output
    assert api.get(f"/api/posts/{post['id']}").get_json()["status"] == "scheduled"
    bad = run("publish", str(post["id"]), "--at", "tomorrow")
    assert bad.exit_code == 2 and "RFC 3339" in bad.output


def test_delete_asks_first_and_then_removes_the_post_everywhere(api, run):
    post = api.create(title="Doomed", published="2026-01-01T00:00:00Z")
    declined = run("delete", str(post["id"]), input="n\n")
    assert declined.exit_code != 0 and feed_titles(api) == ["Doomed"]
    assert run("delete", str(post["id"]), "--yes").output.strip() == f"post {post['id']} deleted"
    assert feed_titles(api) == []
    assert api.client.get("/news/doomed/").status_code == 410


def test_user_errors_are_one_line_naming_the_problem(api, blog, sync, config_file):
    blog.post("owned", title="Owned by a file")
    sync()
    (item,) = api.get("/api/feeds/news/posts").get_json()["items"]
    refused = run_process(config_file, "delete", str(item["id"]), "--yes")
    assert refused.returncode != 0
    assert refused.stderr.strip().splitlines() == [
        f"syndicator: post {item['id']} comes from the file news/posts/owned.md in the"
        " content folder; edit or delete that file instead"
    ]
    missing = run_process(config_file, "show", "424242")
    assert missing.returncode != 0
    assert missing.stderr.strip() == "syndicator: no post with id 424242"
