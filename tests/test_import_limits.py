"""Files whose values no column or calendar can hold are reported, and the rest imports.

On PostgreSQL slugs and ids are VARCHAR(200) (a language VARCHAR(35)); a date
whose UTC time falls outside year 1..9999 cannot be represented at all. Each
used to abort the whole import, so `serve` would not start.
"""

from __future__ import annotations

from sqlalchemy import select

from syndicator.models import Post

LONG = "a" * 201


def test_values_out_of_range_are_reported_per_file_and_the_rest_imports(blog, sync, core):
    blog.post("good")
    blog.post("late", date="9999-12-31T23:00:00-05:00")
    blog.post("early", date="0001-01-01T00:00:00+05:00")
    blog.post("edited", updated="9999-12-31T23:00:00-05:00")
    blog.post("long-slug", slug=LONG)
    blog.post("long-id", id="urn:" + LONG)
    blog.feed("b" * 201)
    blog.post("in-long-feed", feed="b" * 201)
    blog.feed("lang", language="x" * 36)

    report = sync()

    reasons = {error.path.rpartition("/")[2]: error.reason for error in report.errors}
    assert report.created == ["news/posts/good.md"]
    assert "'date' must be between" in reasons["late.md"]
    assert "'date' must be between" in reasons["early.md"]
    assert "'updated' must be between" in reasons["edited.md"]
    assert "slug must be at most" in reasons["long-slug.md"]
    assert "'id' must be at most 200" in reasons["long-id.md"]
    assert "must be at most" in reasons["b" * 201]
    assert "'language'" in reasons["feed.toml"] and "35" in reasons["feed.toml"]
    assert len(report.errors) == 7
    with core.reading() as session:
        assert session.scalars(select(Post.slug)).all() == ["good"]
