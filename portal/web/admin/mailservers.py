"""Mail servers (issue 12): the SMTP / POP3 / IMAP servers Postern talks to. Installation-wide: system
administrators only (the service checks it; the empty forms check it too, as they are only for who may save).

Secrets are write-only: the form's password and client-secret inputs are always empty, a blank one keeps what
is stored (the service asks for it again when the server's host, security or authentication changes).
A check and a test mail answer a fragment for HTMX (the result, its transcript) and the whole page otherwise.
"""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from ... import ids
from ...errors import ServiceError, TooManyRequests, Unavailable
from ...models import MailServer
from ...schemas.mailservers import MailServerIn
from ...services import mailservers, own_mail
from ...unit_of_work import attempt
from ...words import Message, _l
from .. import forms
from ..listing import list_page
from ..render import render, wants_fragment
from ..session import current_principal
from .blueprint import bp

PROTOCOLS: dict[str, Any] = {"SMTP": "SMTP", "IMAP": "IMAP", "POP3": "POP3"}
SECURITY: dict[str, Any] = {
    "STARTTLS": _l("STARTTLS (upgrade to TLS)"),
    "SSL_TLS": _l("SSL/TLS from the start"),
    "NONE": _l("None (plain text)"),
}
SECURITY_SHORT: dict[str, Any] = {"STARTTLS": "STARTTLS", "SSL_TLS": "SSL/TLS", "NONE": _l("None")}  # the list's
CERTIFICATES: dict[str, Any] = {
    "DEFAULT": _l("Trusted by the system's authorities"),
    "CUSTOM": _l("A certificate of my own (PEM)"),
}
AUTHS: dict[str, Any] = {
    "NO_AUTH": _l("No authentication"),
    "USERNAME_PASSWORD": _l("User name and password"),
    "OAUTH2": _l("OAuth 2.0 (client credentials)"),
}
STAGES: dict[str, Any] = {  # where a check or a test mail stopped (CheckOut.stage)
    "target": _l("Target"),
    "connect": _l("Connection"),
    "tls": _l("TLS"),
    "greeting": _l("Greeting"),
    "capabilities": _l("Capabilities"),
    "auth": _l("Authentication"),
    "send": _l("Sending"),
    "done": _l("Done"),
}


def _blank(name: str) -> str | None:
    return forms.blank_to_none(request.form.get(name))


def _server_in() -> MailServerIn:
    """The posted form as the API's PUT body (a blank secret: none given, so the stored one is kept)."""
    form = request.form
    auth = form.get("auth", "NO_AUTH")
    oauth = None
    if auth == "OAUTH2":
        oauth = {"tenantId": _blank("oauth_tenant_id"), "clientId": _blank("oauth_client_id"),
                 "clientSecret": form.get("oauth_client_secret") or None, "tokenUrl": _blank("oauth_token_url"),
                 "scope": _blank("oauth_scope")}
    return forms.parse(MailServerIn, {
        "name": form.get("name", "").strip(),
        "remark": _blank("remark"),
        "protocol": form.get("protocol", "SMTP"),
        "host": form.get("host", "").strip(),
        "port": _blank("port"),
        "security": form.get("security", "STARTTLS"),
        "certificate": form.get("certificate", "DEFAULT"),
        "certificatePem": (form.get("certificate_pem") or "").strip() or None,
        "auth": auth,
        "username": _blank("username") if auth != "NO_AUTH" else None,
        "password": (form.get("password") or None) if auth == "USERNAME_PASSWORD" else None,
        "oauth": oauth,
        "senderName": _blank("sender_name"),
        "senderAddress": _blank("sender_address"),
        "subjectPrefix": _blank("subject_prefix"),
        "enabled": form.get("enabled") == "on",
    })


def _values(server: MailServer | None) -> dict[str, Any]:
    """The form's values from a stored server (secrets never), or a new server's defaults."""
    if server is None:
        return {"protocol": "SMTP", "security": "STARTTLS", "certificate": "DEFAULT", "auth": "NO_AUTH"}
    return {
        "name": server.name, "remark": server.remark or "", "protocol": server.protocol, "host": server.host,
        "port": str(server.port), "security": server.security, "certificate": server.certificate,
        "certificate_pem": server.certificate_pem or "", "auth": server.auth, "username": server.username or "",
        "oauth_tenant_id": server.oauth_tenant_id or "", "oauth_client_id": server.oauth_client_id or "",
        "oauth_token_url": server.oauth_token_url or "", "oauth_scope": server.oauth_scope or "",
        "sender_name": server.sender_name or "", "sender_address": server.sender_address or "",
        "subject_prefix": server.subject_prefix or "", "enabled": "on" if server.enabled else "",
    }


def _posted() -> dict[str, Any]:
    """What was typed, to show again with the errors (the secrets left out: never sent back to the browser)."""
    values = request.form.to_dict()
    for secret in ("password", "oauth_client_secret", "csrf_token"):
        values.pop(secret, None)
    return values


def _choices() -> dict[str, Any]:
    return {"protocols": PROTOCOLS, "securities": SECURITY, "securities_short": SECURITY_SHORT,
            "certificates": CERTIFICATES, "auths": AUTHS, "stages": STAGES}


def _in_use_id() -> int | None:
    server = mailservers.in_use()
    return server.id if server is not None else None


@bp.get("/admin/mailservers")
def mailservers_list() -> Response:
    principal = current_principal()
    return list_page(mailservers.list_query(principal), mailservers.LIST_SPEC, "admin/mailservers/list.html",
                     "admin/mailservers/_table.html", search_field="name", in_use_id=_in_use_id(),
                     **_choices())


def _last_check(server: MailServer | None) -> dict[str, Any] | None:
    """The stored result of the server's last check, its message (an English msgid) in the reader's language."""
    if server is None or server.checked_at is None:
        return None
    return {"ok": bool(server.check_ok), "stage": server.check_stage or "", "checked_at": server.checked_at,
            "message": _(server.check_message) if server.check_message else "",
            "transcript": server.check_transcript or []}


def _form_page(server: MailServer | None, values: dict[str, Any], errors: dict[str, Message],
               status: int = 200, **extra: Any) -> Response:
    template = "admin/mailservers/edit.html" if server is not None else "admin/mailservers/new.html"
    return render(template, status=status, server=server, server_id=ids.encode(server.id) if server else None,
                  values=values, errors=errors, in_use_id=_in_use_id(), last_check=_last_check(server),
                  **_choices(), **extra)


@bp.route("/admin/mailservers/new", methods=["GET", "POST"])
def mailserver_new() -> Response:
    principal = current_principal()
    principal.require_sysadmin()  # as mailservers.create: the form is only for who may save it
    if request.method == "GET":
        return _form_page(None, _values(None), {})
    try:
        body = _server_in()
        with attempt():
            server = mailservers.create(principal, body)
    except ServiceError as error:
        return _form_page(None, _posted(), forms.messages(error), error.status)
    flash(_("Mail server %(name)s added.", name=server.name), "success")
    return redirect(url_for("admin.mailserver_edit", server_id=ids.encode(server.id)))


@bp.get("/admin/mailservers/<server_id>")
def mailserver_edit(server_id: str) -> Response:
    server = mailservers.get(current_principal(), ids.decode(server_id))
    return _form_page(server, _values(server), {})


@bp.post("/admin/mailservers/<server_id>")
def mailserver_update(server_id: str) -> Response:
    principal = current_principal()
    pk = ids.decode(server_id)
    mailservers.get(principal, pk)  # 404 / 403 before reading the form
    try:
        body = _server_in()
        with attempt():
            server = mailservers.change(principal, pk, body)
    except ServiceError as error:
        return _form_page(mailservers.get(principal, pk), _posted(), forms.messages(error), error.status)
    flash(_("Mail server %(name)s saved.", name=server.name), "success")
    return redirect(url_for("admin.mailserver_edit", server_id=server_id))


@bp.post("/admin/mailservers/<server_id>/enabled")
def mailserver_enabled(server_id: str) -> Response:
    enabled = request.form.get("enabled") == "true"
    server = mailservers.set_enabled(current_principal(), ids.decode(server_id), enabled)
    if enabled and server.protocol == "SMTP":
        flash(_("%(name)s is enabled: Postern's own mail now leaves through it.", name=server.name), "success")
    elif enabled:
        flash(_("%(name)s is enabled.", name=server.name), "success")
    else:
        flash(_("%(name)s is disabled.", name=server.name), "success")
    back = request.form.get("back")
    if back == "list":
        return redirect(url_for("admin.mailservers_list"))
    return redirect(url_for("admin.mailserver_edit", server_id=server_id))


@bp.route("/admin/mailservers/<server_id>/delete", methods=["GET", "POST"])
def mailserver_delete(server_id: str) -> Response:
    principal = current_principal()
    server = mailservers.get(principal, ids.decode(server_id))
    if request.method == "GET":
        return render("admin/mailservers/delete.html", server=server, server_id=server_id,
                      in_use_id=_in_use_id())
    name = server.name
    mailservers.remove(principal, [server.id])
    flash(_("Mail server %(name)s deleted.", name=name), "success")
    return redirect(url_for("admin.mailservers_list"))


def _outcome(server_id: str, fragment: str, status: int, **result: Any) -> Response:
    """A check's or a test mail's result: the fragment for HTMX, else the server's page showing it."""
    if wants_fragment():
        return render(fragment, status=status, server_id=server_id, stages=STAGES, **result)
    server = mailservers.get(current_principal(), ids.decode(server_id))
    return _form_page(server, _values(server), {}, status, **result)


@bp.post("/admin/mailservers/<server_id>/check")
def mailserver_check(server_id: str) -> Response:
    principal = current_principal()
    pk = ids.decode(server_id)
    try:
        result = mailservers.check(principal, pk)
    except TooManyRequests as error:
        response = _outcome(server_id, "admin/mailservers/_check.html", error.status, check_refused=error.detail)
        response.headers["Retry-After"] = str(error.retry_after)
        return response
    except Unavailable as error:  # the check could not run at all (no probe): a failed check, said as such
        return _outcome(server_id, "admin/mailservers/_check.html", 200,
                        check={"ok": False, "stage": "connect", "message": error.detail, "transcript": []})
    return _outcome(server_id, "admin/mailservers/_check.html", 200, check={
        "ok": result.ok, "stage": result.stage, "message": result.message, "transcript": result.transcript})


@bp.post("/admin/mailservers/<server_id>/test-mail")
def mailserver_test_mail(server_id: str) -> Response:
    principal = current_principal()
    pk = ids.decode(server_id)
    mailservers.get(principal, pk)  # 404 / 403 first
    to = (request.form.get("to") or "").strip()
    fragment = "admin/mailservers/_test_mail.html"
    try:
        result = own_mail.send_test(principal, pk, to, str(get_locale() or "en").upper())
    except TooManyRequests as error:
        response = _outcome(server_id, fragment, error.status, test_to=to, test_refused=error.detail)
        response.headers["Retry-After"] = str(error.retry_after)
        return response
    except Unavailable as error:
        return _outcome(server_id, fragment, 200, test_to=to,
                        test={"ok": False, "stage": "send", "message": error.detail, "message_id": None})
    except ServiceError as error:  # the address (or the protocol) refused: next to the field
        return _outcome(server_id, fragment, error.status, test_to=to, test_errors=forms.messages(error))
    return _outcome(server_id, fragment, 200, test_to=to, test={
        "ok": result.ok, "stage": result.stage, "message": result.message, "message_id": result.message_id})
