"""The hostile-mail corpus at the sanitizer level (portal/safe_html.py, the one HTML policy for mail bodies and
signatures): nothing active survives, remote images wait."""

from __future__ import annotations

import pytest

from portal.safe_html import clean_mail, clean_signature, frame_document
from portal.services.messages import safe_filename

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '<body onload="alert(1)">',
    "<svg><script>alert(1)</script></svg>",
    '<svg onload="alert(1)"/>',
    "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
    "<style>@import url(https://evil.example/x.css);</style>",
    '<div style="background:url(https://evil.example/t.png)">x</div>',
    '<img srcset="https://evil.example/a.png 1x">',
    '<base href="https://evil.example/">',
    '<meta http-equiv="refresh" content="0;url=https://evil.example">',
    '<form action="https://evil.example"><input name=p></form>',
    '<a href="javascript:alert(1)">click</a>',
    '<a href="JaVaScRiPt:alert(1)">click</a>',
    '<iframe src="https://evil.example"></iframe>',
    '<object data="https://evil.example/x.swf"></object>',
    '<div hx-get="/api/security/admins" hx-trigger="load" data-x="1">x</div>',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
]
FORBIDDEN = ("<script", "onerror", "onload", "<svg", "<math", "<style", "style=", "srcset", "<base", "<meta",
             "<form", "<input", "javascript:", "<iframe", "<object", "hx-", "data-x", "<link", "evil.example")


@pytest.mark.parametrize("html", HOSTILE)
def test_nothing_active_survives(html: str) -> None:
    cleaned, _ = clean_mail(html, allow_remote_images=True)
    lowered = cleaned.lower()
    assert not [word for word in FORBIDDEN if word in lowered], cleaned


def test_remote_images_are_held_until_asked() -> None:
    html = '<p>Hi</p><img src="https://t.example/p.gif" width=1><img src="//t.example/q.gif"><img src="cid:logo">'
    held, count = clean_mail(html, allow_remote_images=False)
    assert count == 2 and "t.example" not in held and 'src="cid:logo"' in held
    shown, none = clean_mail(html, allow_remote_images=True)
    assert none == 0 and 'src="https://t.example/p.gif"' in shown


def test_links_do_not_leak_the_referrer() -> None:
    cleaned, _ = clean_mail('<a href="https://ok.example/">ok</a>', allow_remote_images=False)
    assert 'rel="noopener noreferrer nofollow"' in cleaned


@pytest.mark.parametrize("html", HOSTILE)
def test_nothing_active_survives_in_a_signature(html: str) -> None:
    lowered = (clean_signature("Robert" + html) or "").lower()
    assert not [word for word in FORBIDDEN if word in lowered], lowered


def test_a_signature_follows_the_mail_policy() -> None:
    """Same allow-list as a mail body: a logo and phone links stay, links lose the referrer, empty is None."""
    sign = ('<p>Robert <a href="tel:+4712345678">call</a> <a href="https://ok.example/">site</a>'
            '<img src="https://ok.example/logo.png"><img src="cid:logo"><img src="data:image/png;base64,AAAA"></p>')
    cleaned = clean_signature(sign) or ""
    assert cleaned == clean_mail(sign, allow_remote_images=True)[0]
    assert 'href="tel:+4712345678"' in cleaned and 'src="https://ok.example/logo.png"' in cleaned
    assert 'src="cid:logo"' in cleaned and "data:" not in cleaned
    assert cleaned.count('rel="noopener noreferrer nofollow"') == 2
    assert clean_signature("") is None and clean_signature(None) is None


def test_frame_document_has_its_own_policy() -> None:
    document = frame_document("<p>x</p>", allow_remote_images=False)
    assert "default-src 'none'" in document and "img-src data: cid:" in document and "script" not in document
    assert "img-src https:" in frame_document("<p>x</p>", allow_remote_images=True)


@pytest.mark.parametrize(("name", "expected"), [
    ("report.pdf", "report.pdf"), ("../../etc/passwd", "_.._etc_passwd"), ('<img src=x onerror=1>.html',
                                                                          "_img src=x onerror=1_.html"),
    ("a\r\nContent-Type: text/html", "a__Content-Type: text_html"), ("", "part-3"), (None, "part-3"),
    ("....", "part-3"),
])
def test_attachment_names(name: str | None, expected: str) -> None:
    assert safe_filename(name, 3) == expected


@pytest.mark.parametrize("depth", [20, 3000])
def test_nesting_never_exhausts_the_parser(depth: int) -> None:
    """Deep multipart nesting (which would blow the stdlib parser's recursion) reads as flat text."""
    from portal.services.messages import _attachments, _body, parse
    from tests.mime import nested

    message = parse(nested(b"Subject: nested\r\nMIME-Version: 1.0\r\n", b"<p>deep</p>", depth))
    _attachments(message)
    text = _body(message, "plain")
    if depth > 100:
        assert text is not None and "too deeply nested" in text and _body(message, "html") is None
    else:
        assert message.is_multipart() and "too deeply nested" not in (text or "")
