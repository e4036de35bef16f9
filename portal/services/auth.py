"""Interactive login of admins: password, then an optional TOTP second factor."""

from __future__ import annotations

import secrets
import time

import pyotp
import segno
from flask import current_app
from sqlalchemy import select

from ..clock import utcnow
from ..crypto import decrypt, encrypt
from ..errors import Invalid
from ..extensions import db
from ..integrations.mailstore import check_login
from ..models import Admin, MailUser
from ..words import _l
from . import admins, login_throttle
from .passwords import verify_password

TOTP_ISSUER = "Postern"


def check_password(login: str, password: str) -> Admin:
    """The enabled admin with that login and password; one vague error otherwise, `Throttled` after too
    many failures for that login (whether it exists or not)."""
    name_key = login_throttle.key("admin", login)
    login_throttle.check(name_key)
    admin = admins.find_by_login(login) if login else None
    ok = verify_password(admin.password_hash if admin else None, password)
    if admin is None or not ok or not admin.enabled:
        login_throttle.failed(name_key)
        raise Invalid.on("password", _l("Wrong login or password, or the account is disabled."))
    login_throttle.succeeded(name_key)
    return admin


def check_user_password(email: str, password: str) -> MailUser:
    """The enabled mailbox user with that address and password; one vague error otherwise.

    The password is the portal's own, or, when the user's platform says authType imap, the one
    the platform's IMAP server accepts. `Throttled` after too many failures for that address."""
    name_key = login_throttle.key("user", email)
    login_throttle.check(name_key)
    user = db.session.scalar(select(MailUser).where(MailUser.email == email.strip().lower())) if email else None
    platform = (user.platform or user.domain.default_platform) if user else None
    kind = platform.auth_type if platform is not None else "local"
    if kind == "imap" and user is not None and platform is not None and password:
        data = platform.auth_data or {}
        use_ssl = bool(data.get("use_ssl"))
        port = int(data.get("port") or (993 if use_ssl else 143))
        ok = check_login(data.get("host") or platform.transport_dest, port, user.email, password,
                         use_ssl=use_ssl, cadata=data.get("cert_pem"),
                         timeout=float(current_app.config.get("IMAP_TIMEOUT", 10)))
    elif kind not in ("local", "imap"):
        raise Invalid.on("password", _l("Accounts of this domain sign in with %(kind)s, which this portal does not "
                                        "offer yet; ask your administrator.", kind=kind))
    else:
        ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.enabled:
        login_throttle.failed(name_key)
        raise Invalid.on("password", _l("Wrong address or password, or the account is disabled."))
    login_throttle.succeeded(name_key)
    return user


def record_login(admin: Admin | MailUser) -> None:
    admin.last_connection_date = utcnow()
    if not admin.session_nonce:
        admin.session_nonce = secrets.token_hex(8)
    db.session.flush()


def end_sessions(account: Admin | MailUser) -> None:
    """Logout on the server side: a new nonce, so every session cookie of the account (this browser's,
    a copy of it, the account's other browsers) stops working."""
    account.session_nonce = secrets.token_hex(8)
    db.session.flush()


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_qr_svg(admin: Admin, secret: str) -> str:
    """The enrolment QR code as an SVG data URI (no inline script, CSP-safe as an <img>)."""
    uri = pyotp.TOTP(secret).provisioning_uri(name=admin.login, issuer_name=TOTP_ISSUER)
    return segno.make(uri, error="m").svg_data_uri(scale=5)


def _accept_code(admin: Admin, secret: str, code: str) -> bool:
    """Accept a code of the current, previous or next 30 s step, each step only once."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return False
    totp = pyotp.TOTP(secret)
    now_step = int(time.time()) // totp.interval
    for step in (now_step - 1, now_step, now_step + 1):
        if admin.totp_last_counter is not None and step <= admin.totp_last_counter:
            continue
        if secrets.compare_digest(totp.generate_otp(step), code):
            admin.totp_last_counter = step
            db.session.flush()
            return True
    return False


def enable_totp(admin: Admin, secret: str, code: str) -> None:
    if not _accept_code(admin, secret, code):
        raise Invalid.on("code", _l("This code is not valid. Check the clock of your device and try again."))
    admin.totp_secret = encrypt(secret)
    db.session.flush()


def check_totp(admin: Admin, code: str) -> None:
    """The second factor; `Throttled` after too many wrong codes for this admin."""
    name_key = login_throttle.key("totp", str(admin.id))
    login_throttle.check(name_key)
    if admin.totp_secret is None or not _accept_code(admin, decrypt(admin.totp_secret), code):
        login_throttle.failed(name_key)
        raise Invalid.on("code", _l("This code is not valid or was already used."))
    login_throttle.succeeded(name_key)


def disable_totp(admin: Admin) -> None:
    admin.totp_secret = None
    admin.totp_last_counter = None
    db.session.flush()
