"""STAND-IN (lead, 22:50): replaced by the probe helper's module at merge; check and send are not built yet."""
from dataclasses import dataclass
from datetime import datetime

DEFAULT_TOKEN_URL = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
DEFAULT_SCOPE = {"SMTP": "https://outlook.office365.com/.default", "IMAP": "https://outlook.office365.com/.default", "POP3": "https://outlook.office365.com/.default"}
@dataclass(frozen=True)
class OAuth:
    tenant_id: str; client_id: str; client_secret: str; token_url: str; scope: str
@dataclass(frozen=True)
class Endpoint:
    protocol: str; host: str; port: int; security: str; certificate_pem: str | None; auth: str
    username: str | None = None; password: str | None = None; oauth: OAuth | None = None
@dataclass
class CheckResult:
    ok: bool; stage: str; message: object; transcript: list; checked_at: datetime
class TargetRefused(Exception):
    pass
def check(endpoint, *, timeout, allow_private, helo="postern.localdomain"):
    from ..errors import Unavailable
    raise Unavailable("The mail-server check is not built yet (stand-in until the probe helper's module lands).")
def send(endpoint, sender, recipients, raw, *, timeout, allow_private, helo="postern.localdomain"):
    from ..errors import Unavailable
    raise Unavailable("Sending through a mail server is not built yet (stand-in).")
