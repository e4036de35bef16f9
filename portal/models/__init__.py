"""SQLAlchemy models: data and invariants, no I/O."""

from .accounts import Admin, ApiToken, Authority, LoginThrottle
from .digest import DigestRun
from .health import DkimKey, HealthReport
from .jobs import OutboxJob
from .links import LinkToken
from .mail import AuditEvent, JobFailure, Upload
from .mailservers import MailServer
from .qsearch import QuarantineSearch, QuarantineSearchFailure, QuarantineSearchHit
from .rules import AttachmentRule, EmailAlias, EmailAliasRecipient, Release, SenderRule, UriRule
from .statistics import StatCount, StatSender
from .tenancy import (
    Broker,
    Customer,
    Domain,
    DomainAlias,
    MailUser,
    OptionValue,
    OutgoingProvider,
    Platform,
    Policy,
)
from .tracking import LogPosition, TrackedMessage, TrackingEvent

__all__ = [
    "Admin",
    "ApiToken",
    "AttachmentRule",
    "AuditEvent",
    "Authority",
    "Broker",
    "Customer",
    "DigestRun",
    "DkimKey",
    "Domain",
    "DomainAlias",
    "EmailAlias",
    "EmailAliasRecipient",
    "HealthReport",
    "JobFailure",
    "LinkToken",
    "LogPosition",
    "LoginThrottle",
    "MailServer",
    "MailUser",
    "OptionValue",
    "OutboxJob",
    "OutgoingProvider",
    "Platform",
    "Policy",
    "QuarantineSearch",
    "QuarantineSearchFailure",
    "QuarantineSearchHit",
    "Release",
    "SenderRule",
    "StatCount",
    "StatSender",
    "TrackedMessage",
    "TrackingEvent",
    "Upload",
    "UriRule",
]
