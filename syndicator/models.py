"""Tables. Every timestamp is stored as timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """A DateTime that refuses naive values and always comes back aware in UTC.

    SQLite has no time zones; storing naive UTC and re-attaching UTC on the way
    out gives both databases the same behaviour.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None) if _is_sqlite(dialect) else value

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _is_sqlite(dialect: object) -> bool:
    return getattr(dialect, "name", "") == "sqlite"


MAX_ID = 2**31 - 1  # ids are 32-bit INTEGER columns on PostgreSQL


def is_valid_id(value: int) -> bool:
    """Whether `value` can be a row id: a larger number would overflow the database driver."""
    return 0 < value <= MAX_ID


class Base(DeclarativeBase):
    pass


class PostStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class PostSource(StrEnum):
    FILE = "file"
    API = "api"


class Feed(Base):
    """A channel: one folder under feeds/, with a version stamp for caches."""

    __tablename__ = "feeds"

    slug: Mapped[str] = mapped_column(String(200), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    subtitle: Mapped[str | None] = mapped_column(Text)
    author_name: Mapped[str | None] = mapped_column(Text)
    author_email: Mapped[str | None] = mapped_column(Text)
    author_uri: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(35))
    link: Mapped[str | None] = mapped_column(Text)
    icon: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(Text)
    # The [podcast] table of feed.toml as JSON; set, the feed is a podcast.
    podcast: Mapped[str | None] = mapped_column(Text)
    # Bumped in the same transaction as any change that alters what the feed shows.
    version: Mapped[int] = mapped_column(Integer, default=1)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


_FILE_POSTS = "source = 'file' AND deleted_at IS NULL"


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("feed_slug", "slug", name="uq_posts_feed_slug"),
        # A feed's listed posts in the order readers see them (posts/listing.py).
        Index("ix_posts_listing", "feed_slug", "status", "published_at", "id"),
        # The import's stat pass reads only this index, never a post's body, and a
        # batch finds the posts its files made by (feed, path).
        Index(
            "ix_posts_files",
            "feed_slug",
            "source_path",
            "source",  # with deleted_at: SQLite then reads the index alone (covering)
            "deleted_at",
            "source_size",
            "source_mtime_ns",
            "id",
            sqlite_where=text(_FILE_POSTS),
            postgresql_where=text(_FILE_POSTS),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_slug: Mapped[str] = mapped_column(ForeignKey("feeds.slug", ondelete="CASCADE"))
    guid: Mapped[str] = mapped_column(String(200), unique=True)
    slug: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(Text)
    content_source: Mapped[str] = mapped_column(Text, default="")
    content_html: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=PostStatus.PUBLISHED)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When the post last became visible (published and due); cleared while it is hidden
    # (unpublished or moved to a future date), so showing it again announces it again.
    went_live_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The first time it ever went live; unlike went_live_at, never cleared.
    first_live_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(10), default=PostSource.API)
    source_path: Mapped[str | None] = mapped_column(Text)
    source_hash: Mapped[str | None] = mapped_column(String(64))
    # The file's size and modification time when it was last read: unchanged, not read again.
    source_size: Mapped[int | None] = mapped_column(BigInteger)
    source_mtime_ns: Mapped[int | None] = mapped_column(BigInteger)
    # Enclosures as JSON (a list of `posts.attachments.Attachment`), and podcast numbering.
    attachments: Mapped[str | None] = mapped_column(Text)
    episode: Mapped[int | None] = mapped_column(Integer)
    season: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    tags: Mapped[list[PostTag]] = relationship(
        back_populates="post",
        cascade="all, delete-orphan",
        order_by="PostTag.position",
        lazy="selectin",
    )

    @property
    def tag_names(self) -> list[str]:
        return [tag.name for tag in self.tags]


class PostTag(Base):
    """A post's tag. It repeats the post's feed, date and whether it is listed, so a
    tag's page is one walk of `ix_post_tags_listing` (posts/store.py keeps them equal)."""

    __tablename__ = "post_tags"
    __table_args__ = (
        Index("ix_post_tags_listing", "feed_slug", "tag_slug", "listed", "published_at", "post_id"),
        # SQLite keeps the rows in the primary key's b-tree, not a rowid table plus its copy.
        {"sqlite_with_rowid": False},
    )

    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    tag_slug: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)
    feed_slug: Mapped[str] = mapped_column(String(200))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Published and not deleted (posts/visibility.py::is_listed); visible once published_at is due.
    listed: Mapped[bool] = mapped_column(Boolean)

    post: Mapped[Post] = relationship(back_populates="tags")


class ListingCount(Base):
    """How many listed posts a feed (tag_slug "") or one of its tags has, in all
    (span "t") and per UTC year, month and day ("y2024", "m2024-05", "d2024-05-17").

    Kept in the transaction of every change (posts/counts.py); page counts and the
    start of page n are read from it instead of counting or skipping over posts.
    """

    __tablename__ = "listing_counts"
    __table_args__ = ({"sqlite_with_rowid": False},)  # rows in the primary key's b-tree (SQLite)

    feed_slug: Mapped[str] = mapped_column(
        ForeignKey("feeds.slug", ondelete="CASCADE"), primary_key=True
    )
    tag_slug: Mapped[str] = mapped_column(String(200), primary_key=True)
    span: Mapped[str] = mapped_column(String(12), primary_key=True)
    posts: Mapped[int] = mapped_column(Integer)


class Media(Base):
    """A file a post shows or carries: the feed's media folder (post_id None) or a bundle's.

    The bytes live in the row, so every web process on every host serves an
    upload at once; `data` is deferred and read in slices (`media.store.read`).
    """

    __tablename__ = "media"
    __table_args__ = (
        Index(
            "uq_media_feed_name",
            "feed_slug",
            "name",
            unique=True,
            sqlite_where=text("post_id IS NULL"),
            postgresql_where=text("post_id IS NULL"),
        ),
        Index(
            "uq_media_post_name",
            "post_id",
            "name",
            unique=True,
            sqlite_where=text("post_id IS NOT NULL"),
            postgresql_where=text("post_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_slug: Mapped[str] = mapped_column(ForeignKey("feeds.slug", ondelete="CASCADE"))
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    length: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(10), default=PostSource.API)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)


# --- Webhooks: endpoints and the event outbox ---


class EndpointStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class WebhookEndpoint(Base):
    """A receiver URL with its filters, signing secrets and health."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    # JSON lists; empty means "all".
    event_types: Mapped[str] = mapped_column(Text, default="[]")
    feed_slugs: Mapped[str] = mapped_column(Text, default="[]")
    secret: Mapped[str] = mapped_column(String(100))
    # The secret before the last rotation keeps signing until this moment.
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default=EndpointStatus.ACTIVE)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    # First failure since the last success: the clock of the disable-after-days rule.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


_WAITING = "fanned_out_at IS NULL"


class WebhookEvent(Base):
    """The outbox: written in the same transaction as the change it describes.

    `snapshot` is the post as it was then (JSON), or `{}` while the post's row
    still holds those values (`events.freeze` copies them before it changes);
    `body` is rendered from it once, at fan-out, and never changes after, so
    every attempt is identical.
    """

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ix_webhook_events_unfanned", "fanned_out_at"),
        # A post's events still waiting for fan-out, found when its HTML is about to change.
        Index(
            "ix_webhook_events_waiting_post",
            "post_id",
            sqlite_where=text(_WAITING),
            postgresql_where=text(_WAITING),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(50))
    feed_slug: Mapped[str | None] = mapped_column(String(200))
    snapshot: Mapped[str] = mapped_column(Text)
    # The post an event is about. Not a foreign key: the event outlives the post's row.
    post_id: Mapped[int | None] = mapped_column(Integer)
    # Set at fan-out when some endpoint gets the event; nothing is kept for no receiver.
    body: Mapped[str | None] = mapped_column(Text)
    # A test event goes to this one endpoint only.
    endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- Email digests: subscribers and which posts each digest held ---


class SubscriberStatus(StrEnum):
    UNCONFIRMED = "unconfirmed"
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"


class Frequency(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


class Subscriber(Base):
    """One address subscribed to one feed's digest."""

    __tablename__ = "subscribers"
    __table_args__ = (
        UniqueConstraint("feed_slug", "email", name="uq_subscribers_feed_email"),
        Index("ix_subscribers_due", "status", "frequency", "last_slot_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_slug: Mapped[str] = mapped_column(ForeignKey("feeds.slug", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    frequency: Mapped[str] = mapped_column(String(10), default=Frequency.DAILY)
    status: Mapped[str] = mapped_column(String(20), default=SubscriberStatus.UNCONFIRMED)
    # The unsubscribe link goes into every mail, so the token itself is kept;
    # look-ups go through the SHA-256 digests so no comparison leaks a token.
    unsubscribe_token: Mapped[str] = mapped_column(String(64))
    unsubscribe_digest: Mapped[str] = mapped_column(String(64), unique=True)
    confirm_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    confirm_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bounce_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The schedule slot most recently handled for this subscriber (digest or not).
    last_slot_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DigestPost(Base):
    """A post held by a digest; unique per subscriber so no post is mailed twice."""

    __tablename__ = "digest_posts"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "post_id", name="uq_digest_posts_subscriber_post"),
        Index("ix_digest_posts_post", "post_id"),
    )

    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), primary_key=True
    )
    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))


# --- WebSub: the hub of our own feeds ---


class WebSubStatus(StrEnum):
    PENDING = "pending"  # asked for, its callback not yet verified
    ACTIVE = "active"  # verified; notified until its lease ends
    EXPIRED = "expired"  # shown for an active subscription whose lease ended (not stored)
    UNVERIFIED = "unverified"  # the callback did not confirm; never active
    UNSUBSCRIBED = "unsubscribed"  # the callback confirmed an unsubscribe
    GONE = "gone"  # the callback answered 410 to a notification


class WebSubSubscription(Base):
    """One callback subscribed to one topic (a feed URL); unique per (topic, callback)."""

    __tablename__ = "websub_subscriptions"
    __table_args__ = (
        UniqueConstraint("topic", "callback", name="uq_websub_subscriptions_topic_callback"),
        Index("ix_websub_subscriptions_topic", "topic", "status", "lease_expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(Text)
    callback: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=WebSubStatus.PENDING)
    # Set, with the lease, only by a verified subscribe: a request alone changes neither.
    secret: Mapped[str | None] = mapped_column(Text)
    lease_seconds: Mapped[int | None] = mapped_column(Integer)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebSubContent(Base):
    """A topic's bytes at one change, rendered once and sent to every subscription."""

    __tablename__ = "websub_contents"
    __table_args__ = (Index("ix_websub_contents_topic", "topic", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(100))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebSubTopic(Base):
    """What subscribers of a topic were last told: a change is a different ETag."""

    __tablename__ = "websub_topics"

    topic: Mapped[str] = mapped_column(String(2000), primary_key=True)
    etag: Mapped[str] = mapped_column(String(64))
    # The newest content sent; an older notification still waiting is superseded.
    content_id: Mapped[int | None] = mapped_column(
        ForeignKey("websub_contents.id", ondelete="SET NULL")
    )
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebSubHub(Base):
    """An external hub (`[websub] also_ping`) told of each change with a publish ping."""

    __tablename__ = "websub_hubs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- The outbound queue: one row per message of every channel, and every attempt ---


class Channel(StrEnum):
    WEBHOOK = "webhook"
    MAIL = "mail"
    WEBSUB = "websub"
    WEBSUB_PING = "websub_ping"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    SENDING = "sending"  # handed to the wire; in doubt if the sender died here
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # refused for good, or the retry schedule is used up
    SKIPPED = "skipped"  # nothing left to send: unsubscribed, or its posts were deleted


IN_FLIGHT = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)


class MessageStatus(StrEnum):
    """The statuses a webhook message can have (the API lists them)."""

    PENDING = DeliveryStatus.PENDING.value
    SUCCEEDED = DeliveryStatus.SUCCEEDED.value
    FAILED = DeliveryStatus.FAILED.value


class Delivery(Base):
    """One message of one channel to one target: claimed with a lease, sent, retried.

    The target is a foreign key per channel (endpoint, subscriber) rather than
    one untyped id, so deleting a target deletes its messages in the database.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_due", "channel", "status", "next_attempt_at"),
        Index("ix_deliveries_endpoint", "endpoint_id", "id"),
        Index("ix_deliveries_subscriber", "subscriber_id"),
        Index("ix_deliveries_websub", "websub_subscription_id", "id"),
        Index("ix_deliveries_websub_content", "websub_content_id"),
        Index("ix_deliveries_websub_hub", "websub_hub_id"),
        Index("ix_deliveries_order", "order_key", "event_id"),
        UniqueConstraint("event_id", "endpoint_id", name="uq_deliveries_event_endpoint"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE")
    )
    # WebSub's two columns are plain integers (migration 0011 says why): removing a
    # subscription deletes its messages itself, and a notification whose content was
    # cleaned away is skipped.
    websub_subscription_id: Mapped[int | None] = mapped_column(Integer)
    # The topic bytes a WebSub notification carries (shared by every subscription).
    websub_content_id: Mapped[int | None] = mapped_column(Integer)
    websub_hub_id: Mapped[int | None] = mapped_column(Integer)  # a publish ping's hub
    # The event it carries (webhooks); its body is the event's, shared by all its messages.
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="CASCADE")
    )
    # The id the receiver sees and dedupes on: webhook-id, or the mail's Message-ID.
    message_key: Mapped[str] = mapped_column(String(255), unique=True)
    # Messages with one key go out in event order (one endpoint's events about one post).
    order_key: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.PENDING)
    # Attempts in the current series (a manual retry starts a new one).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The claim: lease_owner (a run of a worker) holds it while lease_until is set.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    last_error: Mapped[str | None] = mapped_column(Text)
    # Fixed bytes composed when queued (confirmation mails); None once sent.
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeliveryAttempt(Base):
    """One try at sending a message: what the receiver answered, or why it could not."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (
        Index("ix_delivery_attempts_delivery", "delivery_id", "id"),
        Index("ix_delivery_attempts_channel", "channel", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    # Its message's channel, copied: the latest attempt of a channel is one index probe.
    channel: Mapped[str] = mapped_column(String(20))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    response_prefix: Mapped[str | None] = mapped_column(Text)


class WorkerBeat(Base):
    """A worker run's heartbeat: its leases are free once it stops beating."""

    __tablename__ = "worker_beats"

    owner: Mapped[str] = mapped_column(String(80), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- Audience (syndicator.stats): per-day counters; no address or User-Agent stored ---


class FeedUrlDay:
    """The key of a stats row: one feed URL (feed, tag or "", format, page) on one day."""

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    feed: Mapped[str] = mapped_column(String(200), primary_key=True)
    tag: Mapped[str] = mapped_column(String(200), primary_key=True)
    format: Mapped[str] = mapped_column(String(10), primary_key=True)
    page: Mapped[int] = mapped_column(Integer, primary_key=True)


class FeedTraffic(FeedUrlDay, Base):
    """Requests of one feed URL on one day (site time zone); added to by every process."""

    __tablename__ = "stats_traffic"

    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    full: Mapped[int] = mapped_column(BigInteger, default=0)  # answered 200
    not_modified: Mapped[int] = mapped_column(BigInteger, default=0)  # answered 304
    throttled: Mapped[int] = mapped_column(BigInteger, default=0)  # answered 429
    bytes_sent: Mapped[int] = mapped_column(BigInteger, default=0)


class FeedPollers(FeedUrlDay, Base):
    """Distinct direct pollers of one feed URL on one day, as a sketch of salted hashes."""

    __tablename__ = "stats_pollers"

    sketch: Mapped[bytes] = mapped_column(LargeBinary)


class AggregatorCount(FeedUrlDay, Base):
    """The latest subscriber count an aggregator reported for one feed URL on one day."""

    __tablename__ = "stats_aggregators"

    aggregator: Mapped[str] = mapped_column(String(40), primary_key=True)
    subscribers: Mapped[int] = mapped_column(Integer)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ChannelCount(Base):
    """A feed's channel audience as the worker last counted it that day."""

    __tablename__ = "stats_channels"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    feed: Mapped[str] = mapped_column(String(200), primary_key=True)
    email: Mapped[int] = mapped_column(Integer)
    webhooks: Mapped[int] = mapped_column(Integer)
    websub: Mapped[int] = mapped_column(Integer)
