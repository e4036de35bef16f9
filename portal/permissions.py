"""The permission catalogs, in one place.

Admin permissions are granted through authorities: (objectType, objectId, permissions). An
authority on a BROKER covers its customers and their domains; one on a CUSTOMER covers its
domains. A sysadmin holds every permission everywhere.

End-user permissions are granted per domain to all of its mailbox users (Cleanmail 5.5.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .words import Text, _l


class ObjectType(StrEnum):
    BROKER = "BROKER"
    CUSTOMER = "CUSTOMER"
    DOMAIN = "DOMAIN"


ALL_SCOPES = (ObjectType.BROKER, ObjectType.CUSTOMER, ObjectType.DOMAIN)


@dataclass(frozen=True)
class PermissionInfo:
    name: str
    label: Text  # a few words for pages (the code stays visible next to it, as the API and the docs name it)
    description: Text
    scopes: tuple[ObjectType, ...] = ALL_SCOPES


class Permission(StrEnum):
    """Administrator permissions."""

    GRANT = "GRANT"
    DOMAIN_CREATE = "DOMAIN_CREATE"
    DOMAIN_READ = "DOMAIN_READ"
    DOMAIN_EDIT = "DOMAIN_EDIT"
    USER_READ = "USER_READ"
    USER_EDIT = "USER_EDIT"
    POLICY_ASSIGN = "POLICY_ASSIGN"
    FILTER_EDIT = "FILTER_EDIT"
    ALIAS_EDIT = "ALIAS_EDIT"
    DKIM_EDIT = "DKIM_EDIT"
    QUARANTINE_READ = "QUARANTINE_READ"
    QUARANTINE_RELEASE = "QUARANTINE_RELEASE"
    IMPERSONATE = "IMPERSONATE"
    HEALTH_RUN = "HEALTH_RUN"
    QUEUE_MANAGE = "QUEUE_MANAGE"


ADMIN_PERMISSIONS: dict[Permission, PermissionInfo] = {
    Permission.GRANT: PermissionInfo(
        "GRANT", _l("Manage administrators"),
        _l("Manage administrators and give them the permissions one holds oneself")),
    Permission.DOMAIN_CREATE: PermissionInfo(
        "DOMAIN_CREATE", _l("Create domains"),
        _l("Create domains for a customer"), (ObjectType.BROKER, ObjectType.CUSTOMER)),
    Permission.DOMAIN_READ: PermissionInfo(
        "DOMAIN_READ", _l("See domains"), _l("See domains, their aliases, platforms, policies and options")),
    Permission.DOMAIN_EDIT: PermissionInfo(
        "DOMAIN_EDIT", _l("Edit domains"),
        _l("Edit and delete domains, their aliases, options and end-user access")),
    Permission.USER_READ: PermissionInfo(
        "USER_READ", _l("See mailbox users"), _l("See mailbox users and their options")),
    Permission.USER_EDIT: PermissionInfo(
        "USER_EDIT", _l("Edit mailbox users"), _l("Create, edit and delete mailbox users")),
    Permission.POLICY_ASSIGN: PermissionInfo(
        "POLICY_ASSIGN", _l("Assign policies"), _l("Assign filtering policies to domains and users")),
    Permission.FILTER_EDIT: PermissionInfo(
        "FILTER_EDIT", _l("Edit filter rules"), _l("Edit sender, attachment and URI filter rules")),
    Permission.ALIAS_EDIT: PermissionInfo(
        "ALIAS_EDIT", _l("Edit aliases"), _l("Edit email aliases (groups)")),
    Permission.DKIM_EDIT: PermissionInfo(
        "DKIM_EDIT", _l("Manage DKIM keys"), _l("Create, rotate and delete DKIM keys")),
    Permission.QUARANTINE_READ: PermissionInfo(
        "QUARANTINE_READ", _l("Read the quarantine"),
        _l("Read the quarantine and folders of the domain's mailboxes")),
    Permission.QUARANTINE_RELEASE: PermissionInfo(
        "QUARANTINE_RELEASE", _l("Release quarantined mail"), _l("Release and delete quarantined messages")),
    Permission.IMPERSONATE: PermissionInfo(
        "IMPERSONATE", _l("Act as a mailbox user"), _l("Open a mailbox user's portal as that user (audited)")),
    Permission.HEALTH_RUN: PermissionInfo(
        "HEALTH_RUN", _l("Run diagnostics"), _l("Run domain and relay diagnostics")),
    # the gateway's queue and filter services hold every tenant's mail: an operator's permission, on a broker only
    Permission.QUEUE_MANAGE: PermissionInfo(
        "QUEUE_MANAGE", _l("Manage the mail queue"),
        _l("See and act on the gateway's mail queue and filter services (every tenant's mail)"), (ObjectType.BROKER,)),
}


class EndUserPermission(StrEnum):
    """What a domain lets its mailbox users do in their own portal."""

    QUARANTINE_VIEW = "QUARANTINE_VIEW"
    QUARANTINE_RELEASE = "QUARANTINE_RELEASE"
    WBLIST_EDIT = "WBLIST_EDIT"
    SIGN_EDIT = "SIGN_EDIT"
    SEND_MAIL = "SEND_MAIL"
    FOLDERS_VIEW = "FOLDERS_VIEW"


END_USER_PERMISSIONS: dict[EndUserPermission, Text] = {  # as an administrator reads them
    EndUserPermission.QUARANTINE_VIEW: _l("Users see their quarantined messages"),
    EndUserPermission.QUARANTINE_RELEASE: _l("Users release their quarantined messages"),
    EndUserPermission.WBLIST_EDIT: _l("Users edit their allowed and blocked senders"),
    EndUserPermission.SIGN_EDIT: _l("Users edit their signature"),
    EndUserPermission.SEND_MAIL: _l("Users send mail from the portal"),
    EndUserPermission.FOLDERS_VIEW: _l("Users browse their retention and archive folders"),
}

END_USER_ABILITIES: dict[EndUserPermission, Text] = {  # as the user reads them, on their home page
    EndUserPermission.QUARANTINE_VIEW: _l("See your quarantined messages"),
    EndUserPermission.QUARANTINE_RELEASE: _l("Release your quarantined messages"),
    EndUserPermission.WBLIST_EDIT: _l("Edit your allowed and blocked senders"),
    EndUserPermission.SIGN_EDIT: _l("Edit your signature"),
    EndUserPermission.SEND_MAIL: _l("Send mail from the portal"),
    EndUserPermission.FOLDERS_VIEW: _l("Browse your retention and archive folders"),
}


def permission_label(code: object) -> object:
    """An administrator permission in words (`FILTER_EDIT` → Edit filter rules), else the code (a Jinja filter)."""
    info = ADMIN_PERMISSIONS.get(str(code))  # type: ignore[call-overload]
    return info.label if info is not None else code


def permissions_for_scope(scope: ObjectType) -> list[Permission]:
    return [p for p, info in ADMIN_PERMISSIONS.items() if scope in info.scopes]
