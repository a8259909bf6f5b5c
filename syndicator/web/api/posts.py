"""Admin API routes for posts: HTTP around `postadmin`, one transaction per request.

The posts change, the feed versions move and (with webhooks) the outbox rows
are written in the same `core.transaction()`, so readers, caches and
subscribers see a change together or not at all.
"""

from __future__ import annotations

from flask import Response, jsonify, request, url_for

from syndicator.posts import admin, fields
from syndicator.web.api import (
    blueprint,
    encode_position,
    json_body,
    listing,
    position_args,
    posts_doc,
)
from syndicator.web.context import core_of_app


@blueprint.get("/feeds/<feed>/posts")
def list_posts(feed: str) -> Response:
    core = core_of_app()
    limit, after = position_args()
    filters = admin.Filters(
        feed=feed,
        state=fields.parse_state(request.args.get("status")),
        tag=request.args.get("tag"),
    )
    now = core.now()
    with core.reading() as session:
        found, has_more = admin.search(session, filters, now=now, limit=limit, after=after)
        items = [admin.as_dict(post, core.urls, now) for post in found]
    last = found[-1] if found and has_more else None
    return listing(items, encode_position(last.published_at, last.id) if last else None)


@blueprint.post("/feeds/<feed>/posts")
def create_post(feed: str) -> tuple[Response, int, dict[str, str]]:
    core = core_of_app()
    changes = fields.parse(json_body(), creating=True)
    desk = admin.Desk.of(core)
    with core.transaction() as session:
        post = admin.create(session, feed, changes, desk)
        body = admin.as_dict(post, core.urls, desk.now)
    return jsonify(body), 201, {"Location": url_for("api.get_post", post_id=body["id"])}


@blueprint.get("/posts/<int:post_id>")
def get_post(post_id: int) -> Response:
    core = core_of_app()
    now = core.now()
    with core.reading() as session:
        return jsonify(admin.as_dict(admin.find(session, post_id), core.urls, now))


@blueprint.patch("/posts/<int:post_id>")
def patch_post(post_id: int) -> Response:
    core = core_of_app()
    changes = fields.parse(json_body(), creating=False)
    desk = admin.Desk.of(core)
    with core.transaction() as session:
        post = admin.patch(session, post_id, changes, desk)
        return jsonify(admin.as_dict(post, core.urls, desk.now))


@blueprint.delete("/posts/<int:post_id>")
def delete_post(post_id: int) -> tuple[str, int]:
    core = core_of_app()
    with core.transaction() as session:
        admin.delete(session, post_id, admin.Desk.of(core))
    return "", 204


posts_doc.register()
