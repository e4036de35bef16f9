"""Mail servers (seeds 000, 002, 003), a Postern extension: system administrators keep the servers Postern
talks to; the enabled SMTP server is the one its own mail leaves through."""

from __future__ import annotations

from flask import Response, current_app, request

from .. import ids, serializers
from ..clock import to_ms
from ..errors import Invalid
from ..schemas.mailservers import (
    CheckOut,
    InUseOut,
    MailServerIn,
    MailServerOut,
    MailServerPatch,
    TestMailIn,
    TestMailOut,
)
from ..services import mailservers, own_mail
from ..words import english
from .framework import (
    Access,
    Listing,
    QueryParam,
    created,
    endpoint,
    json_response,
    list_response,
    no_content,
    principal,
)

TAG = "MailServers"
LIST = Listing(spec=mailservers.LIST_SPEC, descriptions={
    "name": "Filter by name (exact, prefix*, *suffix or *contains*)", "protocol": "SMTP, POP3 or IMAP",
    "enabled": "true or false"})
NOT_FOUND = {404: "The mail server may not exist"}
SAVE_ERRORS = {**NOT_FOUND, 409: "A mail server with this name exists, or another SMTP server was enabled at the "
                                 "same time"}
IDS = QueryParam("ids", "Comma-separated ids of the servers to delete (at most 10)", required=True)
RATE = {**NOT_FOUND, 429: "The server was checked a moment ago: try again after Retry-After seconds"}


def _one(server_id: str) -> Response:
    return json_response(serializers.mailserver_out(mailservers.get(principal(), ids.decode(server_id))))


@endpoint("/mailservers", "GET", access=Access.SYSADMIN, tag=TAG, summary="List mail servers",
          response=list[MailServerOut], listing_=LIST, extension=True)
def list_mailservers() -> Response:
    return list_response(mailservers.list_query(principal()), LIST,
                         lambda rows: [serializers.mailserver_out(s) for s in rows])


@endpoint("/mailservers", "POST", access=Access.SYSADMIN, tag=TAG, summary="Add a mail server",
          body=MailServerIn, response=MailServerOut, status=201, errors=SAVE_ERRORS, extension=True)
def add_mailserver(body: MailServerIn) -> Response:
    server = mailservers.create(principal(), body)
    return created(serializers.mailserver_out(server), f"/api/mailservers/{ids.encode(server.id)}")


@endpoint("/mailservers", "DELETE", access=Access.SYSADMIN, tag=TAG, summary="Delete up to 10 mail servers",
          status=204, query=(IDS,), errors=NOT_FOUND, extension=True)
def delete_mailservers() -> Response:
    raw = [part.strip() for part in request.args.get("ids", "").split(",") if part.strip()]
    if len(raw) > mailservers.MAX_BULK_DELETE:
        raise Invalid.on("ids", f"Delete at most {mailservers.MAX_BULK_DELETE} servers at once.")
    mailservers.remove(principal(), [ids.decode(value) for value in raw])
    return no_content()


@endpoint("/mailservers/in-use", "GET", access=Access.SYSADMIN, tag=TAG, response=InUseOut, extension=True,
          summary="The SMTP server Postern's own mail leaves through")
def mailserver_in_use() -> Response:
    principal().require_sysadmin()
    server = mailservers.in_use()
    if server is not None:
        route = "MAIL_SERVER"
    else:
        route = "LOCAL" if current_app.config.get("DELIVERY") == "local" else "PLATFORM_RELAY"
    return json_response(InUseOut(route=route, server=serializers.mailserver_out(server) if server else None))


@endpoint("/mailservers/<serverId>", "GET", access=Access.SYSADMIN, tag=TAG, summary="Get a mail server",
          response=MailServerOut, errors=NOT_FOUND, extension=True)
def get_mailserver(serverId: str) -> Response:
    return _one(serverId)


@endpoint("/mailservers/<serverId>", "PUT", access=Access.SYSADMIN, tag=TAG, summary="Replace a mail server",
          body=MailServerIn, response=MailServerOut, errors=SAVE_ERRORS, extension=True)
def replace_mailserver(serverId: str, body: MailServerIn) -> Response:
    return json_response(serializers.mailserver_out(mailservers.change(principal(), ids.decode(serverId), body)))


@endpoint("/mailservers/<serverId>", "PATCH", access=Access.SYSADMIN, tag=TAG, summary="Change a mail server",
          body=MailServerPatch, response=MailServerOut, errors=SAVE_ERRORS, extension=True)
def patch_mailserver(serverId: str, body: MailServerPatch) -> Response:
    return json_response(serializers.mailserver_out(mailservers.change(principal(), ids.decode(serverId), body)))


@endpoint("/mailservers/<serverId>", "DELETE", access=Access.SYSADMIN, tag=TAG, summary="Delete a mail server",
          status=204, errors=NOT_FOUND, extension=True)
def delete_mailserver(serverId: str) -> Response:
    mailservers.remove(principal(), [ids.decode(serverId)])
    return no_content()


@endpoint("/mailservers/<serverId>/enable", "POST", access=Access.SYSADMIN, tag=TAG, response=MailServerOut,
          summary="Enable a mail server (an SMTP server becomes the one in use)", errors=SAVE_ERRORS, extension=True)
def enable_mailserver(serverId: str) -> Response:
    return json_response(serializers.mailserver_out(mailservers.set_enabled(principal(), ids.decode(serverId), True)))


@endpoint("/mailservers/<serverId>/disable", "POST", access=Access.SYSADMIN, tag=TAG, response=MailServerOut,
          summary="Disable a mail server", errors=SAVE_ERRORS, extension=True)
def disable_mailserver(serverId: str) -> Response:
    return json_response(serializers.mailserver_out(mailservers.set_enabled(principal(), ids.decode(serverId),
                                                                            False)))


@endpoint("/mailservers/<serverId>/check", "POST", access=Access.SYSADMIN, tag=TAG, response=CheckOut,
          summary="Check the server live: connect, TLS, authenticate", errors=RATE, extension=True)
def check_mailserver(serverId: str) -> Response:
    result = mailservers.check(principal(), ids.decode(serverId))
    return json_response(CheckOut(ok=result.ok, stage=result.stage, message=english(result.message),
                                  transcript=result.transcript, checked_at=to_ms(result.checked_at)))


@endpoint("/mailservers/<serverId>/test-mail", "POST", access=Access.SYSADMIN, tag=TAG, body=TestMailIn,
          response=TestMailOut, summary="Send a test mail through the server", errors=RATE, extension=True)
def test_mail(serverId: str, body: TestMailIn) -> Response:
    result = own_mail.send_test(principal(), ids.decode(serverId), str(body.to))
    return json_response(TestMailOut(ok=result.ok, stage=result.stage, message=english(result.message),
                                     message_id=result.message_id))
