"""The command line, run as a user runs it: a real process, real files, a real server."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import feedparser
import pytest
import requests
from factories import SHIPPED_TITLE, shipped_blog


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "syndicator", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def site(tmp_path: Path, blog) -> Path:
    """A working directory with a config.toml pointing at the test's content folder."""
    (tmp_path / "config.toml").write_text(
        f'[storage]\ncontent_dir = "{blog.root}"\ndatabase_url = "sqlite:///instance/site.db"\n'
    )
    return tmp_path


def test_bad_config_is_one_line_naming_file_and_key_without_traceback(tmp_path):
    (tmp_path / "config.toml").write_text("[feeds]\nitems = 'many'\n")
    result = run("import", cwd=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "config.toml" in lines[0] and "feeds.items" in lines[0]
    assert "Traceback" not in result.stderr


def test_config_option_is_accepted_before_and_after_the_subcommand(tmp_path, blog):
    blog.post("hello")
    path = tmp_path / "elsewhere.toml"
    path.write_text(f'[storage]\ncontent_dir = "{blog.root}"\n')
    before = run("--config", str(path), "import", cwd=tmp_path)
    after = run("import", "--config", str(path), cwd=tmp_path)
    assert before.returncode == after.returncode == 0, before.stderr + after.stderr
    assert "1 created" in before.stdout
    assert "1 unchanged" in after.stdout
    between = run("posts", "--config", str(path), "list", cwd=tmp_path)  # after the group
    assert between.returncode == 0, between.stderr
    assert "/news/hello/" in between.stdout


def test_import_reports_each_bad_file_and_exits_1_after_importing_the_good(site, blog):
    blog.post("good")
    blog.raw("broken", b"---\ntitle: [oops\n---\n")
    result = run("import", cwd=site)
    assert result.returncode == 1
    assert "news/posts/broken.md" in result.stderr
    assert "1 created" in result.stdout
    assert "Traceback" not in result.stderr


def test_db_upgrade_says_what_it_did(site):
    created = run("db", "upgrade", cwd=site)
    again = run("db", "upgrade", cwd=site)
    assert created.returncode == again.returncode == 0, created.stderr + again.stderr
    assert created.stdout.startswith("created the database schema (revision ")
    assert str(site / "instance" / "site.db") in created.stdout
    assert again.stdout.startswith("the database schema is up to date (revision ")


def test_import_without_a_content_folder_says_so(tmp_path):
    result = run("import", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"syndicator: the content folder {tmp_path / 'feeds'} does not exist; nothing was imported"
    ]


def test_an_unknown_feed_is_named_with_the_feeds_there_are(site, blog):
    blog.post("hello")
    blog.feed("other")
    assert run("import", cwd=site).returncode == 0
    for command in (("posts", "list"), ("subscribers", "list"), ("digest", "send")):
        result = run(*command, "--feed", "nofeed", cwd=site)
        assert result.returncode != 0
        assert result.stderr.strip().splitlines()[-1] == (
            "syndicator: no feed named 'nofeed'; the feeds are: news, other"
        ), command


def test_subscriber_commands_write_csv_to_stdout_and_fail_in_one_line(site, blog):
    blog.post("hello")
    assert run("import", cwd=site).returncode == 0
    assert run("subscribers", "add", "ann@example.org", "--feed", "news", cwd=site).returncode == 0
    exported = run("subscribers", "export", "-", cwd=site)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.splitlines()[0] == "email,feed,frequency,status,created_at,confirmed_at"
    assert exported.stdout.splitlines()[1].startswith("ann@example.org,news,daily,unconfirmed,")
    assert exported.stderr.strip() == "exported 1 subscribers to standard output"
    assert not (site / "-").exists()
    removed = run("subscribers", "remove", "bob@example.org", "--feed", "news", cwd=site)
    assert removed.returncode == 1
    assert removed.stderr == "syndicator: bob@example.org is not subscribed to news\n"


def test_webhooks_add_prints_why_an_endpoint_is_refused(site, blog):
    blog.post("hello")
    assert run("import", cwd=site).returncode == 0
    result = run("webhooks", "add", "ftp://example.org/hook", "--feed", "nope", cwd=site)
    assert result.returncode != 0
    (line,) = result.stderr.strip().splitlines()
    assert "url: only http:// and https:// URLs can receive webhooks" in line
    assert "feeds: no feed named 'nope'; the feeds are: news" in line


def test_mail_commands_warn_when_the_sender_cannot_be_delivered(site, blog):
    """Without [email] from, mail comes from the site's domain; localhost draws a warning."""
    blog.post("hello")
    warned = run("digest", "send", cwd=site)
    assert warned.returncode == 0, warned.stderr
    assert warned.stderr.startswith(
        "syndicator: warning: mail is sent from 'syndicator <noreply@localhost>', which mail"
        " servers will refuse: localhost is this machine, not a mail domain."
    )
    config = (site / "config.toml").read_text() + '[site]\nbase_url = "https://blog.example.org"\n'
    (site / "config.toml").write_text(config)
    quiet = run("digest", "send", cwd=site)
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_db_upgrade_and_tick_run_and_exit_0(site):
    assert run("db", "upgrade", cwd=site).returncode == 0
    result = run("tick", cwd=site)
    assert result.returncode == 0, result.stderr
    assert "went live" in result.stdout


def test_export_writes_the_static_site(site, blog):
    blog.post("hello")
    result = run("export", str(site / "out"), cwd=site)
    assert result.returncode == 0, result.stderr
    assert (site / "out" / "news" / "hello" / "index.html").is_file()
    assert feedparser.parse((site / "out" / "news" / "atom.xml").read_bytes()).bozo == 0
    # Fetching the site is nobody's visit: no access-log line a page (160,000 at 100k posts).
    assert '"GET /' not in result.stderr


def test_a_second_export_writes_only_what_changed(site, blog):
    blog.post("hello", date="2026-01-01T09:00:00Z")
    first = run("export", str(site / "out"), cwd=site)
    assert first.returncode == 0, first.stderr
    again = run("export", str(site / "out"), "--incremental", cwd=site)
    assert again.returncode == 0, again.stderr
    assert " 0 written, " in again.stdout and " 0 removed" in again.stdout
    blog.post("later", date="2026-01-02T09:00:00Z")
    third = run("export", str(site / "out"), cwd=site)
    assert (site / "out" / "news" / "later" / "index.html").is_file()
    assert " 0 written, " not in third.stdout
    full = run("export", str(site / "out"), "--full", cwd=site)
    assert full.returncode == 0 and " 0 written, " in full.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_on_the_defaults_serves_the_shipped_blog(tmp_path):
    """The README's run command in a fresh folder: the shipped blog, three valid feeds."""
    shipped_blog(tmp_path / "feeds")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "syndicator", "serve", "--port", str(port)],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "SYNDICATOR_CONFIG"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        home = requests.get(base + "/", timeout=5)
        assert "Phone Tuning" in home.text
        for name in ("atom.xml", "rss.xml"):
            parsed = feedparser.parse(
                requests.get(f"{base}/from-the-waters/{name}", timeout=5).content
            )
            assert parsed.bozo == 0
            assert parsed.entries[0].title == SHIPPED_TITLE
        json_feed = requests.get(base + "/from-the-waters/feed.json", timeout=5).json()
        assert json_feed["items"][0]["title"] == SHIPPED_TITLE
        assert (tmp_path / "instance" / "syndicator.db").is_file()
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_worker_process_publishes_a_scheduled_post_within_the_poll_interval(tmp_path, blog):
    """A real `syndicator worker`: the post's date passes and it goes live on the next poll."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import create_engine, text

    due_at = datetime.now(UTC) + timedelta(seconds=3)
    blog.post("soon", date=due_at.isoformat())
    database = tmp_path / "worker.db"
    (tmp_path / "config.toml").write_text(
        f'[storage]\ncontent_dir = "{blog.root}"\ndatabase_url = "sqlite:///{database}"\n'
        "[scheduler]\npoll_seconds = 0.5\n"
    )
    assert run("import", cwd=tmp_path).returncode == 0
    process = subprocess.Popen(
        [sys.executable, "-m", "syndicator", "worker"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    engine = create_engine(f"sqlite:///{database}")
    try:
        assert "polling every 0.5s" in process.stdout.readline()
        ready_at = datetime.now(UTC)
        deadline = time.monotonic() + 20
        while True:
            with engine.connect() as connection:
                live = connection.execute(text("SELECT went_live_at FROM posts")).scalar()
            if live is not None:
                break
            assert time.monotonic() < deadline, "the worker never published the post"
            time.sleep(0.1)
        went_live_at = datetime.fromisoformat(str(live)).replace(tzinfo=UTC)
        assert due_at <= went_live_at <= max(due_at, ready_at) + timedelta(seconds=1.5)
    finally:
        process.terminate()
        process.wait(timeout=20)
        engine.dispose()
