"""Media URLs: `/<feed>/media/<name>` (the feed's folder) and `/<feed>/<slug>/<name>` (a bundle).

Bytes are read from the database in slices as they are sent, so a podcast
app's byte range costs one slice, not the whole file. Validators, 304s,
HEAD and single byte ranges (RFC 9110 §14, formerly RFC 7233) come from
werkzeug's `make_conditional`; several ranges in one request get the whole
file (a server may ignore Range). Nothing is ever run or shown as a page:
every answer says `nosniff`, and types a browser could execute (HTML, SVG,
XML, scripts) are downloads under a CSP sandbox.
"""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, redirect, request
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.http import is_resource_modified, parse_range_header
from werkzeug.routing import BaseConverter
from werkzeug.wrappers import Response as WerkzeugResponse
from werkzeug.wsgi import FileWrapper

from syndicator.core import Core
from syndicator.media import names, store
from syndicator.models import Media
from syndicator.posts import store as posts
from syndicator.web.context import core_of_app

blueprint = Blueprint("media", __name__)
SLICE_BYTES = 256 * 1024


class _SiteFeed(BaseConverter):
    """A feed slug other than `api`: these wide rules must leave /api/… to the admin API
    (PATCH /api/posts/x,y would otherwise meet a GET-only rule: 405, not the API's 404).
    Part-isolating, so the rules keep their place after the pages' and feeds' rules."""

    regex = r"(?!api$)[^/]+"
    part_isolating = True


blueprint.record_once(lambda state: state.app.url_map.converters.update(site_feed=_SiteFeed))
SANDBOX = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


@blueprint.get("/<site_feed:feed>/media/<path:name>")
def feed_file(feed: str, name: str) -> WerkzeugResponse:
    core = core_of_app()
    with core.reading() as session:
        found = store.get(session, feed, name)
        session.expunge(found)
    return _send(core, found)


@blueprint.get("/<site_feed:feed>/<slug>/<path:name>")
def bundle_file(feed: str, slug: str, name: str) -> WerkzeugResponse:
    """A bundle's file; a name only the feed's media folder has is redirected there, so a
    link written `images/x.jpg` in a post without a bundle still finds the file."""
    core = core_of_app()
    with core.reading() as session:
        post = posts.find_visible(session, feed, slug, core.now())
        found = store.find(session, feed, name, post.id)
        if found is None:
            store.get(session, feed, name)  # NotFound unless the media folder has it
            return redirect(core.urls.media(feed, name), code=301)
        session.expunge(found)
    return _send(core, found)


def _send(core: Core, media: Media) -> WerkzeugResponse:
    slices = io.BufferedReader(_Slices(core, media.id, media.length), SLICE_BYTES)
    body = FileWrapper(slices, SLICE_BYTES)
    response = Response(body, direct_passthrough=True)
    response.headers["Content-Type"] = media.content_type
    response.headers["Content-Length"] = str(media.length)
    response.headers["X-Content-Type-Options"] = "nosniff"
    if not names.is_inline(media.content_type):
        response.headers["Content-Disposition"] = _attachment(media.name)
        response.headers["Content-Security-Policy"] = SANDBOX
    response.set_etag(media.sha256)
    response.last_modified = media.modified_at
    response.cache_control.public = True
    response.cache_control.max_age = core.config.feeds.max_age_seconds
    environ = _ranged_environ(request.environ, response)
    try:
        return response.make_conditional(environ, accept_ranges=True, complete_length=media.length)
    except RequestedRangeNotSatisfiable:
        return _not_satisfiable(response, media.length)


def _ranged_environ(environ: dict[str, Any], response: Response) -> dict[str, Any]:
    """The request as make_conditional should see it: a 304 wins over a range (RFC 9110
    §13.2.2), and several ranges get the whole file."""
    etag, _weak = response.get_etag()
    fresh = not is_resource_modified(environ, etag, last_modified=response.last_modified)
    ranges = parse_range_header(environ.get("HTTP_RANGE"))
    if "HTTP_RANGE" in environ and (fresh or (ranges is not None and len(ranges.ranges) > 1)):
        return {key: value for key, value in environ.items() if key != "HTTP_RANGE"}
    return environ


def _not_satisfiable(response: Response, length: int) -> WerkzeugResponse:
    response.response, response.status_code = [], 416
    response.headers["Content-Range"] = f"bytes */{length}"
    response.headers["Content-Length"] = "0"
    return response


def _attachment(name: str) -> str:
    filename = name.rsplit("/", 1)[-1]
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


class _Slices(io.RawIOBase):
    """A file's bytes as a seekable stream, each read one query for one slice."""

    def __init__(self, core: Core, media_id: int, length: int) -> None:
        self._core, self._id, self._length, self._at = core, media_id, length, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._at

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._at, io.SEEK_END: self._length}[whence]
        self._at = max(0, base + offset)
        return self._at

    def readinto(self, buffer: Any) -> int:
        wanted = min(len(buffer), self._length - self._at)
        if wanted <= 0:
            return 0
        with self._core.reading() as session:
            piece = store.read(session, self._id, self._at, wanted)
        buffer[: len(piece)] = piece
        self._at += len(piece)
        return len(piece)
