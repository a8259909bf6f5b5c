"""The error tree: domain code raises these, the edges translate them."""

from collections.abc import Mapping


class SyndicatorError(Exception):
    """Base of every error the service raises on purpose."""


class ConfigError(SyndicatorError):
    """A configuration file or value that cannot be used."""

    def __init__(self, file: str, key: str | None, reason: str) -> None:
        self.file, self.key, self.reason = file, key, reason
        where = f"{file}: {key}" if key else file
        super().__init__(f"{where}: {reason}")


class NotFound(SyndicatorError):
    """Something asked for by name or id does not exist."""


class FeedNotFound(NotFound):
    pass


class PostNotFound(NotFound):
    pass


class Gone(SyndicatorError):
    """Something that existed and is no longer usable (HTTP 410)."""


class PostGone(Gone):
    """The post existed and was deleted."""


class InvalidInput(SyndicatorError):
    """Input that fails validation, with a message per field."""

    def __init__(self, fields: Mapping[str, str], message: str = "invalid input") -> None:
        self.fields = dict(fields)
        super().__init__(message)


class Conflict(SyndicatorError):
    """A change that clashes with existing state (HTTP 409), naming the fields involved."""

    def __init__(self, message: str, fields: Mapping[str, str] | None = None) -> None:
        self.fields = dict(fields or {})
        super().__init__(message)


class StorageUnavailable(SyndicatorError):
    """The database does not answer (down, refusing connections, out of connections)."""


class ExportFailed(SyndicatorError):
    """A static export that could not finish (a page that did not answer, a worker that
    died); the files written so far stay, and the next export fetches the unfinished again."""


class SlugTaken(Conflict):
    """A live post of the feed already holds this slug."""

    def __init__(self, feed_slug: str, slug: str) -> None:
        self.feed_slug, self.slug = feed_slug, slug
        super().__init__(
            f"the slug '{slug}' is already used by another post of feed '{feed_slug}'",
            {"slug": "is already used by another post"},
        )


class MalformedRequest(SyndicatorError):
    """A request the service cannot even read, such as a cursor it never gave out (HTTP 400)."""

    def __init__(self, fields: Mapping[str, str], message: str = "malformed request") -> None:
        self.fields = dict(fields)
        super().__init__(message)


class BadPostFile(SyndicatorError):
    """A post file in the content folder that cannot be imported."""

    def __init__(self, path: str, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(f"{path}: {reason}")
