"""Admin API routes for a feed's media folder: upload, list, get, delete.

An upload is multipart/form-data (a `file` part; an optional `name` field
renames it) or any other body with the name in `?name=`. The name is
cleaned by `media.names` (no traversal, no hidden files); its extension
gives the type (unknown: 415); a name in use is 409; a body over
`[admin] max_media_bytes` is 413. Files of the content folder belong to it:
deleting one here is 409, as for posts.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, url_for
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType

from syndicator import timestamps
from syndicator.errors import Conflict, InvalidInput
from syndicator.feeds import catalog
from syndicator.fieldtable import Field, Kind, Table
from syndicator.media import names, store
from syndicator.models import Media, PostSource
from syndicator.urls import Urls
from syndicator.web.api import blueprint, listing, openapi, window
from syndicator.web.api.openapi import LIST_ERRORS, READ_ERRORS, Operation, ref
from syndicator.web.context import core_of_app

TABLE = Table(
    "a media file",
    (
        Field("id", Kind.INTEGER, read_only=True),
        Field("feed", Kind.TEXT, read_only=True),
        Field(
            "name",
            Kind.TEXT,
            "The file's path in the feed's media folder; links write it `media/<name>`.",
            read_only=True,
        ),
        Field("url", Kind.URL, "Where readers get it.", read_only=True),
        Field("content_type", Kind.TEXT, "From the name's extension.", read_only=True),
        Field("length", Kind.INTEGER, "Size in bytes.", read_only=True),
        Field("sha256", Kind.TEXT, "Hex digest of the bytes; the ETag.", read_only=True),
        Field("source", Kind.CHOICE, choices=tuple(PostSource), read_only=True),
        Field("modified", Kind.TIMESTAMP, read_only=True),
    ),
)


def as_dict(media: Media, urls: Urls) -> dict[str, Any]:
    return {
        "id": media.id,
        "feed": media.feed_slug,
        "name": media.name,
        "url": urls.media(media.feed_slug, media.name),
        "content_type": media.content_type,
        "length": media.length,
        "sha256": media.sha256,
        "source": media.source,
        "modified": timestamps.rfc3339(media.modified_at),
    }


@blueprint.get("/feeds/<feed>/media")
def list_media(feed: str) -> Response:
    core = core_of_app()
    asked = window()
    with core.reading() as session:
        found, next_cursor = store.page(session, feed, asked)
        items = [as_dict(media, core.urls) for media in found]
    return listing(items, next_cursor)


@blueprint.post("/feeds/<feed>/media")
def upload_media(feed: str) -> tuple[Response, int, dict[str, str]]:
    core = core_of_app()
    name, data = _received(core.config.admin.max_media_bytes)
    now = core.now()
    with core.transaction() as session:
        catalog.get(session, feed)
        upload = store.Upload(name, data, modified_at=now.replace(microsecond=0))
        media = store.add(session, feed, upload, now)
        body = as_dict(media, core.urls)
    location = url_for("api.get_media", feed=feed, name=name)
    return jsonify(body), 201, {"Location": location}


@blueprint.get("/feeds/<feed>/media/<path:name>")
def get_media(feed: str, name: str) -> Response:
    core = core_of_app()
    with core.reading() as session:
        return jsonify(as_dict(store.get(session, feed, name), core.urls))


@blueprint.delete("/feeds/<feed>/media/<path:name>")
def delete_media(feed: str, name: str) -> tuple[str, int]:
    core = core_of_app()
    with core.transaction() as session:
        media = store.get(session, feed, name)
        if media.source == PostSource.FILE:
            raise Conflict(
                f"{name!r} is a file of the content folder: delete it there",
                {"name": "belongs to the content folder"},
            )
        store.remove(session, media, core.now())
    return "", 204


def _received(limit: int) -> tuple[str, bytes]:
    """The upload's cleaned name and bytes; 413, 415 or 422 when it cannot be stored."""
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge(f"the file is larger than {limit} bytes")
    if request.mimetype == "multipart/form-data":
        request.max_content_length = limit + 64 * 1024  # room for the part headers
        part = request.files.get("file")
        if part is None:
            raise InvalidInput({"file": "is required: send the file as the part 'file'"})
        given, data = request.form.get("name") or part.filename or "", part.read(limit + 1)
    else:
        given, data = request.args.get("name", ""), request.stream.read(limit + 1)
    if len(data) > limit:
        raise RequestEntityTooLarge(f"the file is larger than {limit} bytes")
    try:
        name = names.clean(given)
    except ValueError as problem:
        raise InvalidInput({"name": str(problem)}, f"name {problem}") from None
    if names.content_type(name) is None:
        raise UnsupportedMediaType(
            f"no known type for {name!r}: give it an extension such as .jpg, .mp3 or .pdf"
        )
    return name, data


_ONE = "/api/feeds/{feed}/media/{name}"
_UPLOAD: dict[str, dict[str, Any]] = {
    "multipart/form-data": {
        "type": "object",
        "required": ["file"],
        "properties": {
            "file": {"type": "string", "contentMediaType": "application/octet-stream"},
            "name": {"type": "string", "description": "The name to store it under."},
        },
    },
    "application/octet-stream": {"type": "string", "contentMediaType": "application/octet-stream"},
}
DOC = openapi.Section(
    schemas={"Media": TABLE.output_schema()},
    operations=(
        Operation(
            "get", "/api/feeds/{feed}/media", "listMedia", "List the feed's media folder",
            (200, openapi.list_of(ref("Media"))), (*LIST_ERRORS, 404),
            query=openapi.PAGE_QUERY,
        ),
        Operation(
            "post", "/api/feeds/{feed}/media", "uploadMedia",
            "Upload a file to the feed's media folder (multipart, or a raw body and ?name=)",
            (201, ref("Media")), (400, 401, 403, 404, 409, 413, 415, 422),
            query=(openapi.query("name", {"type": "string"}, "The file name, for a raw body."),),
            body_types=_UPLOAD,
        ),
        Operation("get", _ONE, "getMedia", "One media file", (200, ref("Media")), READ_ERRORS),
        Operation(
            "delete", _ONE, "deleteMedia", "Delete an uploaded file",
            (204, None), (*READ_ERRORS, 409),
        ),
    ),
)  # fmt: skip
