"""Demo data for `make run`: idempotent, realistic enough to click through."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from .extensions import db
from .models import Admin, Authority, Broker, Customer, Domain, MailUser
from .permissions import ADMIN_PERMISSIONS, ObjectType
from .services.passwords import hash_password

PASSWORD = "postern-demo"

USERS = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy")


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
        for local in USERS:
            email = f"{local}@{domain.name}"
            if db.session.scalar(select(MailUser.id).where(MailUser.email == email)) is None:
                db.session.add(MailUser(domain_id=domain.id, email=email))
    db.session.flush()
    return [(login, role) for login, _n, _s, _g, role in accounts]
