"""Admin pages: dashboard, administrator accounts, one's own account and API tokens."""

from flask import Response, redirect, url_for
from flask_login import current_user, login_required

from .blueprint import bp


@bp.before_request
@login_required
def _require_login() -> Response | None:
    """Every admin page needs a logged-in admin; a mailbox user goes to their own portal."""
    if current_user.kind != "admin":
        return redirect(url_for("user.home"))
    return None


from . import (  # noqa: E402, F401
    account,
    admins,
    customers,
    dashboard,
    digest,
    dkim,
    domains,
    health,
    installation,
    jobs,
    mailqueue,
    mailservers,
    policies,
    providers,
    quarantine,
    quarantine_search,
    relay_health,
    rules,
    services,
    tracking,
    users,
)
