"""Operations endpoints: health and metrics."""

from flask import Blueprint, Response, jsonify
from sqlalchemy.exc import SQLAlchemyError

from syndicator import db
from syndicator.web.context import core_of_app

blueprint = Blueprint("ops", __name__)


@blueprint.get("/healthz")
def healthz() -> tuple[Response, int]:
    try:
        db.ping(core_of_app().engine)
    except SQLAlchemyError:
        return jsonify(status="error", reason="database does not answer"), 503
    return jsonify(status="ok"), 200


@blueprint.get("/metrics")
def metrics() -> Response:
    body = core_of_app().metrics.exposition()
    return Response(body, content_type="text/plain; version=0.0.4; charset=utf-8")
