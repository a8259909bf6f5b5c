"""Admin API routes for posts: HTTP around `posts.admin`, one transaction per request.

The posts change, the feed versions move and (with webhooks) the outbox rows
are written in the same `core.transaction()`, so readers, caches and
subscribers see a change together or not at all. Fields: `posts.fields.TABLE`.
"""

from __future__ import annotations

from flask import Response, jsonify, request, url_for

from syndicator.posts import admin, fields
from syndicator.web.api import blueprint, json_body, listing, openapi, window
from syndicator.web.api.openapi import CHANGE_ERRORS, LIST_ERRORS, READ_ERRORS, Operation, ref
from syndicator.web.context import core_of_app


@blueprint.get("/feeds/<feed>/posts")
def list_posts(feed: str) -> Response:
    core = core_of_app()
    asked = window()
    filters = admin.Filters(
        feed=feed,
        state=fields.parse_state(request.args.get("status")),
        tag=request.args.get("tag"),
    )
    now = core.now()
    with core.reading() as session:
        found, next_cursor = admin.search(session, filters, now=now, window=asked)
        items = [admin.as_dict(post, core.urls, now) for post in found]
    return listing(items, next_cursor)


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


_FILTERS = (
    openapi.query(
        "status", {"type": "string", "enum": list(fields.PostState)}, "Only posts in this state."
    ),
    openapi.query("tag", {"type": "string"}, "Only posts with this tag (name or slug)."),
)
_ONE = "/api/posts/{post_id}"
DOC = openapi.Section(
    schemas={
        "Post": fields.TABLE.output_schema(),
        "PostCreate": fields.TABLE.input_schema(creating=True),
        "PostPatch": fields.TABLE.input_schema(creating=False),
    },
    operations=(
        Operation(
            "get", "/api/feeds/{feed}/posts", "listPosts", "List a feed's posts, newest first",
            (200, openapi.list_of(ref("Post"))), (*LIST_ERRORS, 404),
            query=(*_FILTERS, *openapi.PAGE_QUERY),
        ),
        Operation(
            "post", "/api/feeds/{feed}/posts", "createPost", "Create a post",
            (201, ref("Post")), CHANGE_ERRORS, body=ref("PostCreate"),
        ),
        Operation("get", _ONE, "getPost", "Get a post", (200, ref("Post")), READ_ERRORS),
        Operation(
            "patch", _ONE, "patchPost", "Change some fields of a post",
            (200, ref("Post")), CHANGE_ERRORS, body=ref("PostPatch"),
        ),
        Operation(
            "delete", _ONE, "deletePost", "Delete a post from every feed and page",
            (204, None), (*READ_ERRORS, 409),
        ),
    ),
)  # fmt: skip
