"""Validation of domain names, CIDRs, hosts and ports (shared by domains, aliases, platforms).

A mail domain (`domain_name`) is a host name: letters, digits and hyphens. A name in DNS records (`dns_name`:
an SPF `include:` such as `_spf.google.com`, a DKIM selector's `s1._domainkey…`) may also have underscores.
"""

from __future__ import annotations

import ipaddress
import re

import idna

from ..errors import Invalid
from ..words import _l

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_DNS_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")  # a label of a DNS record's name: underscores too
_TOP_LABEL = re.compile(r"^(?=.*[a-z])[a-z0-9-]{2,63}(?<!-)$")  # a top-level label: letters, no underscore
_SPACE_OR_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def domain_name(value: str, field: str) -> str:
    """A mail domain as stored: lower-case, internationalized names as punycode (A-labels)."""
    raw = value.strip().rstrip(".").lower()
    if not raw or _SPACE_OR_CONTROL.search(raw):
        raise Invalid.on(field, _l("Give a domain name such as example.com."))
    try:
        ascii_name = idna.encode(raw, uts46=True).decode() if not raw.isascii() else raw
    except idna.IDNAError as exc:
        raise Invalid.on(field, _l("“%(value)s” is not a valid internationalized domain name.", value=value)) from exc
    labels = ascii_name.split(".")
    if (len(ascii_name) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels)
            or labels[-1].isdigit()):
        raise Invalid.on(field, _l("“%(value)s” is not a valid domain name.", value=value))
    return ascii_name


_SELECTOR = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def dkim_selector(value: str, field: str) -> str:
    """A DKIM selector as Postern makes them: one DNS label (letters, digits, hyphens; at most 63; no dot, no
    space), lower-case. Nothing else is accepted, so a selector never reaches a DNS name or a file path
    (the signer's key files are named after it) with a dot, a slash or a line break."""
    raw = value.lower()  # not stripped: a trailing line break is refused, not quietly dropped
    if not _SELECTOR.fullmatch(raw):
        raise Invalid.on(field, _l("A selector is one DNS label: letters, digits and hyphens (at most 63), "
                                   "no dot and no space, e.g. protect or s2026."))
    return raw


def host(value: str, field: str) -> str:
    """A host name or an IP address."""
    raw = value.strip().lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(raw.strip("[]")))
    except ValueError:
        pass
    try:
        return domain_name(raw, field) if "." in raw else _single_label(raw, field)
    except Invalid:
        raise Invalid.on(field, _l("“%(value)s” is not a host name or an IP address.", value=value)) from None


def _single_label(raw: str, field: str) -> str:
    if _LABEL.match(raw):
        return raw
    raise Invalid.on(field, "not a host")


def cidr(value: str, field: str) -> str:
    try:
        network = ipaddress.ip_network(value.strip(), strict=True)
    except ValueError as exc:
        try:
            loose = ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            raise Invalid.on(field, _l("“%(value)s” is not a subnet such as 192.0.2.0/24.", value=value)) from exc
        raise Invalid.on(field, _l("“%(value)s” has host bits set; did you mean %(loose)s?",
                                   value=value, loose=str(loose))) from exc
    return str(network)


def port(value: int, field: str) -> int:
    if not 1 <= value <= 65535:
        raise Invalid.on(field, _l("A port is between 1 and 65535."))
    return value


_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")


def address(value: str, field: str) -> str:
    """An email address as stored: lower-case, its domain as punycode."""
    raw = value.strip()
    local, sep, domain = raw.rpartition("@")
    if not sep or not local or len(local) > 64 or not _LOCAL.match(local):
        raise Invalid.on(field, _l("“%(value)s” is not a valid email address.", value=value))
    return f"{local.lower()}@{domain_name(domain, field)}"


def address_or_domain(value: str, field: str) -> str:
    """A sender rule value: an email address or a domain name."""
    if any(ord(c) < 32 for c in value):
        raise Invalid.on(field, _l("Must not contain control characters (CR, LF, ...)."))
    if "@" in value:
        return address(value, field)
    try:
        return domain_name(value, field)
    except Invalid:
        raise Invalid.on(field, _l("“%(value)s” is neither an email address nor a domain name.",
                                   value=value)) from None


def dns_name(value: str, field: str) -> str:
    """A name looked up in DNS records, e.g. an SPF include host (`_spf.google.com`): like a domain name, but
    its labels may hold underscores (not the top-level one); lower-case, internationalized labels as punycode.
    Not for mail domains (`domain_name`), nor for hosts mail is relayed to (`host`)."""
    raw = value.strip().rstrip(".").lower()
    refused = Invalid.on(field, _l("“%(value)s” is not a DNS name such as _spf.example.com.", value=value))
    if not raw or _SPACE_OR_CONTROL.search(raw):
        raise refused
    labels = raw.split(".")
    try:
        labels = [label if label.isascii() else idna.encode(label, uts46=True).decode() for label in labels]
    except idna.IDNAError:
        raise refused from None
    name = ".".join(labels)
    if (len(name) > 253 or len(labels) < 2 or not all(_DNS_LABEL.match(label) for label in labels)
            or not _TOP_LABEL.match(labels[-1])):
        raise refused
    return name
