"""The one HTML policy: mail bodies, signatures and the document of the sandboxed frame that shows them.

HTML that reaches Postern is hostile (quarantined mail) or user-written (signatures, composed mail);
all of it goes through the same nh3 allow-list: no script, style, svg, math, form, base, meta,
event handlers, `data-*`/`hx-*`, and links only to http(s), mailto, tel and cid. Images come only
from cid: parts or, when allowed, from http(s); a mail's remote images are held back (and
counted) until the user asks for them. Links open outside without a referrer. Cleaning is the
last step: nothing is changed after it. The page then shows the result in a sandboxed `srcdoc`
iframe (no scripts, no same origin) under the CSP of `frame_document`.
"""

from __future__ import annotations

import nh3

URL_SCHEMES = frozenset({"http", "https", "mailto", "tel", "cid"})
LINK_REL = "noopener noreferrer nofollow"
_REMOTE = ("http:", "https:", "//")


def clean_mail(html: str, *, allow_remote_images: bool) -> tuple[str, int]:
    """A mail body made safe to show or send, and the number of remote images held back."""
    held = 0

    def attribute_filter(element: str, attribute: str, value: str) -> str | None:
        nonlocal held
        if element == "img" and attribute == "src":
            source = value.strip().lower()
            remote = source.startswith(_REMOTE)
            if remote and not allow_remote_images:
                held += 1
                return None
            if not remote and not source.startswith("cid:"):
                return None
        return value

    cleaned = nh3.clean(html, attribute_filter=attribute_filter, link_rel=LINK_REL, url_schemes=set(URL_SCHEMES))
    return cleaned, held


def clean_signature(html: str | None) -> str | None:
    """A signature as it is stored: the mail policy, with its remote images (a logo) kept; None when empty."""
    if not html:
        return None
    return clean_mail(html, allow_remote_images=True)[0]


def frame_document(cleaned_html: str, *, allow_remote_images: bool) -> str:
    """The document of the sandboxed iframe: its own CSP (no script, no connection), links open outside."""
    images = "https: data: cid:" if allow_remote_images else "data: cid:"
    return ('<!doctype html><meta charset="utf-8">'
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src {images}; "
            "style-src 'unsafe-inline'; form-action 'none'\">"
            '<base target="_blank">' + cleaned_html)
