"""Seed 5.7 Emails: folders (the messages, release and send come with the rest of the quarantine issue)."""

from __future__ import annotations

from urllib.parse import quote

from flask import Response, current_app, request

from .. import ids
from ..clock import to_ms
from ..errors import Conflict, FieldError, Invalid
from ..integrations.mailstore import Folder, Summary
from ..models import MailUser, Upload
from ..responses import download
from ..schemas.emails import (
    AttachmentFileOut,
    AttachmentOut,
    ImapFolderOut,
    ImapMessageAttachmentList,
    ImapMessageContentOut,
    ImapMessageOut,
    SentOut,
    SmtpMessageIn,
)
from ..services import mailboxes, messages, release, sending, uploads
from .framework import Access, QueryParam, endpoint, json_response, no_content, principal
from .problems import from_service_error

FIELDS = QueryParam("fields", "STATS adds messageCount and unreadMessageCount",
                    schema={"type": "string", "enum": ["STATS"]})
IMAP_DOWN = "Something went wrong. Possibly unable to connect to Imap."
ERRORS = {404: "The user does not exist.", 500: IMAP_DOWN}
INFECTED = "The message is infected and X-Virus-Lover was not sent"
CLAMD_DOWN = "The configured virus scanner cannot be reached"
VIRUS_LOVER = QueryParam("X-Virus-Lover", "Required to download the attachments of an infected message, as to "
                         "release it", where="header")


def _virus_lover() -> bool:
    return request.headers.get("X-Virus-Lover") is not None


def _folder(user: MailUser, folder: Folder) -> ImapFolderOut:
    base = f"/api/users/{ids.encode(user.id)}/emails"
    path = quote(folder.path, safe="/")
    return ImapFolderOut(
        name=folder.name, path=folder.path, unread_message_count=folder.unseen, message_count=folder.messages,
        messages_uri=f"{base}/{path}", children_uri=f"{base}/folders/{path}" if folder.has_children else None,
    )


def _list(user_ref: str, parent: str | None) -> Response:
    stats = "STATS" in request.args.get("fields", "").upper().split(",")
    user = mailboxes.find_user(user_ref)
    found = mailboxes.folders(principal(), user, parent, stats=stats)
    return json_response([_folder(user, f) for f in found])


@endpoint("/users/<userIdOrEmail>/emails/folders", "GET", access=Access.AUTHENTICATED, tag="Emails",
          summary="Get folders", response=list[ImapFolderOut], query=(FIELDS,), errors=ERRORS)
def get_folders(userIdOrEmail: str) -> Response:
    return _list(userIdOrEmail, None)


@endpoint("/users/<userIdOrEmail>/emails/folders/<path:path>", "GET", access=Access.AUTHENTICATED, tag="Emails",
          summary="Get sub-folders", response=list[ImapFolderOut], query=(FIELDS,), errors=ERRORS)
def get_subfolders(userIdOrEmail: str, path: str) -> Response:
    return _list(userIdOrEmail, path.strip("/"))


def message_id(summary: Summary) -> str:
    """The id the API shows: the quarantine id (X-Fuglu-Id), else the Message-ID, else the store's key (what a
    release is recorded under: one rule, `release.message_key`)."""
    return release.message_key(summary)


@endpoint("/users/<userIdOrEmail>/emails/<path:folderPath>", "GET", access=Access.AUTHENTICATED, tag="Emails",
          summary="Get folder content", response=list[ImapMessageOut],
          query=(QueryParam("sort", "sentDate, receivedDate, subject, from or size; prefix - to reverse",
                            schema={"type": "string", "default": "-sentDate"}),
                 QueryParam("offset", schema={"type": "integer", "default": 0}),
                 QueryParam("pageSize", schema={"type": "integer", "default": 40}),
                 QueryParam("receivedAfter", "Epoch milliseconds", schema={"type": "integer"}),
                 QueryParam("receivedBefore", "Epoch milliseconds", schema={"type": "integer"}),
                 QueryParam("from"), QueryParam("to"), QueryParam("cc"), QueryParam("subject"), QueryParam("body"),
                 QueryParam("id", "X-Fuglu-Id or Message-ID"),
                 QueryParam("reason", "X-Quarantine-Reason, ANDed with the rest (Postern extension)"),
                 QueryParam("operator", "How the criteria combine", schema={"type": "string",
                                                                             "enum": ["AND", "OR", "NOT"]})),
          errors={404: "The user or the folder does not exist.", 500: IMAP_DOWN})
def get_folder_content(userIdOrEmail: str, folderPath: str) -> Response:
    folder = folderPath.strip("/")
    user = mailboxes.find_user(userIdOrEmail)
    found, total = mailboxes.messages(principal(), user, folder, request.args)
    done = release.released_keys(user, found) if folder == mailboxes.QUARANTINE else set()
    out = [_summary_out(user, folder, s, released=s.released or message_id(s) in done) for s in found]
    return json_response(out, headers={"X-Total-Count": str(total), "Access-Control-Expose-Headers": "X-Total-Count"})


def _summary_out(user: MailUser, folder: str, s: Summary, model: type[ImapMessageOut] = ImapMessageOut,
                 released: bool | None = None, **extra: object) -> ImapMessageOut:
    base = f"/api/users/{ids.encode(user.id)}/emails/{quote(folder, safe='/')}"
    return model(
        headers=s.headers, attachments=extra.pop("attachments", []), id=message_id(s),
        uri=f"{base}/{quote(message_id(s), safe='')}", seen=s.seen, answered=s.answered, recent=s.recent,
        deleted=s.deleted, has_attachments=s.has_attachments, important=s.important, sent_date=to_ms(s.sent_date),
        subject=s.subject, from_=s.sender, to=s.to, cc=s.cc, bcc=[], size=s.size,
        released=s.released if released is None else released, **extra)


@endpoint("/users/<userIdOrEmail>/emails/<path:folderPath>/<messageId>", "GET", access=Access.AUTHENTICATED,
          tag="Emails", summary="Get email", response=ImapMessageContentOut,
          query=(QueryParam("fields", "HEADERS, BODY, ATTACHMENTS, SOURCE (comma-separated; SOURCE for the owner)"),),
          errors={404: "The user or the mail does not exist.", 500: IMAP_DOWN})
def get_email(userIdOrEmail: str, folderPath: str, messageId: str) -> Response:
    folder = folderPath.strip("/")
    user = mailboxes.find_user(userIdOrEmail)
    mailboxes.require_read(principal(), user, folder)
    with mailboxes.store_for(user) as store:
        nested = store.is_folder(f"{folder}/{messageId}")
    if nested:  # /emails/A/B names the folder A/B, not message B of A
        return get_folder_content(userIdOrEmail, f"{folder}/{messageId}")
    fields = {f.strip().upper() for f in request.args.get("fields", "HEADERS,BODY,ATTACHMENTS").split(",")}
    found = messages.content(principal(), user, folder, messageId, with_source="SOURCE" in fields)
    base = f"/api/users/{ids.encode(user.id)}/emails/{quote(folder, safe='/')}/{quote(messageId, safe='')}"
    attachments = [AttachmentOut(id=str(a.part), filename=a.filename, content_type=a.content_type, size=a.size,
                                 uri=f"{base}/attachments/{a.part}").wire()
                   for a in found.attachments] if "ATTACHMENTS" in fields else []
    body = (found.html or found.text) if "BODY" in fields else None
    released = found.summary.released or (folder == mailboxes.QUARANTINE and release.was_released(user, found.summary))
    out = _summary_out(user, folder, found.summary, ImapMessageContentOut, released=released,
                       attachments=attachments, content=body,
                       source=found.source.decode("utf-8", errors="replace") if found.source else None)
    if "HEADERS" not in fields:
        out.headers = {}
    return json_response(out)


@endpoint("/users/<userId>/emails/<path:folderPath>/<messageId>/attachments", "GET", access=Access.AUTHENTICATED,
          tag="Emails", summary="Get all email attachments", response=ImapMessageAttachmentList,
          query=(QueryParam("dl", "true: download them all as one zip file"), VIRUS_LOVER),
          errors={404: "The user or the mail does not exist.", 412: INFECTED, 500: IMAP_DOWN, 503: CLAMD_DOWN})
def get_attachments(userId: str, folderPath: str, messageId: str) -> Response:
    folder = folderPath.strip("/")
    user = mailboxes.find_user(userId)
    if request.args.get("dl", "").lower() in ("1", "true", "yes"):
        return download(messages.attachments_zip(principal(), user, folder, messageId, virus_lover=_virus_lover()),
                        f"{messageId}.zip")
    found = messages.content(principal(), user, folder, messageId)
    base = f"/api/users/{ids.encode(user.id)}/emails/{quote(folder, safe='/')}/{quote(messageId, safe='')}/attachments"
    items = [AttachmentOut(id=str(a.part), filename=a.filename, content_type=a.content_type, size=a.size,
                           uri=f"{base}/{a.part}?dl=true") for a in found.attachments]
    return json_response(ImapMessageAttachmentList(attachments=items, uri=f"{base}?dl=true", count=len(items)))


@endpoint("/users/<userId>/emails/<path:folderPath>/<emailId>/attachments/<int:partId>", "GET",
          access=Access.AUTHENTICATED, tag="Emails", summary="Download email attachment part",
          query=(QueryParam("dl", "Ignored: attachments are always downloads, never displayed"), VIRUS_LOVER),
          errors={404: "The user, the mail or the attachment does not exist.", 412: INFECTED, 500: IMAP_DOWN,
                  503: CLAMD_DOWN})
def get_attachment_part(userId: str, folderPath: str, emailId: str, partId: int) -> Response:
    found, data = messages.attachment(principal(), mailboxes.find_user(userId), folderPath.strip("/"), emailId,
                                      partId, virus_lover=_virus_lover())
    return download(data, found.filename)


@endpoint("/users/<userIdOrEmail>/emails/<path:folderPath>/<fugluId>/release", "POST", access=Access.AUTHENTICATED,
          tag="Emails", summary="Release an email", status=204,
          query=(QueryParam("X-Virus-Lover", "Required to release an infected message (and only then)",
                            where="header"),
                 QueryParam("force", "true: send again to recipients already served (Postern extension)")),
          errors={400: "The relay refused the message; it stays in quarantine",
                  404: "The user or the couple folder/fugluId may not exist",
                  409: "Another request is releasing this message now: try again after Retry-After seconds",
                  412: "Infected without X-Virus-Lover, or X-Virus-Lover on a clean message",
                  500: IMAP_DOWN, 503: "No relay could be reached"})
def release_email(userIdOrEmail: str, folderPath: str, fugluId: str) -> Response:
    """Exactly once: parallel requests, retries and two tabs deliver one copy; the others answer 204 once it
    was delivered, 409 with Retry-After while it is being delivered (see services/release.py)."""
    outcome = release.release(principal(), mailboxes.find_user(userIdOrEmail), folderPath.strip("/"), fugluId,
                              virus_lover=request.headers.get("X-Virus-Lover") is not None,
                              force=request.args.get("force", "").lower() in ("1", "true", "yes"))
    if outcome.in_flight and not outcome.refused:
        response = from_service_error(Conflict(release.IN_FLIGHT_DETAIL))
        response.headers["Retry-After"] = str(release.RETRY_AFTER_SECONDS)
        return response
    if outcome.refused:  # answered without raising, so that the deliveries that did happen are committed
        detail = "; ".join(f"{r}: {why}" for r, why in outcome.refused.items())
        return from_service_error(Invalid(f"The relay refused the message, it stays in quarantine: {detail}",
                                          [FieldError(r, why) for r, why in outcome.refused.items()]))
    return no_content()


def _file_out(upload: Upload) -> AttachmentFileOut:
    uri = f"{current_app.config['BASE_URL']}/api/emails/attachments/{upload.uid}/{quote(upload.name, safe='')}"
    return AttachmentFileOut(uid=upload.uid, name=upload.name, uri=uri, type=upload.content_type, size=upload.size)


@endpoint("/emails/attachments", "POST", access=Access.AUTHENTICATED, tag="Emails", summary="Upload attachment",
          response=AttachmentFileOut, upload="file",
          errors={400: "No file, or too many files waiting", 413: "Larger than the policy's mailSizeLimit"})
def upload_attachment() -> Response:
    # The file may be as large as the uploader's policy allows, not only the API's default body size.
    request.max_content_length = uploads.size_limit(principal()) + 64 * 1024
    file = request.files.get("file")
    if file is None:
        raise Invalid.on("file", "Send the file as multipart/form-data in a field named 'file'.")
    return json_response(_file_out(uploads.store(principal(), file.stream, file.filename, file.mimetype)))


@endpoint("/emails/attachments/<uid>/<filename>", "GET", access=Access.AUTHENTICATED, tag="Emails",
          summary="Download attachment", errors={404: "No such file of yours"})
def download_upload(uid: str, filename: str) -> Response:
    upload = uploads.get(principal(), uid, filename)
    return download(upload.data, upload.name)


@endpoint("/emails/attachments/<uid>/<filename>", "DELETE", access=Access.AUTHENTICATED, tag="Emails",
          summary="Delete attachment", status=204, errors={404: "No such file of yours"})
def delete_upload(uid: str, filename: str) -> Response:
    uploads.remove(principal(), uid, filename)
    return no_content()


@endpoint("/users/<userIdOrEmail>/emails/send", "POST", access=Access.AUTHENTICATED, tag="Emails",
          summary="Send email", body=SmtpMessageIn, response=SentOut,
          errors={400: "Error in given parameters, or a recipient the relay refused",
                  403: "SEND_MAIL not granted (mailbox users) or no IMPERSONATE (administrators)",
                  404: "The user does not exist.", 413: "Larger than the policy's mailSizeLimit",
                  500: IMAP_DOWN, 503: "No relay could be reached"})
def send_email(userIdOrEmail: str, body: SmtpMessageIn) -> Response:
    sent = sending.send(principal(), mailboxes.find_user(userIdOrEmail), body)
    return json_response(SentOut(message_id=sent.message_id.strip("<>"), recipients=len(sent.recipients)))
