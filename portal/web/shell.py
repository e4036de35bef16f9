"""The application shell's navigation: the administrators' sidebar groups and the mailbox users' links.

Adding a page to the sidebar is one line: a `Link` in `ADMIN_NAV` (or `USER_NAV`). A link names its endpoint,
its label, who may see it (`show`) and the endpoints of the pages below it (`under`), which mark it as the
section of the current page. A group whose links are all hidden is left out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..permissions import Permission
from ..services import filter_services, mailqueue
from .session import current_principal


def _always(_args: Mapping[str, Any]) -> bool:
    return True


def _sysadmin(_args: Mapping[str, Any]) -> bool:
    return bool(current_user.admin.sys_admin)


def _grants_anywhere(_args: Mapping[str, Any]) -> bool:
    """The administrators list answers only where the account holds GRANT (services/admins.list_query)."""
    return current_principal().holds_anywhere(Permission.GRANT)


def _filter_services(_args: Mapping[str, Any]) -> bool:
    """Sysadmins and QUEUE_MANAGE operators see the gateway's filter services."""
    return filter_services.may_read(current_principal())


def _queue(_args: Mapping[str, Any]) -> bool:
    """The mail queue: sysadmins, or QUEUE_MANAGE on any broker (services/mailqueue.allowed)."""
    return mailqueue.allowed(current_principal())


def _quarantine_reader(_args: Mapping[str, Any]) -> bool:
    """The domain-wide quarantine search: QUARANTINE_READ held anywhere (services/quarantine_search)."""
    return current_principal().holds_anywhere(Permission.QUARANTINE_READ)


def _in_domain(args: Mapping[str, Any]) -> bool:
    return "domain_id" in args


def _grants(grant: str) -> Callable[[Mapping[str, Any]], bool]:
    def show(_args: Mapping[str, Any]) -> bool:
        return bool(current_user.user.domain.grants(grant))
    return show


@dataclass(frozen=True)
class Link:
    endpoint: str
    label: Any
    show: Callable[[Mapping[str, Any]], bool] = _always
    under: tuple[str, ...] = ()
    # Fixed URL arguments; "domain_id" is taken from the current page (links shown only inside a domain).
    params: Mapping[str, str] = field(default_factory=dict)
    from_page: tuple[str, ...] = ()


@dataclass(frozen=True)
class Group:
    label: Any
    links: tuple[Link, ...]


def _rules(kind: str, label: Any) -> Link:
    under = ("admin.senders_import",) if kind == "senders" else ()
    return Link("admin.rules_list", label, _in_domain, under, {"kind": kind}, ("domain_id",))


ADMIN_NAV: tuple[Group, ...] = (
    Group(_l("Overview"), (
        Link("admin.dashboard", _l("Dashboard"), under=("admin.admin_home",)),
        Link("admin.explain", _l("Explain")),
    )),
    Group(_l("Tenancy"), (
        Link("admin.customers_list", _l("Customers"), under=("admin.customer_page",)),
        Link("admin.domains_list", _l("Domains"), under=(
            "admin.domain_page", "admin.domain_tab", "admin.domain_new", "admin.domain_delete", "admin.domain_users",
            "admin.user_edit", "admin.user_quarantine", "admin.user_quarantine_message", "admin.policy_new",
            "admin.policy_edit", "admin.rules_list", "admin.senders_import", "admin.content_import")),
        Link("admin.admins_list", _l("Administrators"), _grants_anywhere,
             under=("admin.admin_edit", "admin.admin_new", "admin.admin_delete")),
    )),
    Group(_l("Help desk"), (
        Link("admin.quarantine_search_form", _l("Quarantine search"), _quarantine_reader,
             under=("admin.quarantine_search_results",)),
    )),
    # Rules are kept per domain: the group shows the current domain's lists.
    Group(_l("Filtering"), (
        _rules("senders", _l("Sender rules")),
        _rules("attachments", _l("Attachment rules")),
        _rules("uris", _l("URI rules")),
        _rules("groups", _l("Email aliases")),
    )),
    Group(_l("Security"), (
        Link("admin.audit_list", _l("Audit")),
        Link("admin.my_tokens", _l("API tokens")),
        Link("admin.security", _l("Two-factor authentication")),
    )),
    Group(_l("System"), (
        Link("admin.installation_options", _l("Options"), _sysadmin),
        Link("admin.providers_list", _l("Providers"), _sysadmin),
        Link("admin.mailservers_list", _l("Mail servers"), _sysadmin, under=(
            "admin.mailserver_new", "admin.mailserver_edit", "admin.mailserver_update", "admin.mailserver_delete",
            "admin.mailserver_check", "admin.mailserver_test_mail")),
        Link("admin.mailqueue_page", _l("Mail queue"), _queue, under=("admin.mailqueue_message",)),
        Link("admin.tracking_page", _l("Message tracking"), _queue),
        Link("admin.services_page", _l("Filter services"), _filter_services),
        Link("admin.jobs_page", _l("Jobs"), _sysadmin),
    )),
)

USER_NAV: tuple[Link, ...] = (
    Link("user.home", _l("My portal")),
    Link("user.quarantine", _l("My quarantine"), _grants("QUARANTINE_VIEW"), ("user.quarantine_message",)),
    Link("user.folders", _l("Folders"), _grants("FOLDERS_VIEW")),
    Link("user.compose", _l("Write"), _grants("SEND_MAIL")),
    Link("user.senders", _l("My senders"), _grants("WBLIST_EDIT")),
    Link("user.signature", _l("My signature"), _grants("SIGN_EDIT")),
    Link("user.notifications", _l("Notifications")),
)


@dataclass(frozen=True)
class NavItem:
    label: Any
    href: str
    current: str | None  # "page" on the link's own page, "true" on a page below it, else None


def _item(link: Link) -> NavItem | None:
    args = request.view_args or {}
    if not link.show(args):
        return None
    values = {**link.params, **{name: args[name] for name in link.from_page}}
    current = None
    if request.endpoint == link.endpoint and all(args.get(k) == v for k, v in link.params.items()):
        current = "page"
    elif request.endpoint in link.under:
        current = "true"
    return NavItem(link.label, url_for(link.endpoint, **values), current)


def admin_nav() -> list[tuple[Any, list[NavItem]]]:
    """The sidebar's groups for the signed-in administrator, without the empty ones."""
    groups = []
    for group in ADMIN_NAV:
        items = [item for item in map(_item, group.links) if item is not None]
        if items:
            groups.append((group.label, items))
    # A page inside a domain marks its filtering link, not "Domains" as well.
    if any(item.current == "page" for _, items in groups for item in items):
        groups = [(label, [item if item.current != "true" else NavItem(item.label, item.href, None) for item in items])
                  for label, items in groups]
    return groups


def user_nav() -> list[NavItem]:
    """The mailbox user's links, those the domain grants."""
    return [item for item in map(_item, USER_NAV) if item is not None]


def home_crumb() -> tuple[Any, str, bool] | None:
    """The first breadcrumb: the signed-in account's home page (label, URL, whether it is this page); none
    signed out."""
    if not current_user.is_authenticated:
        return None
    if current_user.kind == "user":
        endpoint, label = "user.home", _l("My portal")
    else:
        endpoint, label = "admin.dashboard", _l("Dashboard")
    return label, url_for(endpoint), request.endpoint in (endpoint, "admin.admin_home")


def init_app(app: Flask) -> None:
    app.jinja_env.globals["home_crumb"] = home_crumb
    app.jinja_env.globals["admin_nav"] = admin_nav
    app.jinja_env.globals["user_nav"] = user_nav
