"""From stored rows to the plain documents the renderers and templates take.

One listing (a feed or one tag of it, one page) becomes a `formats.FeedDocument`
per format; the HTML pages use the same `Listing`, so a page and its feeds can
never disagree about which posts they show.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from syndicator import markup
from syndicator.feeds import catalog, formats, podcast
from syndicator.media import links
from syndicator.media import store as media
from syndicator.models import Feed, Media, Post
from syndicator.posts import attachments, store
from syndicator.urls import Urls

Files = Mapping[media.Key, Media]


@dataclass(frozen=True)
class Listing:
    """One page of one feed or tag, with what is needed to render it any way."""

    feed: Feed
    tag: str | None
    tag_name: str | None
    page: store.Page
    files: Files
    # Entries already made from this listing, by (urls, full_content): the same in every
    # format, so a listing rendered in several (the export's) makes them once.
    _entries: dict[tuple[Urls, bool], tuple[formats.Entry, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def title(self) -> str:
        return f"{self.feed.title}: {self.tag_name}" if self.tag_name else self.feed.title

    def entries(self, urls: Urls, *, full_content: bool) -> tuple[formats.Entry, ...]:
        """The page's posts as feed entries."""
        made = self._entries.get((urls, full_content))
        if made is None:
            made = tuple(
                entry(post, self.feed, urls, full_content=full_content, files=self.files)
                for post in self.page.posts
            )
            self._entries[urls, full_content] = made
        return made


def listing(
    session: Session, feed_slug: str, *, tag: str | None, number: int, per_page: int, now: datetime
) -> Listing:
    """Load a listing; FeedNotFound / NotFound when the feed, tag or page does not exist."""
    feed = catalog.get(session, feed_slug)
    tag_name = store.tag_name(session, feed_slug, tag, now) if tag is not None else None
    page = store.page(session, feed_slug, number=number, per_page=per_page, now=now, tag=tag)
    return Listing(feed, tag, tag_name, page, files_of(session, feed_slug, page.posts))


def files_of(session: Session, feed_slug: str, posts: list[Post]) -> Files:
    """The media files the posts' attachments may name (none loaded when none has any)."""
    with_files = [post.id for post in posts if post.attachments]
    return media.of_posts(session, feed_slug, with_files) if with_files else {}


def last_modified(listing: Listing) -> datetime:
    """When the listing last changed, at the latest: the feed's last write, an update of
    one of its posts, or the coming due of the feed's newest post (which moved every page)."""
    page = listing.page
    moments = [listing.feed.changed_at, *(post.updated_at for post in page.posts)]
    return max(moments + ([page.newest_at] if page.newest_at else []))


def feed_document(
    listing: Listing, fmt: str, urls: Urls, *, full_content: bool
) -> formats.FeedDocument:
    feed, tag, page = listing.feed, listing.tag, listing.page
    entries = listing.entries(urls, full_content=full_content)
    newest = max((item.updated_at for item in entries), default=feed.changed_at)
    return formats.FeedDocument(
        id=urls.listing(feed.slug, tag),
        title=listing.title,
        subtitle=feed.subtitle,
        language=feed.language,
        html_url=urls.listing(feed.slug, tag, page.number),
        self_url=urls.feed(feed.slug, fmt, tag, page.number),
        updated_at=newest,
        authors=_feed_authors(feed),
        icon=feed.icon,
        entries=entries,
        paging=_paging(listing, fmt, urls),
        podcast=_podcast(feed, urls) if tag is None else None,
        hub_urls=urls.hubs() if page.number == 1 else (),
    )


def _podcast(feed: Feed, urls: Urls) -> podcast.Settings | None:
    """A podcast feed's show; a tag's feed is not the podcast (it would share its guid)."""
    show = podcast.loaded(feed.podcast)
    if show is None:
        return None
    image = show.image
    if not urlsplit(image).scheme:
        image = urls.media(feed.slug, image.removeprefix(links.MEDIA_FOLDER + "/"))
    guid = show.guid or podcast.guid_for(urls.feed(feed.slug, "rss"))
    return replace(show, image=image, guid=guid)


def _feed_authors(feed: Feed) -> tuple[formats.Person, ...]:
    if not feed.author_name:
        return ()
    return (formats.Person(feed.author_name, feed.author_email, feed.author_uri),)


def _paging(listing: Listing, fmt: str, urls: Urls) -> formats.Paging | None:
    page, slug, tag = listing.page, listing.feed.slug, listing.tag
    if page.total_pages == 1:
        return None
    return formats.Paging(
        first=urls.feed(slug, fmt, tag),
        last=urls.feed(slug, fmt, tag, page.total_pages),
        next=urls.feed(slug, fmt, tag, page.number + 1) if page.number < page.total_pages else None,
        previous=urls.feed(slug, fmt, tag, page.number - 1) if page.number > 1 else None,
    )


def byline(post: Post, feed: Feed) -> formats.Person | None:
    """Who wrote the post: its own author, else the feed's (feed.toml `[author]`).

    Posts sent through the API often name nobody; every format, page and mail
    then shows the blog's author rather than no one.
    """
    if post.author:
        return formats.Person(post.author)
    if feed.author_name:
        return formats.Person(feed.author_name, feed.author_email, feed.author_uri)
    return None


def entry(
    post: Post, feed: Feed, urls: Urls, *, full_content: bool, files: Files | None = None
) -> formats.Entry:
    """A post as a feed entry, its links made absolute against its permalink; `files`
    gives attachments their type and length (without it, file attachments are left out)."""
    url = urls.post(post.feed_slug, post.slug)
    author = byline(post, feed)
    return formats.Entry(
        guid=post.guid,
        url=url,
        title=post.title,
        content_html=markup.absolutize(post.content_html, url) if full_content else None,
        summary=post.summary or (None if full_content else markup.excerpt(post.content_html)),
        published_at=post.published_at,
        updated_at=post.updated_at,
        authors=(author,) if author else (),
        tags=tuple(
            formats.Tag(tag.name, urls.listing(post.feed_slug, tag.tag_slug)) for tag in post.tags
        ),
        enclosures=attachments.resolve(
            attachments.loaded(post.attachments), url, post.id, files or {}
        ),
        episode=post.episode,
        season=post.season,
    )
