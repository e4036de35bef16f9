"""The mail server check and send (portal/integrations/mailserver.py) against real peers: aiosmtpd with plain,
STARTTLS and implicit TLS, AUTH PLAIN / LOGIN / XOAUTH2 and a test CA; a local OAuth2 token endpoint; Dovecot
for IMAP and POP3. Bad input: forbidden targets, closed ports, wrong passwords, wrong CA, host name mismatch,
a server that never answers or trickles, secrets that must never show."""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY

import pytest

from portal.errors import Invalid, MaybeDelivered, Unavailable
from portal.integrations import mailserver, oauth2
from portal.integrations.mailserver import CheckResult, Endpoint, OAuth, check
from portal.integrations.targets import TargetRefused, is_public
from tests.services.test_deadlines import DEADLINE, bounded, silent, tcp_peer, trickle
from tests.services_runtime import CertificateAuthority, dovecot, free_port, mail_smtp_server, token_endpoint

USER, PASSWORD = "alice@example.com", "S3cret pässword+/="


@pytest.fixture(autouse=True)
def _ports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The fixtures' free ports are above 1024: the tests allow them (the production default does not)."""
    monkeypatch.setenv("POSTERN_MAILSERVER_PORTS", "1024-65535")
    oauth2.forget()
    yield
    oauth2.forget()


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority()


def smtp(port: int, security: str = "NONE", pem: str | None = None, auth: str = "USERNAME_PASSWORD",
         host: str = "127.0.0.1", password: str | None = PASSWORD, oauth: OAuth | None = None) -> Endpoint:
    return Endpoint("SMTP", host, port, security, pem, auth, USER if auth != "NO_AUTH" else None,
                    password if auth == "USERNAME_PASSWORD" else None, oauth)


def secret_forms(*secrets: str) -> list[str]:
    """Each secret and the base64 forms a protocol could carry it in."""
    forms = []
    for secret in secrets:
        forms += [secret, base64.b64encode(secret.encode()).decode(),
                  base64.b64encode(f"\0{USER}\0{secret}".encode()).decode(),
                  base64.b64encode(oauth2.xoauth2(USER, secret).encode()).decode()]
    return forms


def assert_no_secret(result: CheckResult, *secrets: str) -> None:
    shown = "\n".join(result.transcript) + "\n" + result.message.english()
    for form in secret_forms(*secrets):
        assert form not in shown


def assert_result(result: CheckResult, ok: bool, stage: str, phrase: str | None = None) -> None:
    assert (result.ok, result.stage) == (ok, stage), (result.message, result.transcript)
    if phrase is not None:
        assert phrase in result.message.english()
    assert result.checked_at.tzinfo is not None


# --- SMTP ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("security", ["NONE", "STARTTLS", "SSL_TLS"])
@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_smtp_logins_in_each_security_mode(ca: CertificateAuthority, security: str, mechanism: str) -> None:
    exclude = {"PLAIN": ["LOGIN"], "LOGIN": ["PLAIN"]}[mechanism]
    with mail_smtp_server(security, ca=ca, users={USER: PASSWORD}, exclude=exclude) as (sink, port):
        result = check(smtp(port, security, ca.pem), timeout=5, allow_private=True)
    assert_result(result, True, "done")
    assert sink.logins == [(mechanism, USER)]
    assert f"C: AUTH {mechanism} ****" in result.transcript or f"C: AUTH {mechanism}" in result.transcript
    assert ("unencrypted" in result.message.english()) == (security == "NONE")
    if security != "NONE":
        assert any(line.startswith("# TLSv1.") for line in result.transcript)
    assert_no_secret(result, PASSWORD)


def test_smtp_without_login(ca: CertificateAuthority) -> None:
    with mail_smtp_server("STARTTLS", ca=ca) as (_, port):
        result = check(smtp(port, "STARTTLS", ca.pem, auth="NO_AUTH"), timeout=5, allow_private=True)
    assert_result(result, True, "done", "answered")
    assert result.transcript[-2:] == ["C: quit", "S: 221 Bye"]


def test_smtp_wrong_password_fails_at_auth(ca: CertificateAuthority) -> None:
    with mail_smtp_server("STARTTLS", ca=ca, users={USER: PASSWORD}) as (sink, port):
        result = check(smtp(port, "STARTTLS", ca.pem, password="not-" + PASSWORD), timeout=5, allow_private=True)
    assert_result(result, False, "auth", "refused the login")
    assert sink.logins == []
    assert_no_secret(result, "not-" + PASSWORD)


def test_starttls_not_offered_is_a_failed_check_at_tls(ca: CertificateAuthority) -> None:
    with mail_smtp_server("NONE", users={USER: PASSWORD}) as (sink, port):
        result = check(smtp(port, "STARTTLS", ca.pem), timeout=5, allow_private=True)
    assert_result(result, False, "tls", "does not offer STARTTLS")
    assert sink.logins == []  # the password never went out in the clear
    assert not any(line.startswith("C: AUTH") for line in result.transcript)


def test_a_certificate_from_another_ca_is_refused(ca: CertificateAuthority) -> None:
    other = CertificateAuthority("Somebody Else")
    for security in ("STARTTLS", "SSL_TLS"):
        with mail_smtp_server(security, ca=other, users={USER: PASSWORD}) as (sink, port):
            result = check(smtp(port, security, ca.pem), timeout=5, allow_private=True)
        assert_result(result, False, "tls", "could not be verified")
        assert sink.logins == []
        # the system CAs do not know a test CA either
        with mail_smtp_server(security, ca=ca) as (_, port):
            assert_result(check(smtp(port, security, None), timeout=5, allow_private=True), False, "tls")


def test_a_certificate_for_another_name_is_refused(ca: CertificateAuthority) -> None:
    with mail_smtp_server("SSL_TLS", ca=ca, names=("mail.example.test",), users={USER: PASSWORD}) as (sink, port):
        result = check(smtp(port, "SSL_TLS", ca.pem), timeout=5, allow_private=True)
    assert_result(result, False, "tls", "not valid for this host name")
    # the name is what TLS verifies, not the address it resolved to
    with mail_smtp_server("STARTTLS", ca=ca, names=("localhost",), users={USER: PASSWORD}) as (sink, port):
        assert_result(check(smtp(port, "STARTTLS", ca.pem, host="127.0.0.1"), timeout=5, allow_private=True),
                      False, "tls", "not valid for this host name")
        assert_result(check(smtp(port, "STARTTLS", ca.pem, host="localhost"), timeout=5, allow_private=True),
                      True, "done")
    assert sink.logins == [("PLAIN", USER)]


def test_the_server_s_own_self_signed_certificate_can_be_the_anchor() -> None:
    with dovecot({USER: PASSWORD}) as server:
        endpoint = Endpoint("IMAP", "127.0.0.1", server["tls_port"], "SSL_TLS", server["cert_pem"], "NO_AUTH")
        assert_result(check(endpoint, timeout=5, allow_private=True), True, "done")


def test_an_smtp_server_without_the_configured_mechanism(ca: CertificateAuthority) -> None:
    with token_endpoint() as tokens, mail_smtp_server("NONE", users={USER: PASSWORD}, exclude=["XOAUTH2"]) as (_, port):
        result = check(smtp(port, auth="OAUTH2", oauth=_oauth(tokens.url)), timeout=5, allow_private=True)
        assert_result(result, False, "auth", "does not offer OAuth2 (XOAUTH2)")
        assert tokens.requests == []  # no token fetched for a server that cannot take it
        assert not any(line.startswith("C: AUTH") for line in result.transcript)
    # AUTH offered only after STARTTLS, and the setting says NONE
    with mail_smtp_server("STARTTLS", ca=ca, users={USER: PASSWORD}) as (sink, port):
        result = check(smtp(port, "NONE"), timeout=5, allow_private=True)
    assert_result(result, False, "auth", "only after STARTTLS")
    assert sink.logins == []


def test_credentials_that_cannot_be_sent_are_refused_before_sending(ca: CertificateAuthority) -> None:
    with mail_smtp_server("NONE", users={USER: PASSWORD}) as (_, port):
        for hostile in ("pw\r\nQUIT", "pw\nRSET", "pw\0x"):
            result = check(smtp(port, password=hostile), timeout=5, allow_private=True)
            assert_result(result, False, "auth", "cannot be sent")
            assert not any(line.startswith("C: AUTH") for line in result.transcript)


# --- OAuth2 --------------------------------------------------------------------------------------------


def _oauth(endpoint_url: str, secret: str = "s3cret-Client/Value", client_id: str = "postern-client") -> OAuth:
    return OAuth("tenant-1", client_id, secret, endpoint_url, mailserver.DEFAULT_SCOPE["SMTP"])


def test_xoauth2_with_a_client_credentials_token_cached_until_it_expires(ca: CertificateAuthority) -> None:
    with token_endpoint() as tokens, \
            mail_smtp_server("STARTTLS", ca=ca, tokens={"eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.test-access-token": USER}
                             ) as (sink, port):
        endpoint = smtp(port, "STARTTLS", ca.pem, auth="OAUTH2", oauth=_oauth(tokens.url))
        first = check(endpoint, timeout=5, allow_private=True)
        second = check(endpoint, timeout=5, allow_private=True)
        assert_result(first, True, "done")
        assert_result(second, True, "done")
        assert sink.logins == [("XOAUTH2", USER), ("XOAUTH2", USER)]
        assert len(tokens.requests) == 1  # cached
        assert tokens.requests[0] == {"grant_type": "client_credentials", "client_id": "postern-client",
                                      "client_secret": "s3cret-Client/Value",
                                      "scope": "https://outlook.office365.com/.default"}
        assert "C: AUTH XOAUTH2 ****" in first.transcript
        for result in (first, second):
            assert_no_secret(result, tokens.token, "s3cret-Client/Value")

        # another secret is another cache key; a token that lives 0 s is never reused
        tokens.client_secret, tokens.expires_in = "rotated-Secret", 0
        rotated = smtp(port, "STARTTLS", ca.pem, auth="OAUTH2", oauth=_oauth(tokens.url, "rotated-Secret"))
        assert_result(check(rotated, timeout=5, allow_private=True), True, "done")
        assert_result(check(rotated, timeout=5, allow_private=True), True, "done")
        assert len(tokens.requests) == 3


def test_a_refused_client_secret_fails_at_auth_without_echoing_it(ca: CertificateAuthority) -> None:
    with token_endpoint() as tokens, mail_smtp_server("STARTTLS", ca=ca, tokens={tokens.token: USER}) as (sink, port):
        result = check(smtp(port, "STARTTLS", ca.pem, auth="OAUTH2", oauth=_oauth(tokens.url, "Wrong-Secret-1")),
                       timeout=5, allow_private=True)
    assert_result(result, False, "auth", "refused the client credentials")
    assert sink.logins == []
    assert_no_secret(result, "Wrong-Secret-1")  # the endpoint's error text quotes it: Postern does not


def test_a_token_the_server_rejects_fails_at_auth(ca: CertificateAuthority) -> None:
    with token_endpoint() as tokens, mail_smtp_server("STARTTLS", ca=ca, tokens={"another-token": USER}) as (_, port):
        result = check(smtp(port, "STARTTLS", ca.pem, auth="OAUTH2", oauth=_oauth(tokens.url)), timeout=5,
                       allow_private=True)
    assert_result(result, False, "auth", "refused the login")
    assert any(line.startswith("S: 535") for line in result.transcript)
    assert_no_secret(result, tokens.token)


def test_a_slow_token_endpoint_is_cut_within_the_check_s_deadline(ca: CertificateAuthority) -> None:
    with token_endpoint() as tokens, mail_smtp_server("STARTTLS", ca=ca, tokens={tokens.token: USER}) as (_, port):
        tokens.delay = DEADLINE + 3
        with bounded():
            result = check(smtp(port, "STARTTLS", ca.pem, auth="OAUTH2", oauth=_oauth(tokens.url)),
                           timeout=DEADLINE, allow_private=True)
    assert_result(result, False, "auth", "did not answer in time")


def test_token_urls_must_be_https_and_public() -> None:
    for url, phrase in (("http://login.example.com/token", "https://"), ("ftp://x/token", "https://"),
                        ("https://127.0.0.1/token", "not allowed"), ("https://10.0.0.1/token", "not allowed"),
                        ("https://login.example.com:8443/token", "not allowed"), ("https:///token", "not valid"),
                        ("https://user:pw@login.example.com/token", "not valid")):
        with pytest.raises(oauth2.TokenError) as caught:
            oauth2.client_credentials_token(url, "id", "secret", "scope", timeout=2, allow_private=False)
        assert phrase in caught.value.message.english(), url
    assert mailserver.token_url_for("t-1") == "https://login.microsoftonline.com/t-1/oauth2/v2.0/token"
    assert mailserver.token_url_for("t-1", "https://idp.example/token") == "https://idp.example/token"


# --- targets, ports, unreachable peers -----------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "10.1.2.3", "172.16.0.1", "192.168.1.1", "::1",
                                  "[::1]", "169.254.169.254", "fe80::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
                                  "64:ff9b::a00:1", "2002:7f00:1::", "0.0.0.0", "::", "224.0.0.1", "ff02::1",
                                  "100.64.0.1", "240.0.0.1", "fc00::1", "localhost"])
def test_forbidden_targets_are_refused_before_any_connection(host: str) -> None:
    result = check(smtp(25, host=host), timeout=5, allow_private=False)
    assert_result(result, False, "target", "not allowed")
    assert result.transcript == []
    with pytest.raises(TargetRefused) as caught:
        mailserver.check_target(host, 25, False)
    assert isinstance(caught.value, Invalid)
    assert caught.value.field_messages().keys() == {"host"}


def test_public_addresses_pass_the_address_rule() -> None:
    assert all(is_public(a) for a in ("192.0.43.10", "2606:4700::1111", "::ffff:8.8.8.8", "2002:808:808::"))
    mailserver.check_target("8.8.8.8", 587, False, protocol="SMTP")


def test_ports_outside_the_allow_list_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POSTERN_MAILSERVER_PORTS")
    with mail_smtp_server("NONE") as (_, port):
        result = check(smtp(port, auth="NO_AUTH"), timeout=5, allow_private=True)  # private allowed: ports are not
        assert_result(result, False, "target", "port is not allowed")
        assert_result(check(smtp(port, auth="NO_AUTH"), timeout=5, allow_private=True, extra_ports={port}),
                      True, "done")
        monkeypatch.setenv("POSTERN_MAILSERVER_PORTS", f"2526, {port}")
        assert_result(check(smtp(port, auth="NO_AUTH"), timeout=5, allow_private=True), True, "done")
    imap_on_smtp_port = Endpoint("IMAP", "8.8.8.8", 587, "SSL_TLS", None, "NO_AUTH")
    assert_result(check(imap_on_smtp_port, timeout=5, allow_private=False, extra_ports=()), False, "target")
    for port in (0, 70000, -1):
        assert_result(check(smtp(port), timeout=5, allow_private=True), False, "target")
    assert mailserver.parse_ports("25, 2000-2002") == {25, 2000, 2001, 2002}
    for bad in ("x", "0", "3-1", "65536"):
        with pytest.raises(ValueError):
            mailserver.parse_ports(bad)


@pytest.mark.parametrize("host", ["mail.example.com\r\nRCPT", "a b", "http://mail.example.com", "", "mail/x"])
def test_hostile_host_names_are_refused(host: str) -> None:
    assert_result(check(smtp(25, host=host), timeout=5, allow_private=True), False, "target", "not a valid host")


def test_a_closed_port_and_an_unreachable_host_say_the_same() -> None:
    closed = check(smtp(free_port()), timeout=DEADLINE, allow_private=True)
    assert_result(closed, False, "connect", "Could not connect to the server.")
    with bounded():  # TEST-NET-1: no route here, or a connect that never completes
        unreachable = check(smtp(2525, host="192.0.2.1"), timeout=DEADLINE, allow_private=True)
    assert (unreachable.stage, unreachable.message.english()) == (closed.stage, closed.message.english())


def test_a_name_that_does_not_resolve() -> None:
    with bounded():
        result = check(smtp(25, host="no-such-host.invalid"), timeout=DEADLINE, allow_private=True)
    assert_result(result, False, "connect", "could not be resolved")


def test_a_silent_server_is_cut_at_the_deadline() -> None:
    with tcp_peer(silent) as port, bounded():
        result = check(smtp(port), timeout=DEADLINE, allow_private=True)
    assert_result(result, False, "greeting", "did not answer within 2 s")


@pytest.mark.parametrize("protocol,greeting", [("SMTP", b"220-mail.example.com ESMTP\r\n220-"),
                                               ("IMAP", b"* OK [CAPABILITY IMAP4rev1"),
                                               ("POP3", b"+OK ready\r\n")])
def test_a_trickling_server_is_cut_at_the_deadline(protocol: str, greeting: bytes) -> None:
    with tcp_peer(trickle(greeting, b"x")) as port, bounded():
        endpoint = Endpoint(protocol, "127.0.0.1", port, "NONE", None, "USERNAME_PASSWORD", USER, PASSWORD)
        result = check(endpoint, timeout=DEADLINE, allow_private=True)
    assert not result.ok
    assert result.stage in ("greeting", "capabilities")
    assert "did not answer within" in result.message.english()


def test_a_peer_that_is_not_a_mail_server(ca: CertificateAuthority) -> None:
    with tcp_peer(trickle(b"HTTP/1.1 400 Bad Request\r\n\r\n")) as port, bounded():
        result = check(smtp(port), timeout=DEADLINE, allow_private=True)
    assert not result.ok
    assert result.stage in ("greeting", "capabilities")
    with tcp_peer(trickle(b"220 plain text, not TLS\r\n")) as port, bounded():
        assert_result(check(smtp(port, "SSL_TLS", ca.pem), timeout=DEADLINE, allow_private=True), False, "tls")


def test_a_flooding_server_gives_a_capped_transcript() -> None:
    def flood(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"220 hi\r\n")
        conn.recv(1024)  # EHLO
        line = b"250-" + b"X\x1b" * 1000 + b"\r\n"
        while not stop.is_set():
            conn.sendall(line * 50)

    with tcp_peer(flood) as port, bounded():
        result = check(smtp(port, auth="NO_AUTH"), timeout=DEADLINE, allow_private=True)
    assert not result.ok
    assert len(result.transcript) == mailserver.MAX_LINES + 1
    assert result.transcript[-1] == "# (transcript cut)"
    assert all(len(line) <= mailserver.MAX_LINE + 3 for line in result.transcript)
    assert "\x1b" not in "".join(result.transcript)  # control characters are shown as "?"


# --- IMAP and POP3 against Dovecot ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def imap_pop3() -> Iterator[dict[str, object]]:
    with dovecot({USER: PASSWORD}) as server:
        yield server


@pytest.mark.parametrize("protocol", ["IMAP", "POP3"])
@pytest.mark.parametrize("security", ["NONE", "STARTTLS", "SSL_TLS"])
def test_imap_and_pop3_logins(imap_pop3: dict[str, object], protocol: str, security: str) -> None:
    prefix = "" if protocol == "IMAP" else "pop3_"
    port = imap_pop3[f"{prefix}tls_port" if security == "SSL_TLS" else f"{prefix}port"]
    endpoint = Endpoint(protocol, "127.0.0.1", port, security, imap_pop3["cert_pem"], "USERNAME_PASSWORD", USER,
                        PASSWORD)
    result = check(endpoint, timeout=5, allow_private=True)
    assert_result(result, True, "done")
    assert_no_secret(result, PASSWORD)
    if protocol == "IMAP":
        assert any(line.endswith(f' LOGIN "{USER}" ****') for line in result.transcript)
    else:
        assert "C: PASS ****" in result.transcript
    assert ("unencrypted" in result.message.english()) == (security == "NONE")

    wrong = check(Endpoint(protocol, "127.0.0.1", port, security, imap_pop3["cert_pem"], "USERNAME_PASSWORD", USER,
                           "wrong-" + PASSWORD), timeout=5, allow_private=True)
    assert_result(wrong, False, "auth", "refused the login")
    assert_no_secret(wrong, "wrong-" + PASSWORD)


@pytest.mark.parametrize("protocol", ["IMAP", "POP3"])
def test_imap_and_pop3_refuse_a_wrong_anchor_and_a_missing_mechanism(imap_pop3: dict[str, object],
                                                                      ca: CertificateAuthority, protocol: str) -> None:
    prefix = "" if protocol == "IMAP" else "pop3_"
    tls = Endpoint(protocol, "127.0.0.1", imap_pop3[f"{prefix}tls_port"], "SSL_TLS", ca.pem, "NO_AUTH")
    assert_result(check(tls, timeout=5, allow_private=True), False, "tls", "could not be verified")
    oauth = Endpoint(protocol, "127.0.0.1", imap_pop3[f"{prefix}port"], "STARTTLS", imap_pop3["cert_pem"], "OAUTH2",
                     USER, None, _oauth("http://127.0.0.1:9/token"))
    # Dovecot here offers PLAIN and LOGIN only: the token is not even fetched
    result = check(oauth, timeout=5, allow_private=True)
    assert_result(result, False, "auth", "does not offer OAuth2 (XOAUTH2)")
    assert "# OAuth2 token obtained" not in result.transcript


@pytest.mark.parametrize("protocol", ["IMAP", "POP3"])
def test_imap_and_pop3_xoauth2_with_a_token_dovecot_introspects(protocol: str) -> None:
    with token_endpoint() as tokens, dovecot({USER: PASSWORD}, introspection_url=tokens.introspection_url) as server:
        tokens.users[tokens.token] = USER
        port = server["port"] if protocol == "IMAP" else server["pop3_port"]

        def endpoint(user: str) -> Endpoint:
            return Endpoint(protocol, "127.0.0.1", port, "STARTTLS", server["cert_pem"], "OAUTH2", user, None,
                            _oauth(tokens.url))

        result = check(endpoint(USER), timeout=5, allow_private=True)
        assert_result(result, True, "done", "accepted the login")
        assert_no_secret(result, tokens.token, tokens.client_secret)
        assert any(line.endswith(("AUTHENTICATE XOAUTH2", "AUTH XOAUTH2 ****")) for line in result.transcript)
        # the token is another mailbox's: Dovecot refuses it
        other = check(endpoint("bob@example.com"), timeout=5, allow_private=True)
        assert_result(other, False, "auth", "refused the login")
        assert_no_secret(other, tokens.token, tokens.client_secret)
        assert len(tokens.requests) == 1  # one token for both checks


def test_a_pop3_user_name_with_a_line_break_never_reaches_the_server(imap_pop3: dict[str, object]) -> None:
    endpoint = Endpoint("POP3", "127.0.0.1", imap_pop3["pop3_port"], "NONE", None, "USERNAME_PASSWORD",
                        "alice\r\nDELE 1", PASSWORD)
    result = check(endpoint, timeout=5, allow_private=True)
    assert_result(result, False, "auth", "cannot be sent")
    assert not any(line.startswith("C: USER") or "DELE" in line for line in result.transcript)


# --- send ----------------------------------------------------------------------------------------------


def _message() -> bytes:
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"], message["To"], message["Subject"] = "postern@example.com", "bob@example.org", "Test mail"
    message.set_content("It works.\n")
    return message.as_bytes()


def test_send_through_a_starttls_server_with_login(ca: CertificateAuthority) -> None:
    with mail_smtp_server("STARTTLS", ca=ca, users={USER: PASSWORD}, auth_required=True) as (sink, port):
        sink.refuse.add("nobody@example.org")
        refused = mailserver.send(smtp(port, "STARTTLS", ca.pem), "postern@example.com",
                                  ["bob@example.org", "nobody@example.org"], _message(), timeout=5,
                                  allow_private=True)
    assert refused == {"nobody@example.org": (550, b"5.1.1 no such mailbox")}
    assert sink.logins == [("PLAIN", USER)]
    [(sender, recipients, content)] = sink.messages
    assert (sender, recipients) == ("postern@example.com", ["bob@example.org"])
    assert b"It works." in content


def test_send_refuses_targets_and_reports_failures(ca: CertificateAuthority) -> None:
    with pytest.raises(TargetRefused):
        mailserver.send(smtp(25, host="10.0.0.1"), "a@example.com", ["b@example.com"], _message(), timeout=5,
                        allow_private=False)
    with pytest.raises(Invalid):
        mailserver.send(Endpoint("IMAP", "8.8.8.8", 993, "SSL_TLS", None, "NO_AUTH"), "a@example.com",
                        ["b@example.com"], _message(), timeout=5, allow_private=False)
    with pytest.raises(Unavailable) as caught:
        mailserver.send(smtp(free_port()), "a@example.com", ["b@example.com"], _message(), timeout=5,
                        allow_private=True)
    assert "Could not connect" in caught.value.detail.english()
    with mail_smtp_server("STARTTLS", ca=ca, users={USER: PASSWORD}, auth_required=True) as (sink, port):
        with pytest.raises(Unavailable) as caught:
            mailserver.send(smtp(port, "STARTTLS", ca.pem, password="wrong"), "a@example.com", ["b@example.com"],
                            _message(), timeout=5, allow_private=True)
        assert "refused the login" in caught.value.detail.english()
        with pytest.raises(Unavailable):  # the server wants STARTTLS before anything: a plain send fails
            mailserver.send(smtp(port, auth="NO_AUTH"), "a@example.com", ["b@example.com"], _message(),
                            timeout=5, allow_private=True)
    assert sink.messages == []


def test_send_after_data_without_an_answer_may_have_delivered() -> None:
    def after(conn: socket.socket) -> None:
        for answer in (b"250 hi\r\n", b"250 ok\r\n", b"250 ok\r\n", b"354 go\r\n"):
            conn.recv(65536)
            conn.sendall(answer)
        conn.recv(65536)  # the message arrives; the peer hangs up without answering it

    with tcp_peer(trickle(b"220 hi\r\n", b" ", after=after)) as port, bounded(), pytest.raises(MaybeDelivered):
        mailserver.send(smtp(port, auth="NO_AUTH"), "a@example.com", ["b@example.com"], _message(),
                        timeout=DEADLINE, allow_private=True)


# --- certificates --------------------------------------------------------------------------------------


def test_validate_certificate(ca: CertificateAuthority) -> None:
    mailserver.validate_certificate(ca.pem)
    cert, key = ca.issue("mail.example.com")
    mailserver.validate_certificate(cert + ca.pem)  # a chain
    mailserver.validate_certificate("\n" + ca.pem.replace("\n", "\r\n") + "\n")
    cases = {
        "": "PEM format", "   ": "PEM format", "hello": "not a certificate",
        key: "private key", ca.pem + key: "private key",
        "comment\n" + ca.pem: "not a certificate",
        ca.pem.replace("M", "A", 3): "not a certificate",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n": "not a certificate",
        ca.pem * 150: "too large",
    }
    for pem, phrase in cases.items():
        with pytest.raises(ValueError) as caught:
            mailserver.validate_certificate(pem)
        assert phrase in str(caught.value), pem[:40]
        assert isinstance(caught.value, mailserver.CertificateInvalid)


def test_an_endpoint_s_repr_hides_its_secrets() -> None:
    endpoint = smtp(587, password=PASSWORD, oauth=_oauth("https://x/token", "client-Secret-9"))
    assert PASSWORD not in repr(endpoint) and "client-Secret-9" not in repr(endpoint)


def test_host_names_are_normalized_for_lookup_and_tls() -> None:
    from portal.integrations.targets import normalize_host

    assert normalize_host(" Mail.Example.COM. ") == "mail.example.com"
    assert normalize_host("[2001:db8::1]") == "2001:db8::1"
    assert normalize_host("bücher.example") == "xn--bcher-kva.example"
    for bad in ("exa mple.com", "a\r\nb", "☃\u200b..", "x" * 300):
        with pytest.raises(TargetRefused):
            normalize_host(bad)
