"""Email aliases (groups, seed 5.15): an address of the domain delivering to recipients.

The alias address must be in the domain or one of its domain aliases. A recipient is USER (a
mailbox account), ALIAS (another email alias; cycles are refused) or EXTERNAL_ADDRESS.
Reading needs DOMAIN_READ, writing ALIAS_EDIT.

Tenancy: a recipient is a USER or an ALIAS only for who sees its domain (DOMAIN_READ); for anyone
else it is an EXTERNAL_ADDRESS, with no names. The type is stored as its writer saw it, and shown
as its reader sees it (`recipients_seen`), so an admin with a wider scope cannot leak it to one
with a narrower one.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, exists, select

from ..errors import Conflict, FieldError, Invalid, NotFound
from ..extensions import db
from ..models import Domain, EmailAlias, EmailAliasRecipient, MailUser
from ..permissions import Permission
from ..words import _l
from . import domains, names
from .listing import ListSpec, wildcard
from .principal import Principal


def _recipient_filter(value: str) -> ColumnElement[bool]:
    return exists().where(EmailAliasRecipient.alias_id == EmailAlias.id, wildcard(EmailAliasRecipient.email, value))


LIST_SPEC = ListSpec(
    sorts={"email": EmailAlias.email, "id": EmailAlias.id, "createdDate": EmailAlias.created_at},
    default_sort="email",
    filters={"email": (EmailAlias.email,), "address": (EmailAlias.email,), "recipient": ()},
    conditions={"recipient": _recipient_filter},
    tiebreak=EmailAlias.id, unique_sorts=frozenset({"email"}),
)


def _domain(principal: Principal, domain_pk: int, write: bool) -> Domain:
    return domains.get(principal, domain_pk, Permission.ALIAS_EDIT if write else Permission.DOMAIN_READ)


def list_query(principal: Principal, domain_pk: int) -> Select[tuple[EmailAlias]]:
    domain = _domain(principal, domain_pk, write=False)
    return select(EmailAlias).where(EmailAlias.domain_id == domain.id)


def get(principal: Principal, domain_pk: int, alias_pk: int, *, write: bool = False) -> EmailAlias:
    domain = _domain(principal, domain_pk, write)
    alias = db.session.get(EmailAlias, alias_pk)
    if alias is None or alias.domain_id != domain.id:
        raise NotFound(_l("The domain and/or the email alias may not exist."))
    return alias


def _own_address(domain: Domain, value: str, field: str) -> str:
    email = names.address(value, field)
    part = email.rsplit("@", 1)[1]
    if part != domain.name and part not in {a.name for a in domain.aliases}:
        raise Invalid.on(field, _l("The address must be in %(domain)s or one of its aliases.", domain=domain.name))
    return email


def _address_free(email: str, field: str, exclude: int | None = None) -> None:
    taken = db.session.scalar(select(EmailAlias.id).where(EmailAlias.email == email,
                                                          EmailAlias.id != (exclude or -1)))
    user = db.session.scalar(select(MailUser.id).where(MailUser.email == email))
    if taken is not None or user is not None:
        raise Conflict.on(field, _l("An email alias or a mailbox already exists with this address."))


def _seen(principal: Principal, emails: set[str]) -> tuple[dict[str, tuple[str | None, str | None]], set[str]]:
    """Among `emails`, the users (with their names) and the email aliases of domains the principal sees."""
    if not emails:
        return {}, set()
    visible = select(Domain.id).where(principal.scope(Permission.DOMAIN_READ).domain_clause())
    rows = db.session.execute(select(MailUser.email, MailUser.firstname, MailUser.lastname)
                              .where(MailUser.email.in_(emails), MailUser.domain_id.in_(visible)))
    users = {email: (first, last) for email, first, last in rows}
    aliases = set(db.session.scalars(select(EmailAlias.email).where(EmailAlias.email.in_(emails),
                                                                     EmailAlias.domain_id.in_(visible))))
    return users, aliases


def _kind(principal: Principal, email: str) -> str:
    users, aliases = _seen(principal, {email})
    return "USER" if email in users else "ALIAS" if email in aliases else "EXTERNAL_ADDRESS"


def _reaches(start: str, target: str) -> bool:
    """Whether the alias `start` delivers, directly or through other aliases, to `target`."""
    seen, frontier = set(), [start]
    while frontier:
        current = frontier.pop()
        if current == target:
            return True
        if current in seen:
            continue
        seen.add(current)
        frontier.extend(db.session.scalars(
            select(EmailAliasRecipient.email).join(EmailAlias).where(EmailAlias.email == current)))
    return False


def _recipients(principal: Principal, alias: EmailAlias, values: list[str],
                prefix: str = "") -> list[EmailAliasRecipient]:
    errors: list[FieldError] = []
    existing = {r.email for r in alias.recipients}
    added: list[EmailAliasRecipient] = []
    for i, value in enumerate(values):
        field = f"{prefix}[{i}]"
        try:
            email = names.address(value, field)
        except Invalid as error:
            errors.extend(error.errors)
            continue
        if email in existing:
            continue
        kind = _kind(principal, email)
        if email == alias.email or _reaches(email, alias.email):
            errors.append(FieldError(field, _l("%(email)s delivers back to %(alias)s: that would loop.", email=email,
                                               alias=alias.email)))
            continue
        existing.add(email)
        added.append(EmailAliasRecipient(email=email, type=kind))
    if errors:
        raise Invalid(_l("Invalid recipients."), errors)
    return added


def create(principal: Principal, domain_pk: int, email: str, recipients: list[str] | None) -> EmailAlias:
    domain = _domain(principal, domain_pk, write=True)
    address = _own_address(domain, email, "email")
    _address_free(address, "email")
    alias = EmailAlias(domain_id=domain.id, email=address)
    alias.recipients = _recipients(principal, alias, recipients or [], "recipients")
    db.session.add(alias)
    db.session.flush()
    return alias


def edit(principal: Principal, domain_pk: int, alias_pk: int, email: str, recipients: list[str] | None) -> EmailAlias:
    alias = get(principal, domain_pk, alias_pk, write=True)
    address = _own_address(alias.domain, email, "email")
    if address != alias.email:
        _address_free(address, "email", exclude=alias.id)
        pointing = select(EmailAliasRecipient).where(EmailAliasRecipient.email == alias.email)
        for recipient in db.session.scalars(pointing):
            recipient.email = address  # other aliases keep delivering to it
        alias.email = address
    if recipients is not None:
        alias.recipients = []
        db.session.flush()
        alias.recipients = _recipients(principal, alias, recipients, "recipients")
    db.session.flush()
    return alias


def add_recipients(principal: Principal, domain_pk: int, alias_pk: int, values: list[str]) -> EmailAlias:
    alias = get(principal, domain_pk, alias_pk, write=True)
    alias.recipients.extend(_recipients(principal, alias, values))
    db.session.flush()
    return alias


def delete_recipient(principal: Principal, domain_pk: int, alias_pk: int, recipient_pk: int) -> None:
    alias = get(principal, domain_pk, alias_pk, write=True)
    recipient = next((r for r in alias.recipients if r.id == recipient_pk), None)
    if recipient is None:
        raise NotFound(_l("The recipient is not in this email alias."))
    alias.recipients.remove(recipient)
    db.session.flush()


def delete(principal: Principal, alias_pk: int) -> None:
    alias = db.session.get(EmailAlias, alias_pk)
    if alias is None:
        raise NotFound(_l("The domain and/or the alias may not exist."))
    get(principal, alias.domain_id, alias.id, write=True)
    db.session.delete(alias)
    db.session.flush()


Seen = dict[str, tuple[str, str | None, str | None]]  # recipient address -> (type, firstname, lastname)


def recipients_seen(principal: Principal, aliases: list[EmailAlias]) -> Seen:
    """How the recipients of `aliases` read for the principal, in two queries: a user or an alias of a
    domain it does not see is an EXTERNAL_ADDRESS without names."""
    emails = {r.email for a in aliases for r in a.recipients if r.type != "EXTERNAL_ADDRESS"}
    users, others = _seen(principal, emails)
    seen: Seen = {}
    for email in emails:
        if email in users:
            seen[email] = ("USER", *users[email])
        elif email in others:
            seen[email] = ("ALIAS", None, None)
    return seen
