"""Administrator accounts and their authorities (seed 5.1 AccessControls).

Who may do what:
- a sysadmin manages every account;
- an admin sees the accounts having an authority on an object where it holds GRANT, and manages
  (edits, disables, deletes) those whose every authority lies where it holds GRANT;
- an admin may give only permissions it holds itself on that object, never to its own account,
  and never the sysadmin flag unless it is a sysadmin: no call raises the caller's privileges;
- an existing account is given access to a new object (attached to a domain) only by who manages
  it already, and a sysadmin account never (it holds everything; attached, it would show in the
  domain's list): for anyone else such an account answers as a nonexistent one (404), so ids
  cannot be walked to list accounts; a sysadmin may remove any authority, its own included;
- anyone may read and edit its own profile (not its privileges, nor disable or delete itself).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select

from .. import ids
from ..errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from ..extensions import db
from ..models import Admin, Authority, Domain
from ..permissions import ObjectType, Permission, permissions_for_scope
from ..schemas.accounts import AdminAdd, AdminCreate, AdminUpdate, AuthorityIn
from ..words import _l
from . import objects
from .listing import ListSpec, among_keys
from .passwords import hash_password
from .principal import Principal

LIST_SPEC = ListSpec(
    sorts={"login": Admin.login, "displayName": Admin.display_name, "email": Admin.email,
           "createdAt": Admin.created_at, "lastConnectionDate": Admin.last_connection_date},
    default_sort="login",
    filters={"search": (Admin.login, Admin.email, Admin.display_name)},
    tiebreak=Admin.id,
    unique_sorts=frozenset({"login"}),
)


@dataclass(frozen=True, slots=True)
class AuthorityRow:
    object_type: str
    object_id: int
    object_name: str | None
    permissions: list[str]


@dataclass(frozen=True, slots=True)
class AdminRow:
    """An administrator as the list shows it: plain values, no ORM object (the attributes the page, the API
    and the exports read, named as on Admin)."""

    id: int
    login: str
    display_name: str | None
    email: str | None
    enabled: bool
    language: str
    sys_admin: bool
    totp: bool
    last_connection_date: datetime | None
    created_at: datetime
    authorities: list[AuthorityRow]


_ROW_COLUMNS = (Admin.id, Admin.login, Admin.display_name, Admin.email, Admin.enabled, Admin.language,
                Admin.sys_admin, Admin.totp_secret.is_not(None).label("totp"), Admin.last_connection_date,
                Admin.created_at)


_AUTHORITIES = {dialect: objects.with_names(  # built once a dialect: a page binds its admins' keys
    select(Authority.admin_id, Authority.object_type, Authority.object_id, Authority.permissions_text)
    .where(among_keys(Authority.admin_id, dialect)).order_by(Authority.id),
    Authority.object_type, Authority.object_id) for dialect in ("postgresql", "sqlite")}


def with_authorities(rows: Sequence[Any]) -> list[AdminRow]:
    """The page's admins with their authorities and the names of their objects: one statement for the page."""
    keys = [r.id for r in rows]
    found = db.session.execute(_AUTHORITIES[db.engine.dialect.name], {"keys": keys}).all() if keys else []
    held: dict[int, list[AuthorityRow]] = {}
    for a in found:
        held.setdefault(a.admin_id, []).append(AuthorityRow(a.object_type, a.object_id, a.object_name,
                                                            a.permissions_text.split()))
    return [AdminRow(r.id, r.login, r.display_name, r.email, r.enabled, r.language, r.sys_admin, bool(r.totp),
                     r.last_connection_date, r.created_at, held.get(r.id, [])) for r in rows]


ROWS_SPEC = replace(LIST_SPEC, rows=with_authorities)


def as_rows(stmt: Select[tuple[Admin]]) -> Select[Any]:
    """An admins list as plain rows (listed with ROWS_SPEC: AdminRow), for the API, the page and the exports."""
    return stmt.with_only_columns(*_ROW_COLUMNS)


def list_rows(principal: Principal) -> Select[Any]:
    return as_rows(list_query(principal))


def list_query(principal: Principal) -> Select[tuple[Admin]]:
    """The admins the principal may list, unsorted and unpaged."""
    principal.require_admin()
    scope = principal.scope(Permission.GRANT)
    if scope.empty:
        raise Forbidden(_l("Listing administrators needs the GRANT permission."))
    stmt = select(Admin)
    if not scope.everything:
        stmt = stmt.where(
            Admin.sys_admin.is_(False),
            Admin.id.in_(select(Authority.admin_id).where(scope.authority_clause())),
        )
    return stmt


def get(principal: Principal, admin_pk: int) -> Admin:
    """An admin the principal may see (itself, or within its GRANT scope); otherwise 404."""
    me = principal.require_admin()
    target = db.session.get(Admin, admin_pk)
    if target is None:
        raise NotFound(_l("Resource does not exist."))
    if target.id == me.id or principal.is_sysadmin:
        return target
    scope = principal.scope(Permission.GRANT)
    if not target.sys_admin and any(scope.covers(a.object_type, a.object_id) for a in target.authorities):
        return target
    raise NotFound(_l("Resource does not exist."))


def governs(principal: Principal, target: Admin) -> bool:
    """Whether the principal may edit, disable or delete another admin's account."""
    if principal.is_sysadmin:
        return True
    if target.sys_admin or not target.authorities:
        return False
    scope = principal.scope(Permission.GRANT)
    return all(scope.covers(a.object_type, a.object_id) for a in target.authorities)


def attachable(principal: Principal, target: Admin) -> bool:
    """Whether an existing account may be given access to one more of the principal's objects."""
    return not target.sys_admin and governs(principal, target)


NO_SUCH_ADMIN = _l("No administrator has this id.")


def normalize_login(login: str) -> str:
    return login.strip().lower()


def find_by_login(login: str) -> Admin | None:
    return db.session.scalar(select(Admin).where(Admin.login == normalize_login(login)))


def create(principal: Principal, data: AdminCreate) -> Admin:
    principal.require_admin()
    if data.sys_admin and not principal.is_sysadmin:
        raise Forbidden.on("sysAdmin", _l("Only a system administrator may create system administrators."))
    if not data.authorities and not data.sys_admin and not principal.is_sysadmin:
        raise Invalid.on("authorities", _l("Give the new administrator at least one authority."))
    login = normalize_login(data.login)
    if find_by_login(login) is not None:
        raise Conflict.on("login", _l("This login is already taken."))
    resolved = [_check_grant(principal, a, f"authorities[{i}]") for i, a in enumerate(data.authorities)]
    admin = Admin(
        login=login, display_name=data.display_name, email=str(data.email),
        password_hash=hash_password(data.password), enabled=data.enabled, language=data.language.value,
        sys_admin=data.sys_admin, session_nonce=secrets.token_hex(8),
    )
    db.session.add(admin)
    for object_type, object_id, perms in resolved:
        admin.authorities.append(Authority(object_type=object_type, object_id=object_id, permissions=perms))
    db.session.flush()
    return admin


def create_initial(login: str, email: str, password: str, *, sys_admin: bool) -> Admin:
    """The CLI's account creation: no acting principal (whoever runs the CLI owns the server)."""
    data = AdminCreate(login=login, email=email, password=password, sys_admin=sys_admin)
    if find_by_login(data.login) is not None:
        raise Conflict.on("login", _l("This login is already taken."))
    admin = Admin(
        login=normalize_login(data.login), email=str(data.email), password_hash=hash_password(data.password),
        sys_admin=data.sys_admin, session_nonce=secrets.token_hex(8),
    )
    db.session.add(admin)
    db.session.flush()
    return admin


def update(principal: Principal, admin_pk: int, data: AdminUpdate) -> Admin:
    me = principal.require_admin()
    target = get(principal, admin_pk)
    is_self = target.id == me.id
    if not is_self and not governs(principal, target):
        raise Forbidden(_l("You may not edit this administrator."))
    given = data.model_fields_set
    if "enabled" in given and data.enabled is None:
        raise Invalid.on("enabled", _l("Must be true or false."))
    if is_self and data.enabled is False:
        raise Forbidden.on("enabled", _l("You cannot disable your own account."))
    if "email" in given:
        if data.email is None:
            raise Invalid.on("email", _l("An email address is required (it is used for password recovery)."))
        target.email = str(data.email)
    if "display_name" in given:
        target.display_name = data.display_name
    if "language" in given and data.language is not None:
        target.language = data.language.value
    if "password" in given and data.password is not None:
        target.password_hash = hash_password(data.password)
        target.session_nonce = secrets.token_hex(8)
    if data.totp is False:
        target.totp_secret = None
        target.totp_last_counter = None
    if data.enabled is not None and data.enabled != target.enabled:
        target.enabled = data.enabled
        target.session_nonce = secrets.token_hex(8)
    db.session.flush()
    return target


def delete(principal: Principal, admin_pk: int) -> None:
    me = principal.require_admin()
    target = get(principal, admin_pk)
    if target.id == me.id:
        raise Forbidden(_l("You cannot delete your own account."))
    if not governs(principal, target):
        raise Forbidden(_l("You may not delete this administrator."))
    db.session.delete(target)
    db.session.flush()


def set_authority(principal: Principal, admin_pk: int, authority: AuthorityIn) -> Admin:
    """Give (or, with no permissions, take away) an admin's permissions on one object."""
    me = principal.require_admin()
    target = get(principal, admin_pk)
    removal = not authority.permissions
    if target.id == me.id and not (removal and principal.is_sysadmin):
        raise Forbidden(_l("You cannot change your own authorities."))
    object_type, object_id, perms = _check_grant(principal, authority, "")
    current = next(
        (a for a in target.authorities if a.object_type == object_type and a.object_id == object_id), None
    )
    if current is None and perms and not attachable(principal, target):
        raise Forbidden(_l("You may give access only to an administrator you manage (never a system administrator)."))
    if current is not None and not perms:
        target.authorities.remove(current)
    elif current is not None:
        current.permissions = perms
    elif perms:
        target.authorities.append(Authority(object_type=object_type, object_id=object_id, permissions=perms))
    db.session.flush()
    return target


def _check_grant(principal: Principal, authority: AuthorityIn, where: str) -> tuple[str, int, list[str]]:
    """Validate an authority the principal wants to give; returns (objectType, objectId, permissions)."""
    prefix = f"{where}." if where else ""
    object_type = authority.object_type
    object_id = ids.in_body(authority.object_id)
    if object_id < 0 or not objects.exists(object_type, object_id):
        raise Invalid.on(f"{prefix}objectId", _l("No such object."))
    if not principal.holds_on(Permission.GRANT, object_type, object_id):
        raise Forbidden.on(f"{prefix}objectId", _l("You need the GRANT permission on this object."))
    allowed = {str(p) for p in permissions_for_scope(object_type)}
    errors = [
        FieldError(f"{prefix}permissions[{i}]", _l("“%(name)s” is not a permission that can be given here.",
                                                   name=name))
        for i, name in enumerate(authority.permissions) if name not in allowed
    ]
    if errors:
        raise Invalid(_l("Unknown permission."), errors)
    for i, name in enumerate(authority.permissions):
        if not principal.holds_on(name, object_type, object_id):
            raise Forbidden.on(f"{prefix}permissions[{i}]",
                               _l("You cannot grant %(permission)s: you do not hold it here.", permission=name))
    return str(object_type), object_id, sorted(set(authority.permissions))


def assignable_permissions(principal: Principal, scope: ObjectType, object_pk: int) -> list[tuple[str, bool]]:
    """Seed 5.1.4: the permissions the principal holds on an object, and whether it can grant them."""
    principal.require_admin()
    if not objects.exists(scope, object_pk):
        raise NotFound(_l("Resource does not exist."))
    held = [str(p) for p in permissions_for_scope(scope) if principal.holds_on(p, scope, object_pk)]
    if not held:
        raise NotFound(_l("Resource does not exist."))
    editable = Permission.GRANT in held
    return [(name, editable) for name in held]


def authority_names(admins: Sequence[Admin]) -> dict[tuple[str, int], str]:
    return objects.names((a.object_type, a.object_id) for admin in admins for a in admin.authorities)


def count(principal: Principal) -> int:
    return db.session.scalar(select(func.count()).select_from(list_query(principal).subquery())) or 0



# --- administrators of one domain (seed 5.5.3, 5.5.5, 5.5.7, 5.5.9, 5.5.13) ----------------------

def _domain_grant(principal: Principal, domain: Domain) -> None:
    if not principal.holds_on(Permission.GRANT, ObjectType.DOMAIN, domain.id):
        raise Forbidden(_l("Managing the administrators of a domain needs GRANT on it."))


def domain_admins_query(principal: Principal, domain: Domain) -> Select[tuple[Admin]]:
    """The accounts with an authority on the domain (a sysadmin's account is listed to sysadmins only)."""
    _domain_grant(principal, domain)
    stmt = select(Admin).where(Admin.id.in_(select(Authority.admin_id).where(
        Authority.object_type == ObjectType.DOMAIN.value, Authority.object_id == domain.id)))
    return stmt if principal.is_sysadmin else stmt.where(Admin.sys_admin.is_(False))


def domain_admin(principal: Principal, domain: Domain, admin_pk: int) -> Admin:
    _domain_grant(principal, domain)
    admin = db.session.get(Admin, admin_pk)
    if admin is None or (admin.sys_admin and not principal.is_sysadmin) or not any(
            a.object_type == ObjectType.DOMAIN and a.object_id == domain.id for a in admin.authorities):
        raise NotFound(_l("This administrator has no access to the domain."))
    return admin


def add_domain_admin(principal: Principal, domain: Domain, data: AdminAdd) -> Admin:
    _domain_grant(principal, domain)
    authority = AuthorityIn(object_type=ObjectType.DOMAIN, object_id=ids.encode(domain.id),
                            permissions=data.permissions)
    if not data.permissions:
        raise Invalid.on("permissions", _l("Give at least one permission."))
    if data.id is not None:
        pk = ids.in_body(data.id)
        target = db.session.get(Admin, pk) if pk >= 0 else None
        me = principal.require_admin()
        if target is not None and target.id == me.id:
            raise Forbidden.on("id", _l("You cannot change your own authorities."))
        if target is not None and target.sys_admin and principal.is_sysadmin:
            raise Invalid.on("id", _l("A system administrator holds every permission: "
                                      "it is not given access to domains."))
        if target is None or not attachable(principal, target):
            raise NotFound.on("id", NO_SUCH_ADMIN)  # the same answer for an account one may not see
        object_type, object_id, perms = _check_grant(principal, authority, "")
        existing = next((a for a in target.authorities
                         if a.object_type == object_type and a.object_id == object_id), None)
        if existing is not None:
            existing.permissions = perms
        else:
            target.authorities.append(Authority(object_type=object_type, object_id=object_id, permissions=perms))
        db.session.flush()
        return target
    missing = [f for f in ("login", "email", "password") if getattr(data, f) is None]
    if missing:
        raise Invalid(_l("A new account needs login, email and password."),
                      [FieldError(f, "Required for a new account.") for f in missing])
    return create(principal, AdminCreate(
        login=data.login, display_name=data.display_name, email=data.email, password=data.password,
        enabled=data.enabled, language=data.language, authorities=[authority],
    ))


def revoke_domain_admin(principal: Principal, domain: Domain, admin_pk: int) -> None:
    """Remove the admin's access to the domain; an account left with no access is deleted."""
    admin = domain_admin(principal, domain, admin_pk)
    if admin.id == principal.require_admin().id and not principal.is_sysadmin:
        raise Forbidden(_l("You cannot revoke your own access."))
    admin.authorities = [a for a in admin.authorities
                         if not (a.object_type == ObjectType.DOMAIN and a.object_id == domain.id)]
    if not admin.authorities and not admin.sys_admin:
        db.session.delete(admin)
    db.session.flush()


def set_domain_authorities(principal: Principal, domain: Domain, admin_pk: int, permissions: list[str]) -> Admin:
    domain_admin(principal, domain, admin_pk)
    return set_authority(principal, admin_pk, AuthorityIn(
        object_type=ObjectType.DOMAIN, object_id=ids.encode(domain.id), permissions=permissions))
