"""Demo data for `make run`: idempotent, realistic enough to click through."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from . import demo_mail
from .extensions import db
from .models import Admin, Authority, Broker, Customer, Domain, DomainAlias, MailUser, OutgoingProvider, Platform
from .permissions import ADMIN_PERMISSIONS, END_USER_PERMISSIONS, ObjectType
from .services import policies
from .services.passwords import hash_password

PASSWORD = "postern-demo"

USERS = (
    ("alice", "Alice", "Martin"), ("bob", "Bob", "Durand"), ("carol", "Carol", "Smith"), ("dave", "Dave", "Jones"),
    ("erin", "Erin", "Moreau"), ("frank", "Frank", "Meyer"), ("grace", "Grace", "Hopper"),
    ("heidi", "Heidi", "Klum"), ("ivan", "Ivan", "Petrov"), ("judy", "Judy", "Garland"),
    ("mallory", "Mallory", "Evans"), ("oscar", "Oscar", "Wilde"), ("peggy", "Peggy", "Olson"),
    ("trent", "Trent", "Reznor"), ("victor", "Victor", "Hugo"), ("walter", "Walter", "White"),
    ("anna", "Anna", "Karenina"), ("joanna", "Joanna", "Newsom"),
)


def _equip(domain: Domain, relay: str, *, archive: bool) -> None:
    """Give a demo domain its default policy, a stricter one, a relay and an alias (once)."""
    if not domain.policies:
        domain.policies.append(policies.default_policy(domain, quarantine=True, retention=True, archive=archive))
        strict = policies.default_policy(domain, quarantine=True, retention=False, archive=False)
        strict.name, strict.is_default, strict.spam_score, strict.mail_size_limit = "Strict", False, 3.5, 10
        strict.relay_props = {**strict.relay_props, "spamScoreLimit": 6.0, "prefixSpam": "[SPAM]"}
        domain.policies.append(strict)
    if not domain.platforms:
        domain.platforms.append(Platform(name="Exchange on premises", transport_dest=relay, transport_port=25,
                                         transport_type="SMTP", is_default=True))
    if not domain.end_user_permissions:
        domain.end_user_permissions = " ".join(END_USER_PERMISSIONS)


def _get_or_add(model, **where):
    row = db.session.scalar(select(model).filter_by(**where))
    if row is None:
        row = model(**where)
        db.session.add(row)
        db.session.flush()
    return row


def seed() -> list[tuple[str, str]]:
    broker = _get_or_add(Broker, name="Demo Broker")
    customer = _get_or_add(Customer, broker_id=broker.id, name="Acme Corporation")
    main = _get_or_add(Domain, customer_id=customer.id, name="acme.example")
    other = _get_or_add(Domain, customer_id=customer.id, name="acme-labs.example")
    _equip(main, "exchange.acme.example", archive=True)
    _equip(other, "mail.acme-labs.example", archive=False)
    if db.session.scalar(select(DomainAlias.id).where(DomainAlias.name == "acme.test")) is None:
        main.aliases.append(DomainAlias(name="acme.test"))
    provider = db.session.scalar(select(OutgoingProvider).where(OutgoingProvider.name == "Microsoft 365"))
    if provider is None:
        provider = OutgoingProvider(name="Microsoft 365", spf_provider="spf.protection.outlook.com")
        db.session.add(provider)
        main.outgoing_providers.append(provider)
    db.session.flush()
    everything = [str(p) for p in ADMIN_PERMISSIONS]
    accounts = [
        ("admin", "Postern Admin", True, None, "system administrator"),
        ("broker", "Brenda Broker", False, (ObjectType.BROKER, broker.id), "broker admin of Demo Broker"),
        ("acme-admin", "Carl Customer", False, (ObjectType.CUSTOMER, customer.id),
         "customer admin of Acme Corporation"),
        ("postmaster", "Dana Domain", False, (ObjectType.DOMAIN, main.id), "domain admin of acme.example"),
    ]
    hashed = None
    for login, name, sysadmin, grant, _role in accounts:
        if db.session.scalar(select(Admin.id).where(Admin.login == login)) is not None:
            continue
        hashed = hashed or hash_password(PASSWORD)
        admin = Admin(login=login, display_name=name, email=f"{login}@acme.example", password_hash=hashed,
                      sys_admin=sysadmin, session_nonce=secrets.token_hex(8))
        if grant:
            admin.authorities.append(Authority(object_type=str(grant[0]), object_id=grant[1],
                                               permissions=[p for p in everything
                                                            if grant[0] in ADMIN_PERMISSIONS[p].scopes]))
        db.session.add(admin)
    for domain in (main, other):
        for n, (local, first, last) in enumerate(USERS):
            email = f"{local}@{domain.name}"
            user = db.session.scalar(select(MailUser).where(MailUser.email == email))
            if user is None:
                user = MailUser(domain_id=domain.id, email=email)
                db.session.add(user)
            if n < 2 and domain is main and user.password_hash is None:
                hashed = hashed or hash_password(PASSWORD)
                user.password_hash = hashed  # alice and bob can log in to their own portal
                user.sign = user.sign or f"<p><b>{first} {last}</b><br>{domain.customer.name}</p>"
            if user.firstname is None:
                user.firstname, user.lastname = first, last
                user.platform = domain.default_platform
                user.policy = domain.policies[1] if n % 5 == 4 else domain.default_policy
                user.status = "DISABLED" if n == 7 else "ENABLED"
    db.session.flush()
    demo_mail.seed([f"{local}@{main.name}" for local, _first, _last in USERS[:6]])
    return [(login, role) for login, _n, _s, _g, role in accounts] + [
        ("alice@acme.example", "mailbox user (portal: /me/login)")]
