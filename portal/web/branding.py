"""The brand on pages: its stylesheet route, the `brand` of templates, and the logo's origin in the CSP.

Whose brand applies: `portal.services.branding`. A page links /brand/<colour>.css (`_brand_head.html`): the
colour is the whole key, so the sheet is cached for a year; `_brand_logo.html` shows the logo through
`show_logo`, which lets that response's CSP load images from the logo's origin (and only that response's).
"""

from __future__ import annotations

import re

from flask import Blueprint, Flask, Response, abort, g, request
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.local import LocalProxy

from .. import branding
from ..services import branding as brands
from .security_headers import allow_images_from

bp = Blueprint("branding", __name__)
_KEY = re.compile(r"^[0-9a-f]{6}$")
YEAR = 365 * 24 * 3600


@bp.get("/brand/<key>.css")
def stylesheet(key: str) -> Response:
    if not _KEY.match(key):
        abort(404)
    response = Response(branding.stylesheet(f"#{key}"), mimetype="text/css")
    response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    return response


def current_brand() -> brands.Brand:
    """The brand of this request (computed once): the signed-in account's, else the visitor's."""
    if "brand" not in g:
        try:
            if current_user.is_authenticated:
                g.brand = brands.for_principal(current_user.principal)
            else:
                g.brand = brands.for_visitor(request.args.get("domain"), request.host.rsplit(":", 1)[0])
        except SQLAlchemyError:  # the database's error page is rendered without it
            g.brand = brands.DEFAULT
    return g.brand  # type: ignore[no-any-return]


def show_logo(brand: brands.Brand) -> str:
    """The logo's URL for an <img>; this response's CSP allows images from its origin."""
    if not brand.logo or not brand.logo_origin:
        return ""
    allow_images_from(brand.logo_origin)
    return brand.logo


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals["show_logo"] = show_logo

    @app.context_processor
    def _brand() -> dict[str, object]:
        return {"brand": LocalProxy(current_brand)}  # looked up only by a page that shows it
