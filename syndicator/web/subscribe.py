"""Public mail routes: subscribe, confirm, unsubscribe (RFC 8058 one-click included).

Links in mail only ever show a page with a button: mail scanners follow links
(GET) but do not press buttons (POST), so no scanner confirms or unsubscribes
anyone. The pages never show the address a token belongs to.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import quote

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
)
from sqlalchemy.orm import Session
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.wrappers import Response as WerkzeugResponse

from syndicator.errors import InvalidInput, SyndicatorError
from syndicator.feeds import catalog
from syndicator.mail import subscriptions
from syndicator.models import Subscriber, SubscriberStatus
from syndicator.ratelimit import RateLimiter
from syndicator.web import errors, prose
from syndicator.web.context import core_of_app, feed_of_page
from syndicator.web.errors import api_error

blueprint = Blueprint("subscribe", __name__)
_Answer = TypeVar("_Answer")
_MAX_BODY = 16 * 1024
_ACCEPTED = "If the address can receive mail, a confirmation link is on its way."


@blueprint.record_once
def _limiter(state: Any) -> None:
    state.app.extensions["syndicator.subscribe_limits"] = RateLimiter(timedelta(hours=1))


def _limits(app: Flask) -> RateLimiter:
    limits: RateLimiter = app.extensions["syndicator.subscribe_limits"]
    return limits


@blueprint.get("/<feed>/subscribe")
def subscribe_form(feed: str) -> str:
    """The email form on a page of its own (where a reload of a failed POST lands too)."""
    return render_template("subscribe_form_page.html", feed=_feed(feed), standalone=True)


@blueprint.post("/<feed>/subscribe")
def subscribe(feed: str) -> WerkzeugResponse | tuple[str, int]:
    core = core_of_app()
    wants_json = request.is_json
    fields = _fields()
    limits, settings, now = _limits(current_app), core.config.digest, core.now()
    wait = limits.hit(("ip", request.remote_addr), settings.subscribe_limit_per_ip, now)
    try:
        with core.transaction() as session:
            email = subscriptions.normalize_email(
                fields.get("email"), check_deliverability=settings.check_deliverability
            )
            key = ("email", feed, email)
            wait = wait or limits.hit(key, settings.subscribe_limit_per_email, now)
            if wait is None:
                request_ = subscriptions.Request(feed, email, fields.get("frequency") or "daily")
                subscriptions.subscribe(session, request_, core.config, core.timezone, now)
    except InvalidInput as error:
        if wants_json:
            raise  # web.errors answers it like every other JSON error
        return _form_again(feed, error, fields)
    if wait is not None:
        return _too_many(feed, wait, wants_json=wants_json)
    if wants_json:
        response = jsonify(status="accepted", message=_ACCEPTED)
        response.status_code = 202
        return response
    # Redirect after POST: a reload of the answer does not send the form again.
    return redirect(core.urls.absolute(f"/{quote(feed, safe='')}/subscribe/sent"), code=303)


@blueprint.get("/<feed>/subscribe/sent")
def subscribe_sent(feed: str) -> str:
    days = core_of_app().config.digest.confirm_expiry_days
    return render_template(
        "subscribe_sent.html", feed=_feed(feed), message=_ACCEPTED, expiry_days=days
    )


def _fields() -> dict[str, Any]:
    if request.content_length is not None and request.content_length > _MAX_BODY:
        raise RequestEntityTooLarge("the form is too large")
    if request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise BadRequest("send a JSON object with email and frequency")
        return data
    return request.form.to_dict()


def _feed(slug: str) -> Any:
    core = core_of_app()
    with core.reading() as session:
        return catalog.get(session, slug)


def _form_again(feed: str, error: InvalidInput, fields: dict[str, Any]) -> tuple[str, int]:
    """The form shown again beside its errors, with the status web.errors gives them."""
    body = render_template(
        "subscribe_form_page.html",
        feed=_feed(feed),
        standalone=True,
        subscribe_errors=[prose.field_problem(k, v) for k, v in error.fields.items()],
        subscribe_email=fields.get("email") if isinstance(fields.get("email"), str) else "",
    )
    return body, _status(error)


def _status(error: SyndicatorError) -> int:
    mapped = errors.status_of(error)
    assert mapped is not None, error
    return mapped[0]


def _too_many(feed: str, wait: timedelta, *, wants_json: bool) -> Response:
    seconds = max(1, int(wait.total_seconds()))
    if wants_json:
        response = api_error(429, "rate_limited", f"too many requests; retry in {seconds}s")
    else:
        page = render_template("subscribe_limited.html", feed=feed_of_page(feed))
        response = Response(page, status=429)
    response.headers["Retry-After"] = str(seconds)
    return response


def _link_errors(view: Callable[[str], _Answer]) -> Callable[[str], _Answer | tuple[str, int]]:
    """A link that does not (or no longer) work gets a 404 or 410 page, never a hint."""

    @wraps(view)
    def guarded(token: str) -> _Answer | tuple[str, int]:
        try:
            return view(token)
        except (subscriptions.TokenNotFound, subscriptions.TokenExpired) as error:
            expired = isinstance(error, subscriptions.TokenExpired)
            page = render_template("link_problem.html", feed=feed_of_page(), expired=expired)
            return page, _status(error)

    return guarded


def _link_page(
    template: str, find: Callable[[Session], Subscriber], done: SubscriberStatus
) -> tuple[str, int]:
    """Show where the subscriber `find` finds stands."""
    with core_of_app().reading() as session:
        subscriber = find(session)
        feed = catalog.get(session, subscriber.feed_slug)
        finished = subscriber.status == done
    return render_template(template, feed=feed, done=finished), 200


def _pressed(link: str) -> WerkzeugResponse:
    """After a button press, the page again by GET: a reload then presses nothing."""
    return redirect(link, code=303)


@blueprint.get("/confirm/<token>")
@_link_errors
def confirm_page(token: str) -> tuple[str, int]:
    now = core_of_app().now()
    return _link_page(
        "confirm.html",
        lambda session: subscriptions.by_confirm_token(session, token, now),
        SubscriberStatus.CONFIRMED,
    )


@blueprint.post("/confirm/<token>")
@_link_errors
def confirm(token: str) -> WerkzeugResponse:
    core = core_of_app()
    with core.transaction() as session:
        subscriptions.confirm(session, token, core.now())
    return _pressed(core.urls.confirm(token))


@blueprint.get("/unsubscribe/<token>")
@_link_errors
def unsubscribe_page(token: str) -> tuple[str, int]:
    return _unsubscribe_state(token)


def _unsubscribe_state(token: str) -> tuple[str, int]:
    return _link_page(
        "unsubscribe.html",
        lambda session: subscriptions.by_unsubscribe_token(session, token),
        SubscriberStatus.UNSUBSCRIBED,
    )


@blueprint.post("/unsubscribe/<token>")
@_link_errors
def unsubscribe(token: str) -> WerkzeugResponse | tuple[str, int]:
    """A button press (answered with a redirect to the page) or an RFC 8058 one-click
    POST from a mail client (answered at once): no cookie, no CSRF token needed."""
    core = core_of_app()
    with core.transaction() as session:
        subscriptions.unsubscribe(session, token, core.now())
    if request.form.get("List-Unsubscribe") == "One-Click":
        return _unsubscribe_state(token)
    return _pressed(core.urls.unsubscribe(token))
