"""DKIM keys of domains (seed 5.6) and their rotation (a Postern extension).

Rules this module keeps:
- A domain has at most one `active` key (it signs; a partial unique index says so too), at most one `pending`
  key (a rotation's new key, under another selector), and any number of `retired` keys (former active keys,
  kept so that the page can say which DNS record may go). A selector is unique within a domain.
- A pending key becomes active only when DNS serves exactly that key at `<selector>._domainkey.<name>` for the
  domain and every alias (`check_rotation`); the active one is retired at the same moment. DNS is read before
  anything is written, so a lookup that fails (503) leaves every key as it was.
- Private keys are Fernet-encrypted at rest (`portal.crypto`), read only by the data-plane export; no answer
  or page carries one. Every refusal is raised before the first write.
- The seed's routes (create, replace, delete) are for system administrators; the rotation needs DKIM_EDIT.
- Every change of what signs (or may sign soon) asks for the data-plane export (`rules_changed`).

For the health checks: `active_key(domain)`, `public_keys(domain)` (active + pending) and `record_name()`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import delete, select

from .. import crypto
from ..clock import utcnow
from ..errors import Conflict, Invalid, NotFound, ServiceError
from ..extensions import db
from ..integrations import dkim_keys, dns
from ..models import DkimKey, Domain
from ..permissions import Permission
from ..words import Message, _l, ngettext
from . import domains, names, options
from .changes import rules_changed
from .principal import Principal

log = logging.getLogger(__name__)

ACTIVE, PENDING, RETIRED = "active", "pending", "retired"
DEFAULT_SELECTOR, DEFAULT_BITS = "protect", 2048
MAX_CHECKS_PER_RUN = 1000  # domains the hourly job looks at in one run (the oldest rotations first)


# --- reading (also for the health checks) -------------------------------------------------------------------

def keys(domain: Domain) -> list[DkimKey]:
    """Every key of the domain: active first, then pending, then retired (newest first)."""
    order = {ACTIVE: 0, PENDING: 1, RETIRED: 2}
    rows = db.session.scalars(select(DkimKey).where(DkimKey.domain_id == domain.id))
    return sorted(rows, key=lambda k: (order.get(k.state, 3), -(k.retired_at or k.created_at).timestamp()))


def active_key(domain: Domain) -> DkimKey | None:
    """The key that signs the domain's mail, if any."""
    return db.session.scalar(select(DkimKey).where(DkimKey.domain_id == domain.id, DkimKey.state == ACTIVE))


def pending_key(domain: Domain) -> DkimKey | None:
    return db.session.scalar(select(DkimKey).where(DkimKey.domain_id == domain.id, DkimKey.state == PENDING))


def public_keys(domain: Domain) -> list[DkimKey]:
    """The keys DNS should serve: the active one, and a rotation's pending one."""
    return [k for k in keys(domain) if k.state in (ACTIVE, PENDING)]


def names_of(domain: Domain) -> list[str]:
    """The names a key is published for: the domain first, then its aliases (by name), as the seed lists them."""
    return [domain.name, *(alias.name for alias in domain.aliases)]


def record_name(selector: str, name: str) -> str:
    return f"{selector}._domainkey.{name}"


def record_value(key: DkimKey) -> str:
    return f"v=DKIM1; p={key.public_key}"


def records(domain: Domain, key: DkimKey | None = None) -> list[str]:
    """The seed's strings `<selector>._domainkey.<name> TXT v=DKIM1; p=<b64>`, for the domain and each alias;
    of the active key unless `key` is given; [] without one."""
    key = key or active_key(domain)
    if key is None:
        return []
    return [f"{record_name(key.selector, name)} TXT {record_value(key)}" for name in names_of(domain)]


@dataclass(frozen=True)
class KeyView:
    """A key as a page shows it: its state, and its records as (name, value) pairs (domain first)."""

    key: DkimKey
    records: list[tuple[str, str]]


@dataclass(frozen=True)
class Overview:
    active: KeyView | None
    pending: KeyView | None
    retired: list[KeyView]


def overview(domain: Domain) -> Overview:
    """The domain's keys for its DKIM tab (the caller has checked that the domain is in sight)."""
    views: dict[str, list[KeyView]] = {ACTIVE: [], PENDING: [], RETIRED: []}
    for key in keys(domain):
        views.setdefault(key.state, []).append(KeyView(key, [(record_name(key.selector, name), record_value(key))
                                                             for name in names_of(domain)]))
    return Overview(next(iter(views[ACTIVE]), None), next(iter(views[PENDING]), None), views[RETIRED])


def private_pem(key: DkimKey) -> str:
    """The private key in PEM: for the data-plane export only, never for an answer."""
    return crypto.decrypt(key.private_key_enc)


def default_selector(domain: Domain) -> str:
    value = options.effective(options.domain_chain(domain), "DKIM_SELECTOR") or DEFAULT_SELECTOR
    try:
        return names.dkim_selector(value, "selector")
    except Invalid:
        return DEFAULT_SELECTOR


def default_bits(domain: Domain) -> int:
    value = options.effective(options.domain_chain(domain), "DKIM_KEY_BITS") or str(DEFAULT_BITS)
    return int(value) if value.isdigit() and int(value) in dkim_keys.ALLOWED_BITS else DEFAULT_BITS


# --- the seed's routes: system administrators ------------------------------------------------------------------

def _sysadmin_domain(principal: Principal, domain_pk: int) -> Domain:
    """404 unless the domain is in sight, then 403 unless a system administrator (the seed: "sysadmin required")."""
    domain = domains.get(principal, domain_pk, Permission.DOMAIN_READ)
    principal.require_sysadmin()
    return domain


def _hold(domain: Domain) -> None:
    """Serialize the writers of one domain's keys (two POSTs, two rotations at once: the second sees the first's
    key): PostgreSQL locks the domain's row; SQLite takes its write lock. Never held across a DNS lookup."""
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        db.session.execute(select(Domain.id).where(Domain.id == domain.id).with_for_update())
    elif conn.dialect.name == "sqlite":
        raw = conn.connection.dbapi_connection
        if raw is not None and not raw.in_transaction:  # type: ignore[attr-defined]
            raw.execute("BEGIN IMMEDIATE")  # type: ignore[attr-defined]


def get_records(principal: Principal, domain_pk: int) -> list[str]:
    """The active key's records (404 when the domain has no key)."""
    domain = domains.get(principal, domain_pk, Permission.DOMAIN_READ)
    found = records(domain)
    if not found:
        raise NotFound(_l("No DKIM values found for this domain."))
    return found


def _new_key(domain: Domain, selector: str, state: str, private: str, public: str, bits: int) -> DkimKey:
    now = utcnow()
    key = DkimKey(domain_id=domain.id, selector=selector, state=state, bits=bits,
                  private_key_enc=crypto.encrypt(private), public_key=public, created_at=now,
                  activated_at=now if state == ACTIVE else None)
    db.session.add(key)
    db.session.flush()
    return key


@dataclass(frozen=True)
class Replacement:
    """What PUT may change (the seed's DkimDTO): a key pair, the selector, or both."""

    private_key: str | None = None
    public_key: str | None = None
    selector: str | None = None


def replace(principal: Principal, domain_pk: int, change: Replacement) -> list[str]:
    """Replace the active key's pair and/or its selector; with a pair and no key yet, it becomes the key.

    The private key is PEM (RSA, 1024 bits or more); a public key given with it must be its own."""
    domain = _sysadmin_domain(principal, domain_pk)
    if change.private_key is None and change.public_key is None and change.selector is None:
        raise Invalid.on("body", _l("Give privateKey (and publicKey), selector, or both."))
    pair = _given_pair(change)
    selector = names.dkim_selector(change.selector, "selector") if change.selector is not None else None
    _hold(domain)
    current = active_key(domain)
    if current is None and pair is None:
        raise NotFound(_l("No DKIM values found for this domain: give a private key to set one."))
    target = selector or (current.selector if current else default_selector(domain))
    _free_selector(domain, target, keep=current)
    if current is None:
        assert pair is not None
        current = _new_key(domain, target, ACTIVE, pair[0], pair[1], pair[2])
    else:
        current.selector = target
        if pair is not None:
            current.private_key_enc, current.public_key, current.bits = crypto.encrypt(pair[0]), pair[1], pair[2]
            current.created_at = current.activated_at = utcnow()
        db.session.flush()
    rules_changed()
    return records(domain, current)


def create(principal: Principal, domain_pk: int, given: Replacement | None = None) -> list[str]:
    """The domain's first key; 409 when it has one already. Generated (size from the option DKIM_KEY_BITS) unless
    `given` carries a pair; under `given.selector`, else the option DKIM_SELECTOR."""
    domain = _sysadmin_domain(principal, domain_pk)
    exists = Conflict(_l("The domain has a DKIM key already: replace, rotate or delete it first."))
    if keys(domain):
        raise exists
    pair = _given_pair(given) if given is not None else None
    selector = names.dkim_selector(given.selector, "selector") if given and given.selector is not None \
        else default_selector(domain)
    if pair is None:
        bits = default_bits(domain)
        private, public = dkim_keys.generate(bits)  # before the hold: a 4096-bit key takes a second or two
        pair = (private, public, bits)
    _hold(domain)
    if keys(domain):
        raise exists
    key = _new_key(domain, selector, ACTIVE, *pair)
    rules_changed()
    return records(domain, key)


def _given_pair(change: Replacement) -> tuple[str, str, int] | None:
    """A pair given in a DkimDTO, checked: (PKCS#8 PEM, p= value, bits); None when it gives no key."""
    if change.public_key is not None and change.private_key is None:
        raise Invalid.on("privateKey", _l("A public key alone cannot sign: give its private key too."))
    if change.private_key is None:
        return None
    private = dkim_keys.load_private(change.private_key, "privateKey")
    if change.public_key is not None:
        public = dkim_keys.load_public(change.public_key, "publicKey")
        if not dkim_keys.same_key(private, public):
            raise Invalid.on("publicKey", _l("The public key is not the private key's: the pair does not match."))
    return dkim_keys.private_pem(private), dkim_keys.public_b64(private.public_key()), private.key_size


def _free_selector(domain: Domain, selector: str, keep: DkimKey | None) -> None:
    """Make `selector` usable for a key of the domain: a retired key under it goes (its record is obsolete);
    a pending one is a conflict (a rotation is preparing it)."""
    for key in keys(domain):
        if key.selector != selector or key is keep:
            continue
        if key.state == RETIRED:
            db.session.delete(key)
            db.session.flush()
        else:
            raise Conflict.on("selector", _l("The selector %(selector)s is in use by another key of this domain.",
                                             selector=selector))


def remove(principal: Principal, domain_pk: int) -> None:
    """Delete every DKIM key of the domain (404 when it has none)."""
    domain = _sysadmin_domain(principal, domain_pk)
    _hold(domain)
    if not keys(domain):
        raise NotFound(_l("No DKIM values found for this domain."))
    db.session.execute(delete(DkimKey).where(DkimKey.domain_id == domain.id))
    db.session.flush()
    rules_changed()


# --- rotation (a Postern extension): DKIM_EDIT -------------------------------------------------------------------

def _editable(principal: Principal, domain_pk: int) -> Domain:
    return domains.get(principal, domain_pk, Permission.DKIM_EDIT)


def key_list(principal: Principal, domain_pk: int) -> tuple[Domain, list[DkimKey]]:
    domain = domains.get(principal, domain_pk, Permission.DOMAIN_READ)
    return domain, keys(domain)


def start_rotation(principal: Principal, domain_pk: int, selector: str | None = None) -> tuple[DkimKey, list[str]]:
    """Prepare a new key under another selector while the active one keeps signing; its records to publish.

    The key is made before the domain is held (a 4096-bit key takes a second or two), then the rules are
    checked again under the hold."""
    domain = _editable(principal, domain_pk)
    chosen = _rotation_selector(domain, selector)
    bits = default_bits(domain)
    private, public = dkim_keys.generate(bits)
    _hold(domain)
    chosen = _rotation_selector(domain, selector)
    _free_selector(domain, chosen, keep=None)
    key = _new_key(domain, chosen, PENDING, private, public, bits)
    rules_changed()
    return key, records(domain, key)


def _rotation_selector(domain: Domain, selector: str | None) -> str:
    """The new key's selector, if a rotation may start: an active key, none pending, another selector."""
    current = active_key(domain)
    if current is None:
        raise Conflict(_l("The domain has no active DKIM key to rotate: create one first."))
    if pending_key(domain) is not None:
        raise Conflict(_l("A rotation is already pending: check DNS or cancel it first."))
    if selector is None or not selector.strip():
        raise Invalid.on("selector", _l("Give the new key's selector."))
    chosen = names.dkim_selector(selector, "selector")
    if chosen == current.selector:
        raise Invalid.on("selector", _l("The new selector must differ from the active one (%(selector)s).",
                                        selector=current.selector))
    return chosen


def cancel_rotation(principal: Principal, domain_pk: int) -> None:
    domain = _editable(principal, domain_pk)
    _hold(domain)
    key = pending_key(domain)
    if key is None:
        raise NotFound(_l("No rotation is pending for this domain."))
    db.session.delete(key)
    db.session.flush()
    rules_changed()


@dataclass(frozen=True)
class NameCheck:
    name: str  # the record's name, `<selector>._domainkey.<domain or alias>`
    served: bool  # DNS serves exactly the pending key there
    found: int  # DKIM keys DNS serves there


@dataclass
class RotationCheck:
    selector: str
    state: str  # the key's state after the check: pending, or active
    names: list[NameCheck]
    retired_selector: str | None = None
    safe_to_remove: list[str] = field(default_factory=list)  # the retired key's record names

    @property
    def message(self) -> Message:
        if self.state == ACTIVE:
            if self.safe_to_remove:
                return ngettext("The key %(selector)s is active. It is safe to remove the record %(names)s.",
                                "The key %(selector)s is active. It is safe to remove the records %(names)s.",
                                len(self.safe_to_remove), selector=self.selector, names=", ".join(self.safe_to_remove))
            return _l("The key %(selector)s is active.", selector=self.selector)
        missing = [n.name for n in self.names if not n.served]
        return ngettext("DNS does not serve the new key yet at %(names)s: publish the record and check again.",
                        "DNS does not serve the new key yet at %(names)s: publish the records and check again.",
                        len(missing), names=", ".join(missing))


def check_rotation(principal: Principal, domain_pk: int) -> RotationCheck:
    domain = _editable(principal, domain_pk)
    return check_domain(domain)


def check_domain(domain: Domain) -> RotationCheck:
    """Look the pending key up in DNS; when every name serves exactly it, it becomes active and the active one
    retired. DNS is read first (an outage raises Unavailable with nothing changed)."""
    key = pending_key(domain)
    if key is None:
        raise NotFound(_l("No rotation is pending for this domain."))
    results = []
    for name in names_of(domain):
        served = dkim_keys.served_keys(dns.txt(record_name(key.selector, name)))
        results.append(NameCheck(record_name(key.selector, name), dkim_keys.serves_exactly(served, key.public_key),
                                 len(served)))
    check = RotationCheck(key.selector, PENDING, results)
    if not all(n.served for n in results):
        return check
    pending_id, public = key.id, key.public_key
    _hold(domain)  # after DNS: then the key looked up must still be the pending one
    db.session.expire(key)
    key = pending_key(domain)
    if key is None or key.id != pending_id or key.public_key != public:
        raise Conflict(_l("The rotation was changed at the same time: check again."))
    now = utcnow()
    old = active_key(domain)
    if old is not None:
        old.state, old.retired_at = RETIRED, now
        db.session.flush()  # one active key per domain: the old one leaves before the new one comes
        check.retired_selector = old.selector
        check.safe_to_remove = [record_name(old.selector, name) for name in names_of(domain)]
    key.state, key.activated_at = ACTIVE, now
    db.session.flush()
    check.state = ACTIVE
    rules_changed()
    return check


def check_pending_rotations() -> dict[str, str]:
    """The hourly job: check every pending rotation (the oldest first, at most MAX_CHECKS_PER_RUN), each in its
    own savepoint; a domain that fails is logged and the loop goes on. Returns domain name -> outcome."""
    outcomes: dict[str, str] = {}
    domain_ids = list(db.session.scalars(select(DkimKey.domain_id).where(DkimKey.state == PENDING)
                                         .order_by(DkimKey.created_at).limit(MAX_CHECKS_PER_RUN)))
    for domain_id in domain_ids:
        domain = db.session.get(Domain, domain_id)
        if domain is None:
            continue
        name = domain.name
        try:
            with db.session.begin_nested():
                outcomes[name] = check_domain(domain).state
        except ServiceError as error:
            log.warning("DKIM rotation check of %s: %s", name, error)
            outcomes[name] = f"error: {error}"
        except Exception:
            log.exception("DKIM rotation check of %s failed", name)
            outcomes[name] = "error"
    return outcomes
