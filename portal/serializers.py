"""Model -> wire representations and export columns, shared by the API routes and the pages."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from . import ids
from .clock import to_ms
from .models import (
    Admin,
    ApiToken,
    AttachmentRule,
    Customer,
    Domain,
    DomainAlias,
    EmailAlias,
    MailServer,
    MailUser,
    Platform,
    Policy,
    SenderRule,
    UriRule,
)
from .options import Scope
from .schemas.accounts import TokenOut
from .schemas.domains import (
    OptionDefOut,
    OptionOut,
)
from .schemas.mailservers import CheckOut, MailServerOut, OAuthOut
from .schemas.rules import (
    ConsideredRule,
    DecisionOut,
    EmailAliasOut,
    EmailAliasRecipientOut,
    FilterAttachmentOut,
    FilterSenderOut,
    FilterUriBlOut,
)
from .services import admins, domain_rows, mailservers, options, platforms, wblist
from .services import email_aliases as email_alias_service
from .services.decisions import Considered, Decision
from .services.principal import Principal
from .words import english

ADMIN_COLUMNS = [
    ("id", lambda a: ids.encode(a.id)), ("login", lambda a: a.login), ("displayName", lambda a: a.display_name),
    ("email", lambda a: a.email), ("enabled", lambda a: a.enabled), ("language", lambda a: a.language),
    ("sysAdmin", lambda a: a.sys_admin), ("totp", lambda a: a.totp),
    ("authoritiesCount", lambda a: len(a.authorities)),
    ("createdAt", lambda a: a.created_at.isoformat(timespec="seconds") + "Z"),
]

def admin_rows(rows: Sequence[admins.AdminRow]) -> list[dict[str, Any]]:
    """The admins list on the wire, built from plain rows: what AdminOut gives, without a model per row
    (tests/api/test_admins_api.py holds the two equal)."""
    return [{
        "id": ids.encode(a.id), "login": a.login, "displayName": a.display_name, "email": a.email,
        "enabled": a.enabled, "language": a.language, "totp": a.totp, "sysAdmin": a.sys_admin,
        "authorities": [{"objectType": x.object_type, "objectId": ids.encode(x.object_id), "objectName": x.object_name,
                         "permissions": x.permissions} for x in a.authorities],
        "authoritiesCount": len(a.authorities), "lastConnectionDate": to_ms(a.last_connection_date),
        "createdAt": to_ms(a.created_at),
    } for a in rows]


def admin_out(admin: Admin) -> dict[str, Any]:
    """One administrator on the wire: the list's own serialization (one home for AdminOut's shape)."""
    return admin_rows(admins.with_authorities([admin]))[0]


def token_out(token: ApiToken, value: str | None = None) -> TokenOut:
    return TokenOut(
        id=ids.encode(token.id), name=token.name, value=value, expiration=to_ms(token.expiration),
        created_at=to_ms(token.created_at), last_use=to_ms(token.last_use),
    )


# --- domains, policies, platforms, users, options -------------------------------------------------

# The domain's parts on the wire as plain dicts, built from models or from the list's rows alike (the fields they
# read are named the same): the domains list serializes 40 domains without a model each. The pydantic models
# (PolicyOut, PlatformOut, ...) describe them in the OpenAPI document; tests/api/test_domains_api.py holds each
# answer valid against its model.

def policy_out(policy: Policy | domain_rows.PolicyRow | None) -> dict[str, Any] | None:
    if policy is None:
        return None
    return {
        "id": ids.encode(policy.id), "name": policy.name, "domainId": ids.encode(policy.domain_id),
        "quarantine": policy.quarantine, "retention": policy.retention, "archive": policy.archive,
        "mailSizeLimit": policy.mail_size_limit, "spamScore": float(policy.spam_score), "incoming": policy.incoming,
        "relayProps": policy.relay_props or {},
        "quarantineProps": policy.quarantine_props if policy.quarantine else None,
        "retentionProps": policy.retention_props if policy.retention else None,
        "archiveProps": policy.archive_props if policy.archive else None,
        "outgoing": policy.outgoing,
    }


def platform_out(platform: Platform | domain_rows.PlatformRow | None) -> dict[str, Any] | None:
    if platform is None:
        return None
    return {
        "id": ids.encode(platform.id), "name": platform.name, "transportDest": platform.transport_dest,
        "transportType": platform.transport_type, "transportPort": platform.transport_port,
        "fallbackTransportDest": platform.fallback_transport_dest,
        "fallbackTransportType": platform.fallback_transport_type,
        "fallbackTransportPort": platform.fallback_transport_port, "apiType": platform.api_type,
        "apiData": platforms.masked(platform.api_data), "authType": platform.auth_type,
        "authData": platforms.masked(platform.auth_data), "default": platform.is_default,
    }


def alias_out(alias: DomainAlias | domain_rows.AliasRow) -> dict[str, Any]:
    return {"id": ids.encode(alias.id), "name": alias.name}


def customer_out(customer: Customer | domain_rows.CustomerRow) -> dict[str, Any]:
    return {"id": ids.encode(customer.id), "brokerId": ids.encode(customer.broker_id), "name": customer.name,
            "description": customer.description, "externalId": customer.external_id,
            "createdAt": to_ms(customer.created_at)}


def domain_list(rows: Sequence[domain_rows.DomainRow]) -> list[dict[str, Any]]:
    """The domains list on the wire (DomainOut's shape), from the list's plain rows."""
    return [_domain_wire(d) for d in rows]


def domain_out(domain: Domain) -> dict[str, Any]:
    """One domain on the wire: the list's own serialization (one home for DomainOut's shape)."""
    return _domain_wire(domain_rows.of(domain))


def _domain_wire(domain: domain_rows.DomainRow) -> dict[str, Any]:
    pols = domain.policies
    return {
        "id": ids.encode(domain.id), "name": domain.name, "description": domain.description, "status": domain.status,
        "wblistPriority": domain.wblist_priority, "defaultLanguage": domain.default_language,
        "autoProvisioningOn": domain.auto_provisioning_on, "senderVerifyOn": domain.sender_verify_on,
        "externalId": domain.external_id, "policy": policy_out(domain.default_policy),
        "domainAliases": [alias_out(a) for a in domain.aliases], "activeUsersCount": domain.active_users,
        "policiesCount": len(pols), "quarantine": any(p.quarantine for p in pols),
        "retention": any(p.retention for p in pols), "archive": any(p.archive for p in pols),
        "incoming": any(p.incoming for p in pols), "outgoingSubnets": list(domain.outgoing_subnets or []),
        "creationDate": to_ms(domain.created_at), "deletionDate": to_ms(domain.deletion_date),
        "purgeDate": to_ms(domain.purge_date),
        "outgoingProviders": [{"id": ids.encode(p.id), "name": p.name, "spfProvider": p.spf_provider,
                               "active": p.active} for p in domain.outgoing_providers],
        "customer": customer_out(domain.customer) if domain.customer is not None else None,
        "platforms": [platform_out(p) for p in domain.platforms],
    }


def user_list(rows: Sequence[MailUser], domain: Domain | None = None) -> list[dict[str, Any]]:
    """A users list on the wire (UserOut's shape) as dicts; the policy and platform most users share (their
    domain's defaults) are serialized once for the page. `domain`: the one domain of every row (a domain's users
    list, loaded with its policies and platforms): each user's are looked up there by id, not through three
    relationships per user."""
    parts: dict[tuple[str, int], dict[str, Any] | None] = {}
    if domain is None:
        return [_user_wire(u, parts, u.domain, u.policy, u.platform) for u in rows]
    policies, platforms = {p.id: p for p in domain.policies}, {p.id: p for p in domain.platforms}
    return [_user_wire(u, parts, domain, _own(policies, u.policy_id, lambda u=u: u.policy),
                       _own(platforms, u.platform_id, lambda u=u: u.platform)) for u in rows]


def _own(by_id: dict[int, Any], key: int | None, load: Callable[[], Any]) -> Any:
    """A user's own policy or platform: none, or its domain's by id; through the relationship (`load`) only if the
    id is not the domain's, which the services never let happen."""
    return by_id.get(key) if key is None or key in by_id else load()


def user_out(user: MailUser) -> dict[str, Any]:
    """One user on the wire: the list's own serialization (one home for UserOut's shape)."""
    return user_list([user])[0]


def _user_wire(user: MailUser, parts: dict[tuple[str, int], dict[str, Any] | None], domain: Domain,
               own_policy: Policy | None, own_platform: Platform | None) -> dict[str, Any]:
    if ("defaults", domain.id) not in parts:
        default_policy, default_platform = domain.default_policy, domain.default_platform
        parts["defaults", domain.id] = {"policy": default_policy, "platform": default_platform,
                                        "policyId": ids.encode(default_policy.id) if default_policy else None,
                                        "platformId": ids.encode(default_platform.id) if default_platform else None}
    defaults = parts["defaults", domain.id]
    policy, platform = own_policy or defaults["policy"], own_platform or defaults["platform"]
    if policy is not None and ("policy", policy.id) not in parts:
        parts["policy", policy.id] = policy_out(policy)
    if platform is not None and ("platform", platform.id) not in parts:
        parts["platform", platform.id] = platform_out(platform)
    return {
        "id": ids.encode(user.id), "email": user.email, "firstname": user.firstname, "lastname": user.lastname,
        "status": user.status, "language": user.language, "creationDate": to_ms(user.created_at),
        "domainId": ids.encode(user.domain_id),
        "policy": parts["policy", policy.id] if policy is not None else None,
        "senderVerifyOn": user.sender_verify_on, "domainPolicyId": defaults["policyId"],
        "domainStatus": domain.status, "domainPlatformId": defaults["platformId"],
        "platform": parts["platform", platform.id] if platform is not None else None, "mfaType": user.mfa_type,
        "lastConnectionDate": to_ms(user.last_connection_date),
    }


def option_out(resolved: options.Resolved) -> OptionOut:
    d = resolved.definition
    return OptionOut(
        value=resolved.value, parent_value=resolved.parent_value,
        option=OptionDefOut(
            ptf_scope=Scope.PLATFORM in d.scopes, url_scope=False, customer_scope=Scope.CUSTOMER in d.scopes,
            domain_scope=Scope.DOMAIN in d.scopes, user_scope=Scope.USER in d.scopes, restricted=d.restricted,
            group=d.group, name=d.name, type=d.type, values=list(d.values) if d.values else None,
            description=english(d.description),
        ),
    )


USER_COLUMNS = [
    ("id", lambda u: ids.encode(u.id)), ("email", lambda u: u.email), ("firstname", lambda u: u.firstname),
    ("lastname", lambda u: u.lastname), ("status", lambda u: u.status), ("language", lambda u: u.language),
    ("policy", lambda u: u.policy.name if u.policy else ""),
    ("platform", lambda u: u.platform.name if u.platform else ""),
    ("creationDate", lambda u: u.created_at.isoformat(timespec="seconds") + "Z"),
]
DOMAIN_COLUMNS = [
    ("id", lambda d: ids.encode(d.id)), ("name", lambda d: d.name), ("status", lambda d: d.status),
    ("customer", lambda d: d.customer.name), ("externalId", lambda d: d.external_id),
    ("aliases", lambda d: [a.name for a in d.aliases]),
    ("creationDate", lambda d: d.created_at.isoformat(timespec="seconds") + "Z"),
    ("purgeDate", lambda d: d.purge_date.isoformat(timespec="seconds") + "Z" if d.purge_date else ""),
]


# --- filter rules and email aliases -------------------------------------------------------------

def sender_rules(rules: Sequence[SenderRule]) -> list[FilterSenderOut]:
    labels = wblist.owner_labels(list(rules))
    return [sender_rule(r, labels.get(r.owner_key, "")) for r in rules]


def sender_rule(rule: SenderRule, owner: str) -> FilterSenderOut:
    return FilterSenderOut(
        id=ids.encode(rule.id), value=rule.value, owner=owner, type=rule.type, created_date=to_ms(rule.created_at),
        expire_at=to_ms(rule.expire_at), description=rule.description, spf_on=rule.spf_on,
    )


def attachment_rule(rule: AttachmentRule, scope: str) -> FilterAttachmentOut:
    return FilterAttachmentOut(
        id=ids.encode(rule.id), action=rule.action, check_type=rule.check_type, filter=rule.filter, scope=scope,
        priority=rule.priority, description=rule.description, created_date=to_ms(rule.created_at),
    )


def uri_rule(rule: UriRule, scope: str) -> FilterUriBlOut:
    return FilterUriBlOut(
        id=ids.encode(rule.id), scope=scope, action=rule.action, filter=rule.filter, priority=rule.priority,
        description=rule.description, created_date=to_ms(rule.created_at),
    )


def email_aliases(principal: Principal, aliases: Sequence[EmailAlias]) -> list[EmailAliasOut]:
    seen = email_alias_service.recipients_seen(principal, list(aliases))
    return [email_alias(principal, a, seen) for a in aliases]


def email_alias(principal: Principal, alias: EmailAlias,
                seen: email_alias_service.Seen | None = None) -> EmailAliasOut:
    """The alias as the principal sees it: a recipient outside its scope reads as an external address."""
    if seen is None:
        seen = email_alias_service.recipients_seen(principal, [alias])
    external = ("EXTERNAL_ADDRESS", None, None)
    return EmailAliasOut(id=ids.encode(alias.id), email=alias.email, recipients=[
        EmailAliasRecipientOut(id=ids.encode(r.id), email=r.email, type=kind, firstname=first, lastname=last)
        for r in alias.recipients for kind, first, last in (seen.get(r.email, external),)
    ])


SENDER_COLUMNS = [
    ("id", lambda r: ids.encode(r.id)), ("value", lambda r: r.value), ("type", lambda r: r.type),
    ("expireAt", lambda r: r.expire_at.isoformat(timespec="seconds") + "Z" if r.expire_at else ""),
    ("description", lambda r: r.description), ("spfOn", lambda r: r.spf_on),
]
ATTACHMENT_COLUMNS = [
    ("id", lambda r: ids.encode(r.id)), ("action", lambda r: r.action), ("checkType", lambda r: r.check_type),
    ("filter", lambda r: r.filter), ("priority", lambda r: r.priority), ("description", lambda r: r.description),
]
URI_COLUMNS = [
    ("id", lambda r: ids.encode(r.id)), ("action", lambda r: r.action), ("filter", lambda r: r.filter),
    ("priority", lambda r: r.priority), ("description", lambda r: r.description),
]
ALIAS_COLUMNS = [
    ("id", lambda a: ids.encode(a.id)), ("email", lambda a: a.email),
    ("recipients", lambda a: [r.email for r in a.recipients]),
]


def decision(result: Decision) -> DecisionOut:
    def considered(item: Considered) -> ConsideredRule:
        return ConsideredRule(rule=sender_rule(item.rule, item.owner), reason=english(item.reason))

    return DecisionOut(
        sender=result.sender, recipient=result.recipient, verdict=result.verdict, reason=english(result.reason),
        decided_by=considered(result.decided_by) if result.decided_by else None,
        shadowed=[considered(c) for c in result.shadowed], owners=result.owners,
    )


def check_out(server: MailServer) -> CheckOut | None:
    if server.checked_at is None:
        return None
    return CheckOut(ok=bool(server.check_ok), stage=server.check_stage or "", message=server.check_message or "",
                    transcript=list(server.check_transcript or []), checked_at=to_ms(server.checked_at))


def mailserver_out(server: MailServer) -> MailServerOut:
    """Every setting but the secrets: whether one is stored, never its value."""
    oauth = None
    if server.auth == "OAUTH2":
        oauth = OAuthOut(tenant_id=server.oauth_tenant_id, client_id=server.oauth_client_id,
                         token_url=mailservers.token_url_of(server), scope=mailservers.scope_of(server),
                         client_secret_set=bool(server.oauth_client_secret))
    return MailServerOut(
        id=ids.encode(server.id), name=server.name, remark=server.remark, protocol=server.protocol,
        host=server.host, port=server.port, security=server.security, certificate=server.certificate,
        certificate_pem=server.certificate_pem, auth=server.auth, username=server.username,
        password_set=bool(server.password), oauth=oauth, sender_name=server.sender_name,
        sender_address=server.sender_address, subject_prefix=server.subject_prefix, enabled=server.enabled,
        in_use=server.enabled and server.protocol == "SMTP", last_check=check_out(server),
        created_date=to_ms(server.created_at), updated_date=to_ms(server.updated_at))
