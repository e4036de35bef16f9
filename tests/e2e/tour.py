"""The browser tour's plan and its checks (tests/e2e/test_tour.py runs them).

The plan: every GET page of the page matrix (tests/web/test_page_matrix.py) that a role may open, plus a few
HTMX states and error pages, crossed with roles, languages and widths so that the whole stays a few minutes:

  English at 1366 px     every page x every role: console, CSP, overflow, axe-core (critical and serious)
  English at 390 px      every page x PHONE_ROLES: console, CSP, overflow
  other languages        every page x LANGUAGE_ROLES at 1366 px: untranslated strings, <html lang>, console, CSP

Narrowing it for debugging (comma-separated; unset: everything): POSTERN_TOUR_ROLES, POSTERN_TOUR_LANGS
(en, fr, ...), POSTERN_TOUR_WIDTHS (1366, 390), POSTERN_TOUR_PAGES (substrings of the page's name).
POSTERN_TOUR_REPORT=path appends every visit's findings there as JSON lines.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

from portal.services import content_rules
from portal.web.admin.domains import TABS
from portal.web.admin.rules import KINDS
from tests.test_translations import SAME_AS_ENGLISH, UNIVERSAL
from tests.web.test_page_matrix import MATRIX, OK, Page, _url
from tests.world import World

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules/axe-core/axe.min.js"
LANGS = ("en", "fr", "de", "es", "da", "nb", "ru")
WIDE, NARROW = 1366, 390
HEIGHT = {WIDE: 900, NARROW: 844}
# every role of the page matrix, and who signs in for it (tests.world.PAGE_LOGINS; viewas: admin-a as user@a)
ROLES = ("anonymous", "user", "userB", "userC", "viewas", "sysadmin", "broker", "customer", "domainA", "operatorA",
         "helpdeskA", "readerA", "domainB", "adminC")
PHONE_ROLES = ("anonymous", "user", "viewas", "sysadmin", "helpdeskA")
LANGUAGE_ROLES = ("anonymous", "user", "viewas", "sysadmin")
# pages that are downloads, not documents
DOWNLOADS = {"/me/quarantine/attachment", "/me/quarantine/source", "/admin/users/<user_id>/quarantine/attachment",
             "/admin/users/<user_id>/quarantine/source"}


@dataclass(frozen=True)
class Stop:
    """One page of the tour: a URL (world names resolved at run time), what a role may see there, and an
    optional HTMX step (click `click`, wait for the swap) whose result is what is checked."""

    name: str
    path: str  # a path template of the page matrix, or a literal path
    params: tuple[tuple[str, str], ...] = ()
    query: str = ""
    roles: tuple[str, ...] = ()
    status: int = 200
    click: str = ""  # a CSS selector; the page is checked after the swap it triggers
    search: str = ""  # typed into the page's search box (#search); checked after the swap
    ready: str = ""  # a CSS selector that appears once the page's scripts have drawn it
    translated: bool = True  # False: English whatever the language (the API documentation)

    def url(self, world: World) -> str:
        page = Page("GET", self.path, {}, dict(self.params))
        url = _url(page, world)
        return url + (("&" if "?" in url else "?") + self.query if self.query else "")


def _name(path: str, params: dict[str, str]) -> str:
    for key, value in params.items():
        path = path.replace(f"<{key}>", value.lstrip("="))
    return path


# pages the matrix has one row for, as one example of several: the others are seen by the same roles
SIBLINGS = {"/admin/domains/<domain_id>/tab/<tab>": ("tab", TABS),
            "/admin/domains/<domain_id>/rules/<kind>": ("kind", tuple(KINDS)),
            "/admin/domains/<domain_id>/rules/<kind>/import": ("kind", tuple(content_rules.KINDS))}


def _matrix_stops() -> list[Stop]:
    stops: list[Stop] = []
    seen: set[str] = set()
    own_row = {_name(page.rule, dict(page.params)) for page in MATRIX if page.method == "GET"}
    for page in MATRIX:
        if page.method != "GET" or page.rule in DOWNLOADS or "." in page.rule.rsplit("/", 1)[-1]:
            continue  # a download or a file (a brand's stylesheet), not a page
        roles = tuple(r for r in ROLES if page.expected.get(r) == OK)
        if not roles:
            continue
        query = "&".join(f"{k}={v}" for k, v in page.query.items())
        variants = [dict(page.params)]
        if page.rule in SIBLINGS:
            key, values = SIBLINGS[page.rule]
            variants += [{**page.params, key: f"={v}"} for v in values if f"={v}" != page.params[key]
                         and _name(page.rule, {**page.params, key: f"={v}"}) not in own_row]  # its own roles
        for params in variants:
            name = _name(page.rule, params)
            if name not in seen:
                seen.add(name)
                stops.append(Stop(name, page.rule, tuple(params.items()), query, roles))
    return stops


ADMINS = ("sysadmin", "broker", "customer", "domainA", "operatorA", "helpdeskA", "readerA", "domainB", "adminC")
USERS_OF_A = ("sysadmin", "broker", "customer", "domainA", "operatorA", "helpdeskA")
MAILBOX = ("user", "viewas")
A = (("domain_id", "A"),)

EXTRA = [
    Stop("/api/docs", "/api/docs", roles=("anonymous", "sysadmin"), ready=".swagger-ui section.models",
         translated=False),
    # HTMX states: a sorted list, page 2, another domain tab, the quarantine's page 2 and sort
    Stop("users sorted htmx", "/admin/domains/<domain_id>/users", A, roles=USERS_OF_A,
         click="a[hx-get][href*='sort=']"),
    Stop("users page 2 htmx", "/admin/domains/<domain_id>/users", A, query="pageSize=20", roles=USERS_OF_A,
         click="a[hx-get][href*='offset=']"),
    Stop("domain tab htmx", "/admin/domains/<domain_id>/tab/<tab>", (*A, ("tab", "=settings")),
         roles=("sysadmin", "domainA", "helpdeskA", "readerA"), click="a[hx-get*='/tab/']:not([aria-current])"),
    Stop("DKIM tab with a key", "/admin/domains/<domain_id>/tab/<tab>", (("domain_id", "B"), ("tab", "=dkim")),
         roles=("sysadmin", "domainB")),
    Stop("quarantine page 2 htmx", "/me/quarantine", query="pageSize=1", roles=MAILBOX,
         click="a[hx-get][href*='offset=']"),
    Stop("quarantine sorted htmx", "/me/quarantine", roles=MAILBOX, click="a[hx-get][href*='sort=']"),
    # a search as typed: what matches, and nothing (the empty state of a search)
    Stop("users searched htmx", "/admin/domains/<domain_id>/users", A, roles=USERS_OF_A, search="mailbox1"),
    Stop("users search without match htmx", "/admin/domains/<domain_id>/users", A, roles=USERS_OF_A,
         search="nobody-by-that-name"),
    Stop("quarantine searched htmx", "/me/quarantine", roles=MAILBOX, search="offer"),
    Stop("quarantine search without match htmx", "/me/quarantine", roles=MAILBOX, search="nothing-like-this"),
    # error pages
    Stop("404 page", "/no-such-page", roles=("anonymous", "sysadmin"), status=404),
    Stop("403 page", "/admin/options", roles=("domainA",), status=403),
    Stop("403 page user", "/me/quarantine", roles=("userC",), status=403),
    Stop("404 page user", "/me/quarantine/message", query="id=nothing@here", roles=("user",), status=404),
]


def stops() -> list[Stop]:
    return _matrix_stops() + EXTRA


@dataclass(frozen=True)
class Visit:
    stop: Stop
    role: str
    lang: str
    width: int

    @property
    def axe(self) -> bool:
        return self.lang == "en" and self.width == WIDE

    @property
    def words(self) -> bool:
        return self.lang != "en"

    @property
    def id(self) -> str:
        return f"{self.stop.name} as {self.role} in {self.lang} at {self.width}px"


def _wanted(name: str) -> list[str] | None:
    value = os.environ.get(f"POSTERN_TOUR_{name}", "").strip()
    return [v.strip() for v in value.split(",") if v.strip()] or None


def plan() -> list[Visit]:
    """Every visit, grouped by (role, language) so that each browser context is opened once."""
    visits = []
    for stop in stops():
        for role in stop.roles:
            visits.append(Visit(stop, role, "en", WIDE))
            if role in PHONE_ROLES:
                visits.append(Visit(stop, role, "en", NARROW))
            if role in LANGUAGE_ROLES and stop.translated:
                visits.extend(Visit(stop, role, lang, WIDE) for lang in LANGS[1:])
    roles, langs, widths, pages = (_wanted(n) for n in ("ROLES", "LANGS", "WIDTHS", "PAGES"))
    visits = [v for v in visits if (roles is None or v.role in roles) and (langs is None or v.lang in langs)
              and (widths is None or str(v.width) in widths)
              and (pages is None or any(p in v.stop.name for p in pages))]
    order = {r: i for i, r in enumerate(ROLES)}
    return sorted(visits, key=lambda v: (LANGS.index(v.lang), order[v.role]))


# --- checks ---------------------------------------------------------------------------------------------

# Installed before any page script: CSP violations and HTMX swaps of each document.
INIT_SCRIPT = """
window.__tour = {csp: [], settled: 0};
document.addEventListener('securitypolicyviolation', (e) => window.__tour.csp.push(
  `${e.violatedDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile || ''}:${e.lineNumber || ''}`
  + (e.sample ? ` "${e.sample.slice(0, 60)}"` : '')));
document.addEventListener('htmx:afterSettle', () => { window.__tour.settled += 1; });
"""

# The widest elements past the right edge, to say what overflows.
OVERFLOW_SCRIPT = """
() => {
  const width = window.innerWidth, scroll = document.documentElement.scrollWidth;
  if (scroll <= width) return null;
  const one = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (el.classList.length ? '.' + [...el.classList].join('.') : '');
  const name = (el) => (el.parentElement && el.parentElement !== document.body
    ? one(el.parentElement) + ' > ' : '') + one(el);
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.right > width + 1 && r.width > 0 && !(el.parentElement && el.parentElement.getBoundingClientRect().right
        > width + 1 && el.parentElement !== document.body)) {
      out.push(`${name(el)} (${Math.round(r.right)}px)`);
    }
  }
  return {scroll, width, culprits: [...new Set(out)].slice(0, 5)};
}
"""

# Visible text: text nodes of rendered elements, options, and the labels people or screen readers get.
TEXT_SCRIPT = """
() => {
  const out = new Set();
  const skip = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'CODE', 'PRE', 'KBD', 'SAMP']);
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement, text = node.nodeValue.replace(/\\s+/g, ' ').trim();
    if (!text || !el || el.closest('code, pre, kbd, samp, script, style, template, noscript')) continue;
    if (el.tagName === 'OPTION' || el.checkVisibility({visibilityProperty: true})) out.add(text);
  }
  const labelled = '[placeholder], [title], [aria-label], img[alt], input[type=submit], input[type=button]';
  for (const el of document.querySelectorAll(labelled)) {
    for (const attr of ['placeholder', 'title', 'aria-label', 'alt', 'value']) {
      if (attr === 'value' && el.tagName !== 'INPUT') continue;
      const v = (el.getAttribute(attr) || '').replace(/\\s+/g, ' ').trim();
      if (v) out.add(v);
    }
  }
  out.add(document.title.trim());
  return [...out];
}
"""

# What a visit reads from the page, in one round trip.
LOOK_SCRIPT = (f"(words) => ({{csp: window.__tour.csp, overflow: ({OVERFLOW_SCRIPT.strip()})(), "
               f"texts: words ? ({TEXT_SCRIPT.strip()})() : [], lang: document.documentElement.lang}})")

AXE_SCRIPT = """
async () => {
  const result = await axe.run(document, {iframes: false, resultTypes: ['violations']});
  return result.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 4).map((n) => n.target.join(' ') + (n.failureSummary ? ' — '
      + n.failureSummary.split('\\n').slice(1, 2).join(' ').trim() : ''))}));
}
"""

# Legitimately the same as English (msgids): names and codes in every language, and the words a language shares
# with English (each one the catalog translates to itself).
ALLOWED_EVERYWHERE = {
    "API", "CSV", "Postern", "HTML", "ID", "SPF", "TOTP", "IMAP", "SMTP", "URL", "DNS", "MX", "OK",
    "English", "Français", "Deutsch", "Español", "Dansk", "Norsk bokmål", "Русский",
}
# the words each language shares with English: one list, the catalogs' test's
ALLOWED: dict[str, set[str]] = {lang: SAME_AS_ENGLISH[lang] | UNIVERSAL for lang in SAME_AS_ENGLISH}


def _pattern(message: str) -> re.Pattern[str]:
    """A message with placeholders as a pattern of its rendered text."""
    parts = re.split(r"(%\(\w+\)d|%\(\w+\)s|%[sd]|%%)", " ".join(message.split()))
    return re.compile("^" + "".join(r"\d+" if p.startswith("%") and p.endswith("d") else
                                    ".+?" if p.startswith("%") and p.endswith("s") else
                                    "%" if p == "%%" else re.escape(p) for p in parts) + "$")


def _catalogs() -> list[Path]:
    return sorted((ROOT / "portal/translations").glob("*/LC_MESSAGES/messages.po"))


@cache
def english_messages() -> tuple[frozenset[str], tuple[tuple[str, re.Pattern[str]], ...]]:
    """The catalogs' English msgids: plain ones, and those with placeholders as patterns (keyed by the
    singular msgid)."""
    plain: set[str] = set()
    patterns: dict[str, re.Pattern[str]] = {}
    for path in _catalogs():
        with path.open("rb") as fh:
            for message in read_po(fh):
                ids = message.id if isinstance(message.id, tuple) else (message.id,)
                for msgid in ids:
                    if not msgid or "<" in msgid:
                        continue
                    if "%" not in msgid:
                        plain.add(" ".join(msgid.split()))
                    elif sum(c.isalpha() for c in re.sub(r"%\(\w+\)[sd]|%[sd]", "", msgid)) >= 4:
                        patterns[msgid] = _pattern(msgid)
                        patterns.setdefault(ids[0], _pattern(ids[0]))
    return frozenset(plain), tuple((msgid, pattern) for msgid, pattern in patterns.items())


@cache
def translated_patterns(lang: str) -> dict[str, tuple[re.Pattern[str], ...]]:
    """msgid (singular and plural) -> its translations in `lang` as patterns: the French for "%(num)d message"
    renders "0 message", like the English, and is translated all the same."""
    found: dict[str, tuple[re.Pattern[str], ...]] = {}
    with (ROOT / f"portal/translations/{lang}/LC_MESSAGES/messages.po").open("rb") as fh:
        for message in read_po(fh):
            if message.id and message.string:
                strings = message.string if isinstance(message.string, tuple) else (message.string,)
                ids = message.id if isinstance(message.id, tuple) else (message.id,)
                for msgid in ids:
                    found[msgid] = tuple(_pattern(s) for s in strings if s)
    return found


def untranslated(texts: list[str], lang: str) -> list[str]:
    """Texts of a page in `lang` that are an English msgid, or read as one with placeholders and not as its
    translation."""
    plain, patterns = english_messages()
    allowed = ALLOWED_EVERYWHERE | ALLOWED.get(lang, set())
    found = []
    for text in texts:
        if text in allowed or sum(c.isalpha() for c in text) < 2:
            continue
        if text in plain:
            found.append(text)
            continue
        for msgid, pattern in patterns:
            if pattern.match(text) and not any(p.match(text) for p in translated_patterns(lang).get(msgid, ())):
                found.append(f"{text}  (msgid {msgid!r})")
                break
    return sorted(set(found))
