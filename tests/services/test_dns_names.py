"""Names in DNS records (an SPF include host such as `_spf.google.com`) may carry underscores; mail domains not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.errors import Invalid
from portal.services import names

ACCEPTED = [
    ("_spf.google.com", "_spf.google.com"),
    ("_SPF.Google.COM.", "_spf.google.com"),
    ("spf.protection.outlook.com", "spf.protection.outlook.com"),
    ("_spf.mx.cloudflare.net", "_spf.mx.cloudflare.net"),
    ("s1._domainkey.example.org", "s1._domainkey.example.org"),
    ("_netblocks3._spf.example.com", "_netblocks3._spf.example.com"),
    ("spf-1.mail_out.example.co.uk", "spf-1.mail_out.example.co.uk"),
    (" _spf.bücher.example ", "_spf.xn--bcher-kva.example"),
    ("_spf.example.xn--p1ai", "_spf.example.xn--p1ai"),
]
REFUSED = [
    "", " ", "google", "_spf", "not a host!", "_spf.google.com/x", "_spf..google.com", "-spf.google.com",
    "spf-.google.com", "_spf.google._com", "_spf.google.c", "_spf.google.123", "192.0.2.1", "[2001:db8::1]",
    "_spf.google.com\nx", "include:_spf.google.com", "a" * 64 + ".example.com", ".".join(["a" * 60] * 5),
    "spf@google.com", "_spf.goo*gle.com",
]


@pytest.mark.parametrize(("value", "stored"), ACCEPTED)
def test_dns_names_accepted(value: str, stored: str) -> None:
    assert names.dns_name(value, "spfProvider") == stored


@pytest.mark.parametrize("value", REFUSED)
def test_dns_names_refused(value: str) -> None:
    with pytest.raises(Invalid) as caught:
        names.dns_name(value, "spfProvider")
    assert list(caught.value.field_messages()) == ["spfProvider"]


@pytest.mark.parametrize("value", ["_spf.google.com", "mail_out.example.com"])
def test_mail_domains_keep_refusing_underscores(value: str) -> None:
    with pytest.raises(Invalid):
        names.domain_name(value, "name")


LABEL = st.text("abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=20).filter(
    lambda label: not label.startswith("-") and not label.endswith("-"))
TOP = st.text("abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=10)


@given(st.lists(LABEL, min_size=1, max_size=4), TOP)
def test_any_name_of_record_labels_is_kept_as_typed(labels: list[str], top: str) -> None:
    name = ".".join([*labels, top])
    assert names.dns_name(name, "f") == name
    assert names.dns_name(name.upper() + ".", "f") == name


@given(st.text(max_size=40))
def test_whatever_is_typed_is_a_clean_name_or_a_field_error(value: str) -> None:
    try:
        name = names.dns_name(value, "f")
    except Invalid as error:
        assert list(error.field_messages()) == ["f"]
    else:
        assert name == name.strip().lower() and ".." not in name and all(c.isascii() and c.isprintable()
                                                                         and c not in " /@:*" for c in name)
