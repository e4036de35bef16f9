"""Template globals and filters."""

from __future__ import annotations

from flask import Flask
from flask_babel import get_locale

from .. import ids
from ..permissions import permission_label
from ..schemas.common import wire_name
from ..words import value_label, yes_no
from . import shell
from .i18n import LANGUAGES
from .listing import list_url


def init_app(app: Flask) -> None:
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.filters["public_id"] = ids.encode
    app.jinja_env.filters["yesno"] = yes_no
    app.jinja_env.filters["label"] = value_label
    app.jinja_env.filters["permission"] = permission_label  # FILTER_EDIT → Edit filter rules
    app.jinja_env.filters["wire"] = wire_name  # a form field's snake_case name as the errors name it
    app.jinja_env.globals["list_url"] = list_url
    shell.init_app(app)
