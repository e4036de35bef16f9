"""The check's transcript never shows a secret: what the client sends to log in, fed through the transcript as
the protocol clients send it, reads the same whatever the password (or token) was."""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from portal.integrations import mailserver, oauth2
from portal.integrations.mailserver import Transcript

# what a person may type: any character but the line breaks and NUL no protocol carries (refused before sending)
typed = st.text(st.characters(blacklist_characters="\r\n\0", blacklist_categories=("Cs",)), min_size=1,
                max_size=40)


def b64(text: str) -> bytes:
    return base64.b64encode(text.encode())


def smtp_lines(user: str, secret: str) -> list[str]:
    shown = []
    for mechanism, command, responses in (
            ("PLAIN", b"AUTH PLAIN " + b64(f"\0{user}\0{secret}"), []),
            ("LOGIN", b"AUTH LOGIN " + b64(user), [b64(secret)]),
            ("XOAUTH2", b"AUTH XOAUTH2 " + b64(oauth2.xoauth2(user, secret)), [b""])):
        transcript = Transcript(mailserver.redact_smtp)
        transcript.client(b"EHLO postern.localdomain\r\n")
        transcript.in_auth = True
        transcript.client(command + b"\r\n")
        for response in responses:
            transcript.client(response + b"\r\n")
        transcript.in_auth = False
        transcript.client(b"QUIT\r\n")
        lines = transcript.final()
        assert lines[1] == f"C: AUTH {mechanism} ****"
        shown += lines
    return shown


def imap_lines(user: str, secret: str) -> list[str]:
    transcript = Transcript(mailserver.redact_imap)
    quoted = mailserver._imap_quote(user).encode()
    transcript.in_auth = True  # as the check does: quoted, or a literal for 8-bit passwords
    if secret.isascii():
        transcript.client(b"A1 LOGIN " + quoted + b" " + mailserver._imap_quote(secret).encode() + b"\r\n")
    else:
        transcript.client(b"A1 LOGIN " + quoted + f" {{{len(secret.encode())}}}".encode() + b"\r\n")
        transcript.client(secret.encode())
        transcript.client(b"\r\n")
    transcript.in_auth = False
    transcript.in_auth = True
    transcript.client(b"A2 AUTHENTICATE XOAUTH2\r\n")
    transcript.client(b64(oauth2.xoauth2(user, secret)))
    transcript.client(b"\r\n")
    transcript.in_auth = False
    transcript.client(b"A3 LOGOUT\r\n")
    return transcript.final()


def pop3_lines(user: str, secret: str) -> list[str]:
    transcript = Transcript(mailserver.redact_pop3)
    transcript.client(f"USER {user}\r\n".encode())
    transcript.client(f"PASS {secret}\r\n".encode())
    transcript.in_auth = True
    transcript.client(b"AUTH XOAUTH2 " + b64(oauth2.xoauth2(user, secret)) + b"\r\n")
    transcript.client(b"\r\n")
    transcript.in_auth = False
    return transcript.final()


@given(user=typed, first=typed, second=typed)
def test_the_transcript_does_not_depend_on_the_secret(user: str, first: str, second: str) -> None:
    for lines in (smtp_lines, pop3_lines):
        assert lines(user, first) == lines(user, second)
    if first.isascii() == second.isascii():  # IMAP sends an 8-bit password as a literal: one more (hidden) line
        assert imap_lines(user, first) == imap_lines(user, second)


def test_the_redacted_lines_read_as_documented() -> None:
    assert imap_lines("bob", "pw")[:2] == ['C: A1 LOGIN "bob" ****', "C: A2 AUTHENTICATE XOAUTH2"]
    assert imap_lines("bob", "pässword")[:2] == ['C: A1 LOGIN "bob" ****', "C: ****"]
    assert pop3_lines("bob", "pw") == ["C: USER bob", "C: PASS ****", "C: AUTH XOAUTH2 ****", "C: ****"]


@given(secret=st.text(min_size=4, max_size=30))
def test_a_secret_a_server_echoes_is_scrubbed(secret: str) -> None:
    transcript = Transcript(mailserver.redact_smtp)
    transcript.hide(secret)
    transcript.server(f"535 bad password {secret} / {base64.b64encode(secret.encode()).decode()}")
    shown = transcript.final()[0]
    if "*" not in secret and not any(c < " " or c == "\x7f" for c in secret):  # controls are shown as "?"
        assert secret not in shown and base64.b64encode(secret.encode()).decode() not in shown
