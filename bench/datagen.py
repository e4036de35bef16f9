"""Bench data: N admins spread over brokers/customers/domains, plus a sysadmin with a token."""

from __future__ import annotations

import random
import secrets
from datetime import datetime

from sqlalchemy import insert, text

from portal.clock import utcnow
from portal.extensions import db
from portal.models import Admin, Authority, Broker, Customer, Domain
from portal.permissions import Permission
from portal.services import domains as domain_service
from portal.services import tokens

FIRST = ["alex", "max", "xena", "john", "maria", "felix", "roxane", "paul", "anna", "dexter", "lena", "omar"]
LAST = ["smith", "fox", "martin", "durand", "lopez", "baxter", "nguyen", "meyer", "rossi", "wilcox"]


def analyze() -> None:
    """What autovacuum would have done by the time anyone reads the data: statistics for the planner (and, on
    PostgreSQL, GIN pending lists merged). Without it a PostgreSQL figure describes no real database."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        db.session.execute(text("ANALYZE"))
        db.session.commit()


def generate(admins: int, domains: int = 200, seed: int = 42) -> str:
    """Fill an empty, migrated database; returns a sysadmin token value."""
    rng = random.Random(seed)
    broker = Broker(name="Bench Broker")
    db.session.add(broker)
    db.session.flush()
    customers = []
    for i in range(max(1, domains // 10)):
        customer = Customer(broker_id=broker.id, name=f"Customer {i}")
        db.session.add(customer)
        customers.append(customer)
    db.session.flush()
    domain_ids = []
    for i in range(domains):
        domain = Domain(customer_id=customers[i % len(customers)].id, name=f"domain{i}.example")
        db.session.add(domain)
        db.session.flush()
        domain_ids.append(domain.id)
    now = utcnow()
    rows = []
    for i in range(admins):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        rows.append({
            "login": f"{first}.{last}{i}", "display_name": f"{first.title()} {last.title()}",
            "email": f"{first}.{last}{i}@domain{i % domains}.example", "password_hash": None, "enabled": True,
            "language": "EN", "sys_admin": False, "session_nonce": secrets.token_hex(8), "created_at": now,
        })
    db.session.execute(insert(Admin), rows)
    ids = [pk for (pk,) in db.session.query(Admin.id).order_by(Admin.id)]
    db.session.execute(insert(Authority), [
        {"admin_id": pk, "object_type": "DOMAIN", "object_id": domain_ids[n % domains],
         "permissions_text": f"{Permission.DOMAIN_READ} {Permission.USER_READ}"}
        for n, pk in enumerate(ids)
    ])
    root = Admin(login="bench-root", email="root@bench.example", sys_admin=True, session_nonce="x")
    db.session.add(root)
    db.session.flush()
    _, value = tokens.issue(root, "bench")
    domain_service.recount_active_users()  # the users were bulk-inserted around the ORM's counting
    db.session.commit()
    analyze()
    return value


def _bench_customer(label: str) -> Customer:
    """A broker and its customer for one benchmark's data."""
    broker = Broker(name=f"{label} Bench Broker")
    db.session.add(broker)
    db.session.flush()
    customer = Customer(broker_id=broker.id, name=f"{label} Bench Customer")
    db.session.add(customer)
    db.session.flush()
    return customer


def _insert_domains(customer_id: int, names: list[str], now: datetime) -> None:
    db.session.execute(insert(Domain), [
        {"customer_id": customer_id, "name": name, "status": "ENABLED", "wblist_priority": "USER",
         "default_language": "EN", "auto_provisioning_on": False, "sender_verify_on": True, "outgoing_subnets": [],
         "end_user_permissions": "", "created_at": now} for name in names])


NAMES = ["anna", "joanna", "hannah", "annie", "marianne", "leanne", "suzanne", "johann", "bob", "eve", "oscar",
         "victor", "peggy", "trent", "walter", "zoe"]


def generate_users(domains_count: int, users: int, seed: int = 7) -> tuple[int, str]:
    """`domains_count` domains, `users` mailbox users in the first one; returns (its id, sysadmin token)."""
    from portal.models import MailUser
    from portal.services import policies

    rng = random.Random(seed)
    customer = _bench_customer("Users")
    now = utcnow()
    _insert_domains(customer.id, [f"bench{i}.example" for i in range(domains_count)], now)
    big = db.session.query(Domain).filter_by(name="bench0.example").one()
    big.policies = [policies.default_policy(big, quarantine=True, retention=False, archive=False)]
    db.session.flush()
    policy_id = big.policies[0].id
    rows = []
    for i in range(users):
        first = rng.choice(NAMES)
        rows.append({"domain_id": big.id, "email": f"{first}.{i:06d}@bench0.example", "firstname": first.title(),
                     "lastname": f"User{i}", "status": "ENABLED", "language": "EN", "policy_id": policy_id,
                     "sender_verify_on": True, "session_nonce": "", "created_at": now})
        if len(rows) == 10000:
            db.session.execute(insert(MailUser), rows)
            rows = []
    if rows:
        db.session.execute(insert(MailUser), rows)
    root = Admin(login="users-bench-root", email="root@bench.example", sys_admin=True, session_nonce="x",
                 password_hash=None)
    db.session.add(root)
    db.session.flush()
    _, value = tokens.issue(root, "bench")
    domain_service.recount_active_users()  # the users were bulk-inserted around the ORM's counting
    db.session.commit()
    analyze()
    return big.id, value


def generate_rules(domains_count: int, users: int, rules: int, seed: int = 11) -> dict[str, object]:
    """`rules` sender rules over `domains_count` domains and `users` mailboxes (a tenth on domains).

    Returns a sysadmin token and a sample of (sender, recipient) pairs to explain."""
    from portal.models import MailUser, SenderRule

    rng = random.Random(seed)
    customer = _bench_customer("Rules")
    now = utcnow()
    _insert_domains(customer.id, [f"rb{i}.example" for i in range(domains_count)], now)
    domain_ids = [pk for (pk,) in db.session.query(Domain.id).filter(Domain.name.like("rb%.example"))
                  .order_by(Domain.id)]
    for start in range(0, users, 20000):
        db.session.execute(insert(MailUser), [
            {"domain_id": domain_ids[i % domains_count], "email": f"u{i}@rb{i % domains_count}.example",
             "status": "ENABLED", "language": "EN", "sender_verify_on": True, "session_nonce": "", "created_at": now}
            for i in range(start, min(users, start + 20000))])
    user_rows = db.session.query(MailUser.id, MailUser.domain_id, MailUser.email).filter(
        MailUser.email.like("u%@rb%.example")).order_by(MailUser.id).all()
    batch = []
    senders = [f"s{n}@spam{n % 5000}.example" for n in range(50000)]
    written = 0
    seen: set[tuple[str, str]] = set()
    while written < rules:
        if rng.random() < 0.1:
            domain_id = rng.choice(domain_ids)
            key, user_id = f"d:{domain_id}", None
        else:
            user_id, domain_id, _email = user_rows[rng.randrange(len(user_rows))]
            key = f"u:{user_id}"
        value = rng.choice(senders) if rng.random() < 0.7 else f"spam{rng.randrange(5000)}.example"
        if (key, value) in seen:
            continue
        seen.add((key, value))
        kind = rng.choice(("ALLOW", "BLOCK", "BLOCK"))
        batch.append({"owner_key": key, "domain_id": domain_id, "user_id": user_id, "value": value, "type": kind,
                      "spf_on": False if kind == "ALLOW" else None, "created_at": now})
        written += 1
        if len(batch) == 50000:
            db.session.execute(insert(SenderRule), batch)
            batch = []
    if batch:
        db.session.execute(insert(SenderRule), batch)
    root = Admin(login="rules-bench-root", email="root@bench.example", sys_admin=True, session_nonce="x")
    db.session.add(root)
    db.session.flush()
    _, value = tokens.issue(root, "bench")
    domain_service.recount_active_users()  # the users were bulk-inserted around the ORM's counting
    db.session.commit()
    analyze()
    pairs = [(rng.choice(senders), user_rows[rng.randrange(len(user_rows))][2]) for _ in range(500)]
    return {"token": value, "pairs": pairs, "user_id": user_rows[0][0]}
