"""SQLAlchemy models: data and invariants, no I/O."""

from .accounts import Admin, ApiToken, Authority
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

__all__ = [
    "Admin", "ApiToken", "Authority", "Broker", "Customer", "Domain", "DomainAlias", "MailUser", "OptionValue",
    "OutgoingProvider", "Platform", "Policy",
]
