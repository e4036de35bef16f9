"""Mail servers (seeds 000, 002, 003): the SMTP server Postern's own mail leaves through, and POP3 / IMAP
servers kept and checked the same way. Installation-wide: system administrators only.

- Secrets (password, OAuth client secret) are write-only: encrypted at rest (`portal.crypto`), never answered,
  kept when omitted on an update — unless the host, the token URL or the security changes to NONE, or the
  authentication changes: then a stored secret would go where it was never meant to, so it must be given again.
- At most one SMTP server is enabled (a partial unique index): enabling one disables the other; it is the one
  in use. Two requests enabling two servers at once: one wins, the other gets a 409.
- A check (or a test mail) of a server is claimed in the database first (`check_started_at`, written apart from
  the request): one per server per MAILSERVER_CHECK_INTERVAL seconds across processes, the rest a 429.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import Select, delete, or_, select, update

from .. import crypto
from ..clock import utcnow
from ..errors import Conflict, FieldError, Invalid, NotFound, TooManyRequests
from ..extensions import db
from ..integrations import mailserver, targets
from ..models import MailServer
from ..schemas.mailservers import MailServerIn, MailServerPatch
from ..unit_of_work import apart
from ..words import _l
from . import names
from .listing import ListSpec
from .principal import Principal
from .sending import header_text

DEFAULT_PORTS = {  # (protocol, security) -> port
    ("SMTP", "NONE"): 25, ("SMTP", "STARTTLS"): 587, ("SMTP", "SSL_TLS"): 465,
    ("IMAP", "NONE"): 143, ("IMAP", "STARTTLS"): 143, ("IMAP", "SSL_TLS"): 993,
    ("POP3", "NONE"): 110, ("POP3", "STARTTLS"): 110, ("POP3", "SSL_TLS"): 995,
}
MAX_BULK_DELETE = 10  # as the seed's DELETE with ids


def _boolean(value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise Invalid.on("enabled", _l("Give true or false."))
    return value.lower() == "true"


LIST_SPEC = ListSpec(
    sorts={"name": MailServer.name, "protocol": MailServer.protocol, "host": MailServer.host,
           "enabled": MailServer.enabled, "createdDate": MailServer.created_at, "id": MailServer.id},
    default_sort="name",
    filters={"name": (MailServer.name,), "protocol": (MailServer.protocol,), "enabled": (MailServer.enabled,)},
    exact_filters=frozenset({"protocol", "enabled"}),
    converters={"protocol": str.upper, "enabled": _boolean},
    tiebreak=MailServer.id,
    unique_sorts=frozenset({"name", "id"}),
)


def list_query(principal: Principal) -> Select[Any]:
    principal.require_sysadmin()
    return select(MailServer)


def get(principal: Principal, pk: int) -> MailServer:
    principal.require_sysadmin()
    server = db.session.get(MailServer, pk)
    if server is None:
        raise NotFound(_l("No such mail server."))
    return server


def in_use() -> MailServer | None:
    """The SMTP server Postern's own mail leaves through: the enabled one, if any."""
    return db.session.scalar(select(MailServer).where(MailServer.protocol == "SMTP", MailServer.enabled))


# --- saving ------------------------------------------------------------------------------------------

def _certificate(pem: str | None, _field: str) -> str:
    """The PEM of one or more X.509 certificates, nothing else (the integration's rule: it is the trust anchor)."""
    try:
        mailserver.validate_certificate(pem or "")
    except mailserver.CertificateInvalid as error:
        raise Invalid.on("certificatePem", error.message) from None
    return (pem or "").strip() + "\n"


def _target(values: dict[str, Any], errors: list[FieldError]) -> None:
    """What can be told without a connection: a port off the protocol's allow-list, an IP address Postern may not
    reach. A name that resolves to such an address is refused by the check itself (resolved once, then used)."""
    if values["port"] not in mailserver.allowed_ports(values["protocol"], current_app.config["MAILSERVER_PORTS"]):
        errors.append(FieldError("port", _l("This port is not allowed for this kind of server.")))
    host = values["host"]
    if not current_app.config["ALLOW_PRIVATE_TARGETS"] and targets.valid_host(host) and \
            _is_address(host) and not targets.is_public(host):
        errors.append(FieldError("host", _l("This host is not allowed: it is a local, private or reserved address.")))


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _token_url(value: str | None) -> str | None:
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.username or parts.password:
        raise Invalid.on("oauth.tokenUrl", _l("Give an https URL such as https://login.example.com/token."))
    if parts.scheme == "http" and not current_app.config["ALLOW_PRIVATE_TARGETS"]:
        raise Invalid.on("oauth.tokenUrl", _l("The token URL must use https."))
    return value


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    """Normalise and check the stored fields together; every problem named at once."""
    errors: list[FieldError] = []

    def field(name: str, wire: str, check: Any) -> None:
        try:
            values[name] = check(values[name], wire)
        except Invalid as error:
            errors.extend(error.errors)

    field("host", "host", names.host)
    if values["port"] is None:
        values["port"] = DEFAULT_PORTS[(values["protocol"], values["security"])]
    if not errors:
        _target(values, errors)
    for name, wire in (("sender_name", "senderName"), ("subject_prefix", "subjectPrefix")):
        if values[name]:
            field(name, wire, header_text)
    if values["sender_address"]:
        field("sender_address", "senderAddress", names.address)
    if values["certificate"] == "CUSTOM":
        field("certificate_pem", "certificatePem", _certificate)
    else:
        values["certificate_pem"] = None
    if values["auth"] == "USERNAME_PASSWORD" and not values["username"]:
        errors.append(FieldError("username", _l("Give the user name to sign in with.")))
    if values["auth"] == "OAUTH2":
        if not values["oauth_client_id"]:
            errors.append(FieldError("oauth.clientId", _l("Give the application's client ID.")))
        if not values["oauth_tenant_id"] and not values["oauth_token_url"]:
            errors.append(FieldError("oauth.tenantId", _l("Give the tenant ID, or a token URL.")))
        field("oauth_token_url", "oauth.tokenUrl", lambda url, _w: _token_url(url))
        if not values["username"]:
            errors.append(FieldError("username", _l("Give the mailbox to sign in as (XOAUTH2 names it).")))
    if errors:
        raise Invalid(_l("Some settings are not valid."), errors)
    return values


def _fields(data: MailServerIn | MailServerPatch) -> dict[str, Any]:
    """The model's column values a request gives (secrets apart)."""
    given = data.model_dump(exclude={"password", "oauth"}, exclude_unset=isinstance(data, MailServerPatch))
    if isinstance(data, MailServerPatch):
        given = {k: v for k, v in given.items() if v is not None or k in ("remark", "sender_name",
                                                                          "sender_address", "subject_prefix")}
    for key, value in list(given.items()):
        given[key] = value.value if hasattr(value, "value") else value
    oauth = data.oauth
    if oauth is not None:
        for key in ("tenant_id", "client_id", "token_url", "scope"):
            if key in oauth.model_fields_set or isinstance(data, MailServerIn):
                given[f"oauth_{key}"] = getattr(oauth, key)
    elif isinstance(data, MailServerIn):
        given.update(oauth_tenant_id=None, oauth_client_id=None, oauth_token_url=None, oauth_scope=None)
    if "remark" in given:
        given["remark"] = given["remark"] or None
    return given


def _store(server: MailServer, data: MailServerIn | MailServerPatch, new: bool) -> MailServer:
    # where a stored secret goes: when one of these changes (or the security becomes NONE) it must be given again
    before = {c: getattr(server, c) for c in ("host", "auth", "oauth_token_url", "oauth_tenant_id")}
    was = {c: getattr(server, c) for c in ("host", "port", "protocol", "security")}
    values = {c.key: getattr(server, c.key) for c in MailServer.__table__.columns}
    values.update(_fields(data))
    if isinstance(data, MailServerPatch) and data.port is None and (
            "protocol" in data.model_fields_set or "security" in data.model_fields_set) and \
            server.port == DEFAULT_PORTS.get((server.protocol, server.security)):
        values["port"] = None  # it was the default port: it follows the new protocol / security
    values = _checked(values)
    password = data.password
    client_secret = data.oauth.client_secret if data.oauth is not None else None
    moved = (not new and any(values[key] != before[key] for key in before)) or (
        values["security"] == "NONE" and was["security"] != "NONE")
    errors: list[FieldError] = []
    if values["auth"] == "USERNAME_PASSWORD" and password is None and (new or moved or not server.password):
        errors.append(FieldError("password", _l("Give the password again: where it goes has changed.")
                                 if server.password else _l("Give the password.")))
    if values["auth"] == "OAUTH2" and client_secret is None and (new or moved or not server.oauth_client_secret):
        errors.append(FieldError("oauth.clientSecret", _l("Give the client secret again: where it goes has changed.")
                                 if server.oauth_client_secret else _l("Give the client secret.")))
    if errors:
        raise Invalid(_l("Some settings are not valid."), errors)
    for key, value in values.items():
        if key not in ("id", "password", "oauth_client_secret", "created_at", "updated_at") and \
                not key.startswith("check"):
            setattr(server, key, value)
    server.password = (crypto.encrypt(password) if password is not None else server.password) \
        if values["auth"] == "USERNAME_PASSWORD" else None
    server.oauth_client_secret = (crypto.encrypt(client_secret) if client_secret is not None
                                  else server.oauth_client_secret) if values["auth"] == "OAUTH2" else None
    if values["auth"] == "NO_AUTH":
        server.username = None
    if values["auth"] != "OAUTH2":
        server.oauth_tenant_id = server.oauth_client_id = server.oauth_token_url = server.oauth_scope = None
    if not new and any(getattr(server, key) != was[key] for key in was):
        server.checked_at = server.check_ok = server.check_stage = server.check_message = None
        server.check_transcript = None  # the last check was of another server
    return server


def _unique_name(name: str, pk: int | None) -> None:
    clash = db.session.scalar(select(MailServer.id).where(MailServer.name == name))
    if clash is not None and clash != pk:
        raise Conflict.on("name", _l("A mail server named “%(name)s” exists already.", name=name))


def _use(server: MailServer) -> None:
    """Enabled SMTP: the one in use; the other enabled SMTP server steps down first (the index allows one)."""
    if server.enabled and server.protocol == "SMTP":
        with db.session.no_autoflush:  # the new state is flushed after the other one stepped down
            db.session.execute(update(MailServer).where(MailServer.protocol == "SMTP", MailServer.enabled,
                                                        MailServer.id != (server.id or -1)).values(enabled=False)
                               .execution_options(synchronize_session="fetch"))


def create(principal: Principal, data: MailServerIn) -> MailServer:
    principal.require_sysadmin()
    server = MailServer(check_transcript=None)
    _store(server, data, new=True)
    _unique_name(server.name, None)
    _use(server)
    db.session.add(server)
    db.session.flush()
    return server


def change(principal: Principal, pk: int, data: MailServerIn | MailServerPatch) -> MailServer:
    """PUT (every field; secrets kept when omitted) or PATCH (the fields given)."""
    server = get(principal, pk)
    _store(server, data, new=False)
    _unique_name(server.name, server.id)
    _use(server)
    db.session.flush()
    return server


def set_enabled(principal: Principal, pk: int, enabled: bool) -> MailServer:
    server = get(principal, pk)
    server.enabled = enabled
    _use(server)
    db.session.flush()
    return server


def remove(principal: Principal, pks: list[int]) -> None:
    """Delete one server or up to ten; every id must exist (nothing is deleted otherwise)."""
    principal.require_sysadmin()
    if not pks:
        raise Invalid.on("ids", _l("Give the ids of the servers to delete."))
    if len(pks) > MAX_BULK_DELETE:
        raise Invalid.on("ids", _l("Delete at most %(limit)s servers at once.", limit=MAX_BULK_DELETE))
    found = set(db.session.scalars(select(MailServer.id).where(MailServer.id.in_(pks))))
    if found != set(pks):
        raise NotFound(_l("No such mail server."))
    db.session.execute(delete(MailServer).where(MailServer.id.in_(pks)).execution_options(synchronize_session="fetch"))


# --- talking to the server ------------------------------------------------------------------------------

def endpoint_of(server: MailServer) -> mailserver.Endpoint:
    """The settings as the integration uses them, secrets decrypted."""
    oauth = None
    if server.auth == "OAUTH2":
        oauth = mailserver.OAuth(
            tenant_id=server.oauth_tenant_id or "", client_id=server.oauth_client_id or "",
            client_secret=crypto.decrypt(server.oauth_client_secret) if server.oauth_client_secret else "",
            token_url=token_url_of(server), scope=scope_of(server))
    return mailserver.Endpoint(
        protocol=server.protocol, host=server.host, port=server.port, security=server.security,
        certificate_pem=server.certificate_pem if server.certificate == "CUSTOM" else None, auth=server.auth,
        username=server.username,
        password=crypto.decrypt(server.password) if server.password and server.auth == "USERNAME_PASSWORD" else None,
        oauth=oauth)


def token_url_of(server: MailServer) -> str:
    return server.oauth_token_url or mailserver.DEFAULT_TOKEN_URL.format(tenant=server.oauth_tenant_id or "common")


def scope_of(server: MailServer) -> str:
    return server.oauth_scope or mailserver.DEFAULT_SCOPE[server.protocol]


def claim(server: MailServer) -> None:
    """One check or test mail of a server at a time, and not again within the interval, across processes."""
    interval = float(current_app.config["MAILSERVER_CHECK_INTERVAL"])
    now = utcnow()
    with apart() as conn:
        claimed = conn.execute(update(MailServer.__table__).where(
            MailServer.__table__.c.id == server.id,
            or_(MailServer.__table__.c.check_started_at.is_(None),
                MailServer.__table__.c.check_started_at <= now - timedelta(seconds=interval)))
            .values(check_started_at=now)).rowcount
    if not claimed:
        error = TooManyRequests(_l("This server was checked a moment ago: try again in a few seconds."))
        error.retry_after = max(1, round(interval))
        raise error


def options() -> dict[str, Any]:
    return {"timeout": float(current_app.config["MAILSERVER_TIMEOUT"]),
            "allow_private": bool(current_app.config["ALLOW_PRIVATE_TARGETS"]),
            "extra_ports": current_app.config["MAILSERVER_PORTS"]}


def check(principal: Principal, pk: int) -> mailserver.CheckResult:
    """Connect, greet, TLS, authenticate as configured; the result is kept with the server."""
    server = get(principal, pk)
    claim(server)
    result = mailserver.check(endpoint_of(server), **options())
    server.checked_at = result.checked_at.replace(tzinfo=None)
    server.check_ok, server.check_stage = result.ok, result.stage
    server.check_message = str(result.message.english() if hasattr(result.message, "english") else result.message)
    server.check_transcript = list(result.transcript)
    db.session.flush()
    return result
