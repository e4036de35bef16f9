"""Outgoing providers: third-party senders (Microsoft 365, Google Workspace…) whose SPF a domain may
allow for its outgoing mail. System administrators keep the catalog; domains pick from its active ones."""

from __future__ import annotations

from sqlalchemy import func, select

from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..models import OutgoingProvider
from ..models.tenancy import domain_outgoing_providers
from ..words import _l
from . import names
from .principal import Principal


def catalog() -> list[OutgoingProvider]:
    return list(db.session.scalars(select(OutgoingProvider).order_by(func.lower(OutgoingProvider.name))))


def usage() -> dict[int, int]:
    """How many domains use each provider."""
    return dict(db.session.execute(select(domain_outgoing_providers.c.provider_id, func.count())
                                   .group_by(domain_outgoing_providers.c.provider_id)).all())


def create(principal: Principal, name: str, spf_provider: str) -> OutgoingProvider:
    principal.require_sysadmin()
    name = name.strip()
    if not name or len(name) > 255 or any(ord(c) < 32 for c in name):
        raise Invalid.on("name", _l("Give a name of at most 255 printable characters."))
    host = names.dns_name(spf_provider, "spfProvider")
    if db.session.scalar(select(OutgoingProvider).where(func.lower(OutgoingProvider.name) == name.lower())):
        raise Conflict.on("name", _l("A provider named “%(name)s” exists already.", name=name))
    provider = OutgoingProvider(name=name, spf_provider=host, active=True)
    db.session.add(provider)
    db.session.flush()
    return provider


def _get(provider_pk: int) -> OutgoingProvider:
    provider = db.session.get(OutgoingProvider, provider_pk)
    if provider is None:
        raise NotFound(_l("No such provider."))
    return provider


def set_active(principal: Principal, provider_pk: int, active: bool) -> OutgoingProvider:
    """An inactive provider stays with the domains that chose it but cannot be chosen any more."""
    principal.require_sysadmin()
    provider = _get(provider_pk)
    provider.active = active
    db.session.flush()
    return provider


def delete(principal: Principal, provider_pk: int) -> None:
    """Remove a provider; the domains that used it lose it."""
    principal.require_sysadmin()
    db.session.delete(_get(provider_pk))
    db.session.flush()
