"""The digest's one-click links (/me/digest/<action>/<token>): a confirm page, then the action.

- GET shows what the link would do (the message's sender and subject, escaped) and changes nothing;
  the page's POST uses the link once (`links.use`, in the request's transaction) and acts as the link's user.
- No sign-in is needed: the 256-bit token is the authority, for one action on one message (or, for `off`,
  turning the user's digest off). A link of another account than the one signed in here is refused: it was
  forwarded, or the wrong person is at the keyboard.
- `off` is also the mail's List-Unsubscribe target: RFC 8058's one-click POST comes from the mail provider,
  without a session or a CSRF token, so that route is CSRF-exempt; the token in the URL is what a forger
  cannot have.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, abort, request
from flask_babel import gettext as _
from flask_login import current_user

from ..errors import ServiceError
from ..extensions import csrf
from ..services import digest, links
from ..words import _l
from .render import render

bp = Blueprint("digest", __name__, url_prefix="/me/digest")

ACTIONS: dict[str, links.Purpose] = {
    "release": links.Purpose.DIGEST_RELEASE,
    "release-and-allow": links.Purpose.DIGEST_RELEASE_ALLOW,
    "block": links.Purpose.DIGEST_BLOCK,
}
OTHER_ACCOUNT = _l("This link was sent to another account than the one signed in here. Sign out, then open "
                   "the link again.")


def _refused(message: object, status: int = 410) -> Response:
    return render("user/digest_refused.html", status=status, message=message)


def _foreign(found: digest.Target) -> bool:
    """Signed in here as someone else than the link's user."""
    if not current_user.is_authenticated:
        return False
    return current_user.kind != "user" or current_user.user.id != found.user.id


def _page(action: str, purpose: links.Purpose, token: str) -> Response:
    try:
        found = digest.target(token, purpose)
    except links.LinkRefused as error:
        return _refused(error.detail)
    if _foreign(found):
        return _refused(OTHER_ACCOUNT, 403)
    if request.method == "GET":
        return render("user/digest_confirm.html", action=action, found=found, done=None)
    try:
        found, outcome = digest.act(token, purpose)
    except links.LinkRefused as error:
        return _refused(error.detail)
    except ServiceError as error:  # the request rolls back: the link stays usable
        return render("user/digest_confirm.html", status=error.status, action=action, found=found, done=None,
                      error=error.detail)
    return render("user/digest_confirm.html", action=action, found=found, done=outcome if outcome else True)


@bp.route("/<action>/<token>", methods=["GET", "POST"])
def confirm(action: str, token: str) -> Response:
    purpose = ACTIONS.get(action)
    if purpose is None:
        abort(404)
    return _page(action, purpose, token)


@bp.route("/off/<token>", methods=["GET", "POST"])
@csrf.exempt
def off(token: str) -> Response:
    if request.method == "POST" and request.form.get("List-Unsubscribe") == "One-Click":
        try:
            digest.act(token, links.Purpose.DIGEST_OFF)
        except links.LinkRefused as error:
            return _refused(error.detail)
        return Response(_("Your quarantine digest is off."), 200, mimetype="text/plain")
    return _page("off", links.Purpose.DIGEST_OFF, token)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
