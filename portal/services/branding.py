"""Whose brand a page wears: the one rule for BRAND_COLOR and LOGO_URL.

- A mailbox user (and an administrator viewing as one): the user's domain's values, else its customer's, else
  the installation's (the options' own inheritance, `options.effective`).
- An administrator: their scope's brand. Every authority on one domain: that domain's; all within one customer
  (on it or on its domains): that customer's; else (a broker, several customers, a system administrator) the
  installation's.
- Nobody signed in (the sign-in pages): the domain named in the address (`/me/login?domain=example.com`, its
  name or an alias), else the domain whose name is the host the page was asked for, else the domain or customer
  whose portal address (APP_URL) has that host; else the installation's. An unknown or invalid name gives the
  installation's brand, as for any host: a name reveals nothing but its brand.

A stored value is checked again here (`portal.branding`): one that is not valid any more counts as unset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select

from .. import branding
from ..extensions import db
from ..models import Admin, Customer, Domain, OptionValue
from ..options import OPTIONS, Scope
from ..permissions import ObjectType
from . import domains, options
from .options import Chain
from .principal import Principal

INSTALLATION: Chain = [(Scope.PLATFORM, 0)]


@dataclass(frozen=True)
class Brand:
    color: str  # #rrggbb, checked
    logo: str | None = None  # an https URL, checked

    @property
    def key(self) -> str:
        """What names the brand's stylesheet (/brand/<key>.css): its colour's hex digits."""
        return self.color[1:]

    @property
    def logo_origin(self) -> str | None:
        return branding.origin(self.logo) if self.logo else None


DEFAULT = Brand(branding.color(OPTIONS["BRAND_COLOR"].default or "#1e88e5", "BRAND_COLOR"))


def _value(chain: Chain, name: str, check: Callable[[str | None], str | None],
           stored: dict[tuple[Scope, str], str]) -> str | None:
    """The most specific valid value along the chain (a stored value that fails the check is skipped)."""
    for end in range(len(chain), 0, -1):
        found = check(options.effective(chain[:end], name, stored))
        if found:
            return found
    return None


def of_chain(chain: Chain) -> Brand:
    stored = options.stored_values(chain)  # one read for both options
    return Brand(_value(chain, "BRAND_COLOR", branding.safe_color, stored) or DEFAULT.color,
                 _value(chain, "LOGO_URL", branding.safe_logo, stored))


def _customer_chain(customer_id: int) -> Chain:
    return [(Scope.PLATFORM, 0), (Scope.CUSTOMER, customer_id)]


def _admin_chain(admin: Admin) -> Chain:
    if admin.sys_admin:
        return INSTALLATION
    auths = [a for a in admin.authorities if a.permissions]
    if not auths or any(a.object_type == ObjectType.BROKER for a in auths):
        return INSTALLATION
    domain_ids = {a.object_id for a in auths if a.object_type == ObjectType.DOMAIN}
    customer_ids = {a.object_id for a in auths if a.object_type == ObjectType.CUSTOMER}
    if not customer_ids and len(domain_ids) == 1:
        domain = db.session.get(Domain, next(iter(domain_ids)))
        return options.domain_chain(domain) if domain else INSTALLATION
    if domain_ids:
        customer_ids |= set(db.session.scalars(select(Domain.customer_id).where(Domain.id.in_(domain_ids))))
    return _customer_chain(next(iter(customer_ids))) if len(customer_ids) == 1 else INSTALLATION


def for_principal(principal: Principal) -> Brand:
    if principal.user is not None:
        return of_chain(options.domain_chain(principal.user.domain))
    if principal.admin is not None:
        return of_chain(_admin_chain(principal.admin))
    return of_chain(INSTALLATION)


def for_domain_name(name: str) -> Brand | None:
    """The brand of the domain with this name or alias; None for anything else."""
    name = name.strip().rstrip(".").lower()
    if not name or len(name) > 253:
        return None
    domain = domains.by_name(name)
    return of_chain(options.domain_chain(domain)) if domain is not None else None


def for_host(host: str) -> Brand | None:
    """The brand of a domain named like the host, else of the domain or customer whose APP_URL has this host."""
    found = for_domain_name(host)
    if found is not None:
        return found
    host = host.strip().rstrip(".").lower()
    rows = db.session.scalars(select(OptionValue).where(
        OptionValue.name == "APP_URL", OptionValue.scope.in_([str(Scope.DOMAIN), str(Scope.CUSTOMER)])))
    matches = {}
    for row in rows:
        try:
            if (urlsplit(row.value.strip()).hostname or "").rstrip(".") == host:
                matches[Scope(row.scope)] = row.object_id
        except ValueError:
            continue
    if Scope.DOMAIN in matches:
        domain = db.session.get(Domain, matches[Scope.DOMAIN])
        if domain is not None:
            return of_chain(options.domain_chain(domain))
    if Scope.CUSTOMER in matches and db.session.get(Customer, matches[Scope.CUSTOMER]) is not None:
        return of_chain(_customer_chain(matches[Scope.CUSTOMER]))
    return None


def for_visitor(domain_name: str | None, host: str) -> Brand:
    """Nobody signed in: the named domain's brand, else the host's, else the installation's."""
    return (for_domain_name(domain_name) if domain_name else None) or for_host(host) or of_chain(INSTALLATION)
