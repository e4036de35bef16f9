"""Downloads (issue 10, item 10): names lose a leading `-` or dot and every format character (bidi
controls) in both Content-Disposition forms; an infected message's attachments, alone or zipped, need the
confirmation its release needs (a confirm page, the API's X-Virus-Lover or 412)."""

from __future__ import annotations

import io
import mailbox
import unicodedata
import zipfile
from pathlib import Path
from urllib.parse import unquote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.integrations.mailstore import maildir_root
from portal.responses import download
from portal.services.messages import safe_filename
from tests.conftest import login
from tests.web.test_user_mail_pages import _login
from tests.world import PASSWORD, World

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def _message(key: str, filename_param: str, *, infected: bool) -> str:
    verdict = "X-Quarantine-Reason: VIRUS\nX-Virus-Name: Eicar-Test-Signature\n" if infected else \
        "X-Quarantine-Reason: SPAM\n"
    return (f"From: it@evil.example\nSubject: invoice {key}\nX-Fuglu-Id: {key}\n{verdict}MIME-Version: 1.0\n"
            'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\nsee attached\n'
            f"--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment; {filename_param}\n\n"
            f"{EICAR.decode()}\n--b--\n")


# -rf<RLO>gpj.exe: looks like "-rfexe.jpg" in a right-to-left aware view; an option once saved
HOSTILE = "filename*=UTF-8''-rf%E2%80%AEgpj.exe"


@pytest.fixture
def held(app: Flask, world: World) -> World:
    with app.app_context():
        box = mailbox.Maildir(str(maildir_root(Path(app.config["MAIL_ROOT"]), "user@a.example")))
        quarantine = box.get_folder("Quarantine")
        quarantine.add(mailbox.MaildirMessage(_message("q-hostile", HOSTILE, infected=False)))
        quarantine.add(mailbox.MaildirMessage(_message("q-virus", 'filename="eicar.com"', infected=True)))
    return world


def _disposition(header: str) -> tuple[str, str]:
    """(filename, decoded filename*) of an RFC 6266 header as `download` writes it."""
    plain = header.split('filename="', 1)[1].split('"', 1)[0]
    extended = unquote(header.split("filename*=UTF-8''", 1)[1], errors="strict")
    return plain, extended


def _clean(name: str) -> bool:
    return (bool(name) and name[0] not in "-. " and not name[0].isspace()
            and not any(unicodedata.category(c) in ("Cf", "Cc", "Cs", "Zl", "Zp") for c in name)
            and not any(c in name for c in '/\\<>"'))


# --- names --------------------------------------------------------------------------------------------

@given(name=st.one_of(st.text(max_size=300), st.builds(lambda a, b: a + b, st.sampled_from(
    ["-", "--", ".", "..", " -", "\u202e", "\u2066", "\u200f-", "\ufeff.", "\u061c"]), st.text(max_size=20))))
@settings(max_examples=500, deadline=None)
def test_safe_filename_property(name: str) -> None:
    cleaned = safe_filename(name, 3)
    assert _clean(cleaned) and len(cleaned) <= 200, repr(cleaned)
    assert safe_filename(cleaned, 3) == cleaned  # applying it again changes nothing


@given(name=st.text(max_size=100))
@settings(max_examples=300, deadline=None)
def test_both_download_names_are_clean(app: Flask, name: str) -> None:
    with app.test_request_context():
        header = download(b"x", name).headers["Content-Disposition"]
    plain, extended = _disposition(header)
    assert plain.isascii() and plain.isprintable() and _clean(plain), header
    assert _clean(extended), header


@pytest.mark.parametrize(("given_name", "expected"), [
    ("-rf\u202egpj.exe", "rfgpj.exe"), ("..\u2066evil\u2069.sh", "evil.sh"), ("--help", "help"),
    (".bashrc", "bashrc"), ("\u200e-x.txt", "x.txt"), ("a\u200bb.pdf", "ab.pdf"), ("report.pdf", "report.pdf"),
])
def test_names_lose_leading_dashes_dots_and_format_characters(app: Flask, given_name: str, expected: str) -> None:
    with app.test_request_context():
        assert _disposition(download(b"x", given_name).headers["Content-Disposition"]) == (expected, expected)


def test_a_hostile_attachment_name_from_the_page_and_the_api(app: Flask, client: FlaskClient, held: World) -> None:
    _login(client)
    page = client.get("/me/quarantine/message?id=q-hostile")
    assert "\u202e" not in page.text and "rfgpj.exe" in page.text
    link = page.text.split('href="/me/quarantine/attachment?', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    got = client.get(f"/me/quarantine/attachment?{link}")
    assert got.status_code == 200 and _disposition(got.headers["Content-Disposition"]) == ("rfgpj.exe", "rfgpj.exe")
    base = f"/api/users/{held.id('userA')}/emails/Quarantine/q-hostile/attachments"
    listed = client.get(base, headers=held.headers("enduser")).json
    assert [a["filename"] for a in listed["attachments"]] == ["rfgpj.exe"]
    archive = client.get(f"{base}?dl=true", headers=held.headers("enduser"))
    assert zipfile.ZipFile(io.BytesIO(archive.data)).namelist() == ["rfgpj.exe"]
    assert _disposition(archive.headers["Content-Disposition"]) == ("q-hostile.zip", "q-hostile.zip")


# --- infected messages --------------------------------------------------------------------------------

def test_an_infected_attachment_asks_first_on_the_page(app: Flask, client: FlaskClient, held: World) -> None:
    _login(client)
    page = client.get("/me/quarantine/message?id=q-virus")
    link = page.text.split('href="/me/quarantine/attachment?', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    asked = client.get(f"/me/quarantine/attachment?{link}")
    assert asked.status_code == 200 and asked.mimetype == "text/html"
    assert "Content-Disposition" not in asked.headers and EICAR not in asked.data
    assert 'id="infected-download"' in asked.text and "This message carries a virus" in asked.text
    anyway = asked.text.split('id="infected-anyway"', 1)[0].rsplit('href="', 1)[1].split('"', 1)[0]
    got = client.get(anyway.replace("&amp;", "&"))
    assert got.status_code == 200 and got.mimetype == "application/octet-stream" and EICAR in got.data
    for forged in ("1", "true", "x" * 64, "%C3%A9" * 32):  # the confirmation is this session's, not a guessable value
        assert EICAR not in client.get(f"/me/quarantine/attachment?{link}&confirm={forged}").data
    other = app.test_client()
    _login(other)
    assert EICAR not in other.get(anyway.replace("&amp;", "&")).data  # nor another session's
    with client.session_transaction() as session:
        session["lang"] = "FR"
    french = client.get(f"/me/quarantine/attachment?{link}")
    assert "Ce message contient un virus" in french.text


def test_an_infected_attachment_asks_first_an_administrator_too(app: Flask, held: World) -> None:
    client = app.test_client()
    login(client, "admin-a", PASSWORD)
    base = f"/admin/users/{held.id('userA')}/quarantine/attachment?id=q-virus&part=2"
    asked = client.get(base)
    assert asked.status_code == 200 and EICAR not in asked.data and 'id="infected-download"' in asked.text
    assert f'/admin/users/{held.id("userA")}/quarantine/message' in asked.text  # back to the admin's view
    assert EICAR not in client.get(base + "&confirm=1").data  # a link from elsewhere still gets the warning
    anyway = asked.text.split('id="infected-anyway"', 1)[0].rsplit('href="', 1)[1].split('"', 1)[0]
    assert EICAR in client.get(anyway.replace("&amp;", "&")).data


def test_an_infected_attachment_needs_x_virus_lover_in_the_api(client: FlaskClient, held: World) -> None:
    h = held.headers("enduser")
    base = f"/api/users/{held.id('userA')}/emails/Quarantine/q-virus/attachments"
    for url in (f"{base}/2", f"{base}?dl=true"):
        refused = client.get(url, headers=h)
        assert refused.status_code == 412 and refused.mimetype == "application/problem+json"
        assert "X-Virus-Lover" in refused.json["detail"] and EICAR not in refused.data
        assert client.get(url, headers={**h, "X-Virus-Lover": "true"}).status_code == 200
    assert client.get(base, headers=h).status_code == 200  # the list itself carries no payload
    clean = f"/api/users/{held.id('userA')}/emails/Quarantine/q-hostile/attachments/2"
    assert client.get(clean, headers=h).status_code == 200
