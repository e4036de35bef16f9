"""Model -> wire representations, shared by the API routes."""

from __future__ import annotations

from collections.abc import Sequence

from .. import ids
from ..clock import to_ms
from ..models import Admin, ApiToken
from ..schemas.accounts import AdminOut, AuthorityOut, TokenOut
from ..services import admins

ADMIN_COLUMNS = [
    ("id", lambda a: ids.encode(a.id)), ("login", lambda a: a.login), ("displayName", lambda a: a.display_name),
    ("email", lambda a: a.email), ("enabled", lambda a: a.enabled), ("language", lambda a: a.language),
    ("sysAdmin", lambda a: a.sys_admin), ("totp", lambda a: a.totp),
    ("authoritiesCount", lambda a: len(a.authorities)),
    ("createdAt", lambda a: a.created_at.isoformat(timespec="seconds") + "Z"),
]

def admin_list(rows: Sequence[Admin]) -> list[AdminOut]:
    names = admins.authority_names(rows)
    return [admin_out(a, names) for a in rows]


def admin_out(admin: Admin, names: dict[tuple[str, int], str] | None = None) -> AdminOut:
    if names is None:
        names = admins.authority_names([admin])
    return AdminOut(
        id=ids.encode(admin.id), login=admin.login, display_name=admin.display_name, email=admin.email,
        enabled=admin.enabled, language=admin.language, totp=admin.totp, sys_admin=admin.sys_admin,
        authorities=[
            AuthorityOut(
                object_type=a.object_type, object_id=ids.encode(a.object_id),
                object_name=names.get((a.object_type, a.object_id)), permissions=a.permissions,
            )
            for a in admin.authorities
        ],
        authorities_count=len(admin.authorities),
        last_connection_date=to_ms(admin.last_connection_date),
        created_at=to_ms(admin.created_at),
    )


def token_out(token: ApiToken, value: str | None = None) -> TokenOut:
    return TokenOut(
        id=ids.encode(token.id), name=token.name, value=value, expiration=to_ms(token.expiration),
        created_at=to_ms(token.created_at), last_use=to_ms(token.last_use),
    )
