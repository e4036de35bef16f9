"""Browser sessions of admins and of mailbox users (Flask-Login over the signed session cookie).

The session id embeds the account's `session_nonce`: changing the password, disabling the account
or logging out (`auth.end_sessions`: every session of the account) changes the nonce, so every older
cookie, and every copy of it, stops working.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, session
from flask_babel import ngettext
from flask_login import UserMixin, current_user, login_user, logout_user

from ..extensions import db, login_manager
from ..models import Admin, MailUser
from ..services import audit
from ..services.login_throttle import Throttled
from ..services.principal import Principal, principal_for_admin, principal_for_user


class AdminSession(UserMixin):
    kind = "admin"
    impersonator = None

    def __init__(self, admin: Admin) -> None:
        self.admin = admin
        self.principal = principal_for_admin(admin)

    def get_id(self) -> str:
        return f"a:{self.admin.id}:{self.admin.session_nonce}"

    @property
    def is_active(self) -> bool:
        return self.admin.enabled


class UserSession(UserMixin):
    """A mailbox user in their own portal, or an administrator viewing it as them (`impersonator`)."""

    kind = "user"
    admin = None

    def __init__(self, user: MailUser, impersonator: Admin | None = None) -> None:
        self.user = user
        self.impersonator = impersonator
        self.principal = principal_for_user(user)

    def get_id(self) -> str:
        if self.impersonator is not None:
            admin = self.impersonator
            return f"i:{self.user.id}:{self.user.session_nonce}:{admin.id}:{admin.session_nonce}"
        return f"u:{self.user.id}:{self.user.session_nonce}"

    @property
    def is_active(self) -> bool:
        return self.user.enabled


def _load(session_id: str) -> AdminSession | UserSession | None:
    if session_id.startswith("i:"):
        return _load_impersonation(session_id)
    kind, _, rest = session_id.partition(":")
    pk, _, nonce = rest.partition(":")
    if not pk.isdigit():
        return None
    if kind == "a":
        admin = db.session.get(Admin, int(pk))
        if admin is None or not admin.enabled or admin.session_nonce != nonce:
            return None
        return AdminSession(admin)
    if kind == "u":
        user = db.session.get(MailUser, int(pk))
        if user is None or not user.enabled or user.session_nonce != nonce:
            return None
        return UserSession(user)
    return None


def _load_impersonation(session_id: str) -> UserSession | None:
    """Valid while the user and the admin are enabled, neither nonce changed and IMPERSONATE still holds."""
    parts = session_id.split(":")
    if len(parts) != 5 or not parts[1].isdigit() or not parts[3].isdigit():
        return None
    user, admin = db.session.get(MailUser, int(parts[1])), db.session.get(Admin, int(parts[3]))
    if user is None or admin is None or not user.enabled or not admin.enabled:
        return None
    if user.session_nonce != parts[2] or admin.session_nonce != parts[4] or not audit.may_impersonate(admin, user):
        return None
    return UserSession(user, impersonator=admin)


def init_app(app: Flask) -> None:
    login_manager.user_loader(_load)
    login_manager.login_view = "auth.login"
    login_manager.blueprint_login_views = {"user": "user.login"}
    login_manager.login_message = None
    login_manager.session_protection = "basic"


def start(account: Admin | MailUser) -> None:
    """Log in with a fresh session: nothing of the anonymous session survives (no fixation)."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    login_user(AdminSession(account) if isinstance(account, Admin) else UserSession(account))
    session.permanent = True


def impersonate(admin: Admin, user: MailUser) -> None:
    """The admin's browser now shows the user's portal; `stop_impersonating` goes back."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    login_user(UserSession(user, impersonator=admin))
    session.permanent = True


def end() -> None:
    logout_user()
    session.clear()


def current_principal() -> Principal:
    return current_user.principal


def safe_next(target: str | None, default: str) -> str:
    """Only a path on this site: no scheme, no host, no `//` or backslash tricks."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return default
    return target


def refused(error: Throttled) -> str:
    """What the login form says next to the field while the account name is refused (`login_throttle`)."""
    if error.retry_after < 60:
        return ngettext("Too many failed sign-ins for this account. Try again in %(num)d second.",
                        "Too many failed sign-ins for this account. Try again in %(num)d seconds.",
                        error.retry_after)
    return ngettext("Too many failed sign-ins for this account. Try again in %(num)d minute.",
                    "Too many failed sign-ins for this account. Try again in %(num)d minutes.",
                    -(-error.retry_after // 60))


def with_retry_after(response: Response, error: Throttled) -> Response:
    response.headers["Retry-After"] = str(error.retry_after)
    return response
