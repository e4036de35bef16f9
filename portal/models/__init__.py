"""SQLAlchemy models: data and invariants, no I/O."""

from .accounts import Admin, ApiToken, Authority
from .tenancy import Broker, Customer, Domain, MailUser

__all__ = ["Admin", "ApiToken", "Authority", "Broker", "Customer", "Domain", "MailUser"]
