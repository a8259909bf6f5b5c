"""POST /websub: the hub's one public route (subscribe and unsubscribe requests).

A well-formed request is answered 202 at once; the worker verifies it with
the callback later. Anything else is a 4xx with a plain-text reason.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from syndicator.errors import NotFound
from syndicator.web.context import core_of_app
from syndicator.websub import distribution, intake, subscriptions, topics

blueprint = Blueprint("websub", __name__)
MAX_BODY_BYTES = 16384  # four URLs and a secret fit many times over


@blueprint.post("/websub")
def hub() -> Response:
    core = core_of_app()
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return _plain(413, f"the request is larger than {MAX_BODY_BYTES} bytes")
    if request.mimetype != "application/x-www-form-urlencoded":
        return _plain(415, "send the request as application/x-www-form-urlencoded")
    try:
        asked = intake.parse(
            request.form,
            core.urls,
            core.config.websub,
            allow_private=core.config.webhooks.allow_private_targets,
            resolver=core.resolver,
        )
        subscribing = asked.mode == intake.Mode.SUBSCRIBE
        rendered = topics.render(core, asked.topic) if subscribing else None
    except intake.Refused as refused:
        return _plain(refused.status, str(refused))
    except NotFound:
        return _plain(404, f"hub.topic {request.form['hub.topic']!r} has no posts to show")
    with core.transaction() as session:
        if rendered is not None:
            distribution.baseline(session, asked.topic, rendered, core.now())
        subscriptions.request(session, asked, core.now())
    return _plain(202, "accepted: the callback will be asked to confirm")


def _plain(status: int, reason: str) -> Response:
    return Response(reason + "\n", status=status, content_type="text/plain; charset=utf-8")
