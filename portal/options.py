"""The options Postern reads, with their scopes, types and defaults (seed model OptionDef).

Values inherit PLATFORM (installation-wide) -> CUSTOMER -> DOMAIN -> USER; a scope without a
value uses its parent's. `restricted` options are set by sysadmins only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .words import Text, _l


class Scope(StrEnum):
    PLATFORM = "PLATFORM"
    CUSTOMER = "CUSTOMER"
    DOMAIN = "DOMAIN"
    USER = "USER"


CHAIN = (Scope.PLATFORM, Scope.CUSTOMER, Scope.DOMAIN, Scope.USER)


@dataclass(frozen=True)
class OptionDef:
    name: str
    type: str  # STRING, TEXT, COLOR, EMAIL, BOOL, URL, LIST, TIMEZONE, HOST, TIME
    default: str | None
    scopes: frozenset[Scope]
    label: Text  # a few words naming it on pages (the name stays visible next to it)
    description: Text  # for people: translated on pages, English in the API (`words.english`)
    restricted: bool = False
    values: tuple[str, ...] | None = None
    group: str | None = None


def _d(name: str, type_: str, default: str | None, scopes: str, label: Text, description: Text,
       **kw: object) -> OptionDef:
    letters = {"P": Scope.PLATFORM, "C": Scope.CUSTOMER, "D": Scope.DOMAIN, "U": Scope.USER}
    return OptionDef(name, type_, default, frozenset(letters[c] for c in scopes), label, description, **kw)  # type: ignore[arg-type]


OPTIONS: dict[str, OptionDef] = {o.name: o for o in (
    _d("APP_URL", "URL", None, "PCD", _l("Portal address"),
       _l("Public URL of the portal used in links of mails sent for this scope (else POSTERN_BASE_URL)"),
       restricted=True, group="branding"),
    _d("DOMAIN_ADMIN", "EMAIL", None, "PD", _l("Domain administrator"),
       _l("Address of the domain's administrator, shown to users for help")),
    _d("SUPPORT_EMAIL", "EMAIL", None, "PCD", _l("Support address"),
       _l("Support address shown in the user portal and in mails")),
    _d("DIGEST_FREQUENCY", "LIST", "DAILY", "PCDU", _l("Quarantine digest"),
       _l("How often users receive their quarantine digest"), values=("NEVER", "DAILY", "WEEKLY"),
       group="notifications"),
    _d("DIGEST_TIME", "TIME", "08:00", "PCDU", _l("Digest time"),
       _l("Time of day (HH:MM, in the user's time zone) after which the quarantine digest is sent"),
       group="notifications"),
    _d("DIGEST_DAY", "LIST", "MONDAY", "PCDU", _l("Digest day"), _l("Day of the week of a weekly digest"),
       values=("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"),
       group="notifications"),
    _d("SPAM_REPORT_ADDRESS", "EMAIL", None, "PCD", _l("Address for spam reports"),
       _l("Where 'report as spam' forwards a message"), group="reports"),
    _d("HAM_REPORT_ADDRESS", "EMAIL", None, "PCD", _l("Address for not-spam reports"),
       _l("Where 'not spam' forwards a released message"), group="reports"),
    _d("BRAND_COLOR", "COLOR", "#1e88e5", "PCD", _l("Accent colour"), _l("Accent colour of the user portal"),
       group="branding"),
    _d("LOGO_URL", "URL", None, "PCD", _l("Logo address"), _l("Logo shown in the user portal (https)"),
       group="branding"),
    _d("TIMEZONE", "TIMEZONE", "UTC", "PCDU", _l("Time zone"), _l("Time zone of dates in the portal and in digests")),
    _d("DKIM_SELECTOR", "STRING", "protect", "PCD", _l("DKIM selector"),
       _l("Selector of a new DKIM key (letters, digits and hyphens): its record is <selector>._domainkey.<domain>"),
       group="dkim"),
    _d("DKIM_KEY_BITS", "LIST", "2048", "PCD", _l("DKIM key size"),
       _l("Size in bits of a new DKIM key (RSA)"), values=("1024", "2048", "3072", "4096"), group="dkim"),
)}
