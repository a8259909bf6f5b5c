"""POST /api/deliveries/<id>/retry: a manual retry of any channel's HTTP message.

Webhook and WebSub messages share the queue and its ids; the message's own
channel sends it again, at once, with a fresh schedule.
"""

from __future__ import annotations

from flask import Response, jsonify

from syndicator.delivery import queue
from syndicator.errors import NotFound
from syndicator.models import Channel
from syndicator.web.api import blueprint, openapi
from syndicator.web.api import webhooks as webhooks_api
from syndicator.web.api import websub as websub_api
from syndicator.web.api.openapi import READ_ERRORS, Operation, ref
from syndicator.web.context import core_of_app
from syndicator.webhooks import channel as webhook_channel
from syndicator.websub import channel as websub_channel


@blueprint.post("/deliveries/<int:message_id>/retry")
def retry_delivery(message_id: int) -> Response:
    core = core_of_app()
    with core.reading() as session:
        channel = queue.channel_of(session, message_id)
    if channel == Channel.WEBHOOK:
        webhook_channel.retry(core, message_id)
        return jsonify(webhooks_api.message_dict(core, message_id))
    if channel == Channel.WEBSUB:
        websub_channel.retry(core, message_id)
        with core.reading() as session:
            message = queue.get(session, message_id, Channel.WEBSUB)
        return jsonify(websub_api.message_dicts(core, [message])[0])
    raise NotFound(f"no delivery {message_id} that can be retried here")


DOC = openapi.Section(
    operations=(
        Operation(
            "post", "/api/deliveries/{message_id}/retry", "retryDelivery",
            "Send a webhook or WebSub message again now, with a fresh retry schedule",
            (200, {"oneOf": [ref("WebhookDelivery"), ref("WebSubDelivery")]}),
            (*READ_ERRORS, 409),
        ),
    ),
)  # fmt: skip
