"""Browser sessions of admins (Flask-Login over the signed session cookie).

The session id embeds the account's `session_nonce`: changing the password, disabling the account
or logging out everywhere changes the nonce, so every older cookie stops working.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, session
from flask_login import UserMixin, current_user, login_user, logout_user

from ..extensions import db, login_manager
from ..models import Admin
from ..services.principal import Principal, principal_for_admin


class AdminSession(UserMixin):
    def __init__(self, admin: Admin) -> None:
        self.admin = admin
        self.principal = principal_for_admin(admin)

    def get_id(self) -> str:
        return f"a:{self.admin.id}:{self.admin.session_nonce}"

    @property
    def is_active(self) -> bool:
        return self.admin.enabled


def _load(session_id: str) -> AdminSession | None:
    kind, _, rest = session_id.partition(":")
    pk, _, nonce = rest.partition(":")
    if kind != "a" or not pk.isdigit():
        return None
    admin = db.session.get(Admin, int(pk))
    if admin is None or not admin.enabled or admin.session_nonce != nonce:
        return None
    return AdminSession(admin)


def init_app(app: Flask) -> None:
    login_manager.user_loader(_load)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "basic"


def start(admin: Admin) -> None:
    """Log in with a fresh session: nothing of the anonymous session survives (no fixation)."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    login_user(AdminSession(admin))
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
