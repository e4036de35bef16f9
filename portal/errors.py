"""Typed service errors. Views turn them into problem+json (API, in English) or messages (pages, translated).

A message is a `words.Text` where people read it on pages, else a plain string."""

from __future__ import annotations

from dataclasses import dataclass, field

from .words import Message, english


@dataclass(frozen=True)
class FieldError:
    field: str
    message: Message


@dataclass
class ServiceError(Exception):
    detail: Message = ""
    errors: list[FieldError] = field(default_factory=list)

    status = 500
    title = "Internal Server Error"

    def __post_init__(self) -> None:
        Exception.__init__(self, english(self.detail))

    @classmethod
    def on(cls, field_name: str, message: Message) -> ServiceError:
        """An error about one field, the message shown next to it."""
        return cls(message, [FieldError(field_name, message)])

    def field_messages(self) -> dict[str, Message]:
        return {e.field: e.message for e in self.errors}


class Invalid(ServiceError):
    status, title = 400, "Bad Request"


class Unauthorized(ServiceError):
    status, title = 401, "Unauthorized"


class Forbidden(ServiceError):
    status, title = 403, "Forbidden"


class NotFound(ServiceError):
    status, title = 404, "Not Found"


class Conflict(ServiceError):
    status, title = 409, "Conflict"


class PreconditionFailed(ServiceError):
    status, title = 412, "Precondition Failed"


class PayloadTooLarge(ServiceError):
    status, title = 413, "Payload Too Large"


class Unprocessable(ServiceError):
    status, title = 422, "Unprocessable Content"


class TooManyRequests(ServiceError):
    """Asked again too soon (a mail server's check); `retry_after` seconds, answered as Retry-After."""

    status, title = 429, "Too Many Requests"
    retry_after: int = 1


class Unavailable(ServiceError):
    status, title = 503, "Service Unavailable"


class BadGateway(ServiceError):
    """An outside program Postern ran on the operator's behalf failed (a filter service's start / stop command):
    the detail carries its exit code and what it printed."""

    status, title = 502, "Bad Gateway"


class MaybeDelivered(Unavailable):
    """An SMTP exchange failed after the message was handed over (DATA sent, its answer never came): the relay
    may have it. Nothing that would send it again (the fallback relay, an immediate retry) may follow."""


class StoreUnavailable(Unavailable):
    """The mail store (IMAP) failed: the seed answers 500 "Possibly unable to connect to Imap" there."""

    status, title = 500, "Mail Server Unavailable"
