"""The user blueprint on its own, so the package can import its views and the views the blueprint
without an import cycle."""

from flask import Blueprint

bp = Blueprint("user", "portal.web.user", url_prefix="/me")
