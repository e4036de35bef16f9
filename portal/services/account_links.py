"""What the links of Postern's mails do to an account: sign a mailbox user in, set a password, ask for a reset.

- The link names the account (`portal/services/links.py`); a page never takes an account from a form field. A
  browser signed in as another account is refused (`OtherAccount`): log out first, so that a link someone sent
  cannot swap the session under a signed-in person.
- A link is checked before anything else is (`links.look`), and used (`links.use`) only once the form is valid,
  in the request's transaction: a refused form leaves the link as it was (the page's 4xx rolls back).
- A new password follows the API's rules (`schemas.common.Password`: 10 to 256 characters, no control
  character), ends every session of the account (a new `session_nonce`), retires the account's other unused
  password links and clears the failed sign-ins counted against its name.
- "Forgot my password" answers the same whether the account exists or not: the page always says a mail may be
  on its way; the mail is queued (after the commit, through the outbox) only for an enabled account that signs
  in with a portal password. "Mail me a sign-in link" answers alike (`tasks` picks who gets one).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select, update

from ..clock import utcnow
from ..errors import Forbidden, Invalid, Unprocessable
from ..extensions import db
from ..models import Admin, LinkToken, MailUser
from ..schemas.common import Password
from ..schemas.validation import invalid_from_pydantic
from ..words import _l
from . import admins, auth, links, login_throttle, tasks
from .links import Purpose
from .passwords import hash_password

Account = Admin | MailUser
PASSWORD_PURPOSES = (Purpose.PASSWORD_SETUP, Purpose.PASSWORD_RESET)
MAX_NAME = 320  # the longest address or login "forgot my password" looks up
MAX_ADMINS_PER_ADDRESS = 5  # admins sharing one address each get their own link (and login) in a mail


OTHER_ACCOUNT = _l("This link is for another account. Log out first, then open the link again.")


class OtherAccount(Forbidden):
    """The browser is signed in as another account than the link's."""


class NoPortalPassword(Unprocessable):
    """The account signs in with its mailbox's password (its platform's authType), not one of the portal."""


@dataclass(frozen=True)
class Opened:
    """A link that may be used now, and the account it names."""

    token: LinkToken
    account: Account

    @property
    def is_admin(self) -> bool:
        return isinstance(self.account, Admin)

    @property
    def name(self) -> str:
        """How the page names the account: a mailbox user's address, an administrator's login."""
        return self.account.login if isinstance(self.account, Admin) else self.account.email


def _account(token: LinkToken) -> Account:
    account: Account | None = (db.session.get(MailUser, token.user_id) if token.user_id is not None
                               else db.session.get(Admin, token.admin_id))
    if account is None or not account.enabled:  # deleted rows take their links along; a disabled account: none
        raise links.LinkRefused(links.UNKNOWN)
    return account


def _same_account(signed_in: Account | None, account: Account) -> None:
    if signed_in is not None and (type(signed_in) is not type(account) or signed_in.id != account.id):
        raise OtherAccount(OTHER_ACCOUNT)


def open_link(value: str, purpose: Purpose, signed_in: Account | None = None) -> Opened:
    """The link and its account, for its confirm page; `LinkRefused` (410) or `OtherAccount` (403). Changes
    nothing. `signed_in`: the account of the browser's session (None when anonymous or viewing as a user)."""
    token = links.look(value, purpose)
    account = _account(token)
    if purpose is Purpose.LOGIN and not isinstance(account, MailUser):
        raise links.LinkRefused(links.UNKNOWN)
    _same_account(signed_in, account)
    return Opened(token, account)


def sign_in(value: str, signed_in: Account | None = None) -> MailUser:
    """Use a login link: the mailbox user it names (the view starts their session)."""
    opened = open_link(value, Purpose.LOGIN, signed_in)
    links.use(value, Purpose.LOGIN)
    assert isinstance(opened.account, MailUser)
    auth.record_login(opened.account)
    return opened.account


class _NewPassword(BaseModel):
    password: Password


def check_new_password(password: str, confirm: str) -> None:
    """The password rules (the API's `Password`) and the confirmation; `Invalid` naming the field."""
    try:
        _NewPassword(password=password)
    except ValidationError as error:
        raise invalid_from_pydantic(error) from error
    if confirm != password:
        raise Invalid.on("confirm", _l("The two passwords are not the same."))


def signs_in_with_portal_password(account: Account) -> bool:
    if isinstance(account, Admin):
        return True
    platform = account.platform or account.domain.default_platform
    return platform is None or platform.auth_type == "local"


def set_password(value: str, purpose: Purpose, password: str, confirm: str,
                 signed_in: Account | None = None) -> Account:
    """Use a setup or reset link: the account's new password; every session of the account ends."""
    if purpose not in PASSWORD_PURPOSES:
        raise ValueError(f"not a password link: {purpose}")
    opened = open_link(value, purpose, signed_in)
    account = opened.account
    if not signs_in_with_portal_password(account):
        raise NoPortalPassword(_l("Your account signs in with the password of your mailbox: change it in your "
                                  "mail program or ask your administrator."))
    check_new_password(password, confirm)
    links.use(value, purpose)
    account.password_hash = hash_password(password)
    auth.end_sessions(account)
    # the name's failed sign-ins are forgotten: a guesser who locked it out does not lock out the new password
    login_throttle.succeeded(login_throttle.key("admin", account.login) if isinstance(account, Admin)
                             else login_throttle.key("user", account.email))
    owner = LinkToken.admin_id if isinstance(account, Admin) else LinkToken.user_id
    db.session.execute(update(LinkToken).where(
        owner == account.id, LinkToken.purpose.in_([str(p) for p in PASSWORD_PURPOSES]),
        LinkToken.used_at.is_(None)).values(used_at=utcnow()).execution_options(synchronize_session=False))
    db.session.flush()
    return account


def clean_name(name: str) -> str:
    """The address or login as typed, checked: `Invalid` on the field `name` for an empty or hostile value."""
    name = name.strip()
    if not name:
        raise Invalid.on("name", _l("Give your address or login."))
    if len(name) > MAX_NAME or any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise Invalid.on("name", _l("This is not an address or a login."))
    return name


def accounts_named(kind: str, name: str) -> list[Account]:
    """The enabled accounts a reset may go to: a mailbox user by address (`kind` "user"), an administrator by
    login or else by address (`kind` "admin")."""
    found: list[Account] = []
    if kind == "user":
        user = db.session.scalar(select(MailUser).where(MailUser.email == name.lower()))
        if user is not None and user.enabled and signs_in_with_portal_password(user):
            found.append(user)
        return found
    admin = admins.find_by_login(name)
    if admin is not None:
        return [admin] if admin.enabled and admin.email else []
    if "@" in name:
        found.extend(db.session.scalars(select(Admin).where(func.lower(Admin.email) == name.lower(),
                                                            Admin.enabled.is_(True))
                                        .order_by(Admin.id).limit(MAX_ADMINS_PER_ADDRESS)))
    return found


def forgot(kind: str, name: str) -> None:
    """Queue a password reset mail to each account of that name; nothing when there is none (same answer)."""
    if kind not in ("user", "admin"):
        raise ValueError(kind)
    for account in accounts_named(kind, clean_name(name)):
        _queue_reset(account)


def mail_login_link(address: str) -> None:
    """"Mail me a sign-in link": checked like "forgot" (`Invalid` for an empty or hostile value); the link goes
    only to a known, enabled mailbox user (`tasks` decides and limits), the page answers the same."""
    address = clean_name(address).lower()
    user = db.session.scalar(select(MailUser).where(MailUser.email == address))
    if user is None or not user.enabled:
        return
    tasks.queue_login_link_for_address(address)


def _queue_reset(account: Account) -> None:
    """The reset mail's outbox row (the link is made when the job runs)."""
    tasks.queue_password_reset(account)
