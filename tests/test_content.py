"""Parsing post files: every bad file gets its path and a reason a writer can act on."""

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from syndicator.errors import BadPostFile
from syndicator.models import PostStatus
from syndicator.posts import files

DATA = Path(__file__).parent / "data" / "posts"
NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")


def parse(name: str, timezone: ZoneInfo = UTC_ZONE) -> files.PostFile:
    return files.parse_post(f"news/posts/{name}", (DATA / name).read_bytes(), timezone)


def test_yaml_front_matter_gives_title_date_tags_and_slug_from_file_name():
    parsed = parse("good.md")
    assert parsed.data.title == "Good post"
    assert parsed.data.published_at == datetime(2026, 2, 1, 10, 0, tzinfo=UTC)
    assert parsed.data.tags == ("alpha", "Beta Two")
    assert parsed.data.slug == "good"
    assert "Hello **world**." in parsed.data.content_source


def test_toml_front_matter_with_naive_date_is_read_in_the_site_timezone():
    parsed = parse("toml-front-matter.md", NEW_YORK)
    assert parsed.data.slug == "toml-post"
    # 08:30 in New York in February is 13:30 UTC.
    assert parsed.data.published_at == datetime(2026, 2, 2, 13, 30, tzinfo=UTC)


def test_leading_date_is_dropped_from_the_default_slug():
    raw = b"---\ntitle: T\ndate: 2026-01-01\n---\nx\n"
    parsed = files.parse_post("f/posts/2026-01-01-hello-there.md", raw, ZoneInfo("UTC"))
    assert parsed.data.slug == "hello-there"


def test_draft_flag_makes_a_draft():
    raw = b"---\ntitle: T\ndate: 2026-01-01\ndraft: true\n---\nx\n"
    assert files.parse_post("p.md", raw, ZoneInfo("UTC")).data.status == PostStatus.DRAFT


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("bad-yaml.md", "front matter is not valid YAML"),
        ("bad-toml.md", "front matter is not valid TOML"),
        ("no-title.md", "needs a 'title'"),
        ("no-date.md", "needs a 'date'"),
        ("bad-date.md", "'date' is not an ISO 8601 date"),
        ("no-front-matter.md", "no front matter"),
        ("not-utf8.md", "not UTF-8"),
        ("unknown-key.md", "unknown front matter key 'colour'"),
    ],
)
def test_bad_file_is_reported_with_its_path_and_reason(name: str, reason: str):
    with pytest.raises(BadPostFile) as caught:
        parse(name)
    assert caught.value.path == f"news/posts/{name}"
    assert reason in caught.value.reason


def test_same_bytes_give_the_same_hash_and_an_edit_changes_it():
    raw = (DATA / "good.md").read_bytes()
    assert files.file_hash(raw) == files.file_hash(bytes(raw))
    assert files.file_hash(raw) != files.file_hash(raw + b"\n")


def test_feed_settings_reject_unknown_keys(tmp_path: Path):
    path = tmp_path / "feed.toml"
    path.write_text('title = "T"\nfavourite = "x"\n')
    with pytest.raises(BadPostFile, match="unknown key 'favourite'"):
        files.parse_feed_settings(path)


def test_feed_settings_read_author_table(tmp_path: Path):
    path = tmp_path / "feed.toml"
    path.write_text('title = "T"\nlanguage = "en"\n[author]\nname = "A"\nemail = "a@example.com"\n')
    settings = files.parse_feed_settings(path)
    assert (settings.title, settings.author_name, settings.author_email) == (
        "T",
        "A",
        "a@example.com",
    )


def test_feed_settings_lose_characters_xml_forbids(tmp_path: Path):
    path = tmp_path / "feed.toml"
    path.write_text(
        'title = "Bell\\u0007 Feed"\nsubtitle = "a\\u001bb"\n[author]\nname = "N\\u0000"\n'
    )
    settings = files.parse_feed_settings(path)
    assert (settings.title, settings.subtitle, settings.author_name) == ("Bell Feed", "ab", "N")
