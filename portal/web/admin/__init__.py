"""Admin pages: dashboard, administrator accounts, one's own account and API tokens."""

from flask import Blueprint
from flask_login import login_required

bp = Blueprint("admin", __name__)


@bp.before_request
@login_required
def _require_login() -> None:
    """Every admin page needs a logged-in admin."""


from . import account, admins, dashboard, domains, policies, rules, users  # noqa: E402, F401
