"""The dashboard's figures: reachable objects and the state of the moving parts."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select

from ..errors import Forbidden
from ..extensions import db
from ..models import ApiToken, Customer, Domain
from ..permissions import Permission
from . import admins
from .principal import ANY_AUTHORITY, Principal


@dataclass
class Overview:
    customers: int
    domains: int
    admins: int | None  # None: no GRANT anywhere
    my_tokens: int
    jobs: str
    database: str


def overview(principal: Principal) -> Overview:
    me = principal.require_admin()
    scope = principal.scope(Permission.DOMAIN_READ)
    in_sight = principal.scope(ANY_AUTHORITY)  # as the Domains page lists them
    domains = db.session.scalar(select(func.count(Domain.id)).where(in_sight.domain_clause())) or 0
    customers = db.session.scalar(select(func.count(Customer.id)).where(scope.customer_clause())) or 0
    try:
        admin_count: int | None = admins.count(principal)
    except Forbidden:
        admin_count = None
    tokens = db.session.scalar(select(func.count(ApiToken.id)).where(ApiToken.admin_id == me.id)) or 0
    jobs = "RQ (Redis)" if current_app.config.get("REDIS_URL") else "in-process"
    return Overview(customers, domains, admin_count, tokens, jobs, db.engine.dialect.name)
