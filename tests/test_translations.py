"""Every language is complete: each string the code and templates mark is translated, in every catalog.

The code's strings come from `pybabel extract` (the same command as `make catalogs`), so a string added
without its translations fails here, in the commit that adds it. A translation must keep the msgid's
placeholders, give every plural form the language has (Russian three), not be fuzzy, and not be the
English text copied (beyond a short list of words that are the same in that language).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("fr", "de", "es", "da", "nb", "ru")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
# Words a language writes as English does (checked by a person, not guessed): anything else equal to its msgid
# is an English copy.
SAME_AS_ENGLISH: dict[str, set[str]] = {
    "fr": {"Action", "action", "Actions", "Alias", "Arguments", "Audit", "Code", "Date", "Description", "Expression",
           "Important", "Message", "Option", "Options", "Pages", "Permissions", "Port", "Score", "Services", "Spam",
           "Transport", "Type", "Menu", "spam", "Notifications",
           "virus", "Version"},
    "de": {"Administrator", "Alias", "Broker", "Code", "Domain", "Domains", "Fallback", "Host", "Name", "Option",
           "Port", "Relay", "Spam", "Status", "System", "Version"},
    "es": {"Alias", "Error", "General", "Host", "No", "Relay", "Spam", "spam", "virus"},
    "da": {"Administrator", "Alias", "Broker", "Database", "Job", "Platform", "Port", "Score", "Send", "Spam", "Status",
           "System", "Test", "Type", "Menu", "spam", "virus", "Version", "Start", "Stop"},
    "nb": {"Administrator", "Alias", "Broker", "Database", "Policy", "Port", "Send", "Spam", "Status", "System",
           "Test", "Type", "spam", "virus", "Start"},
    "ru": set(),
}
# gettext's plural rules as every catalog tool writes them (CLDR's extra French/Spanish form for millions is not
# used by gettext catalogs).
PLURAL_FORMS = {"fr": 2, "de": 2, "es": 2, "da": 2, "nb": 2, "ru": 3}
# Never translated anywhere: product and protocol names, codes.
UNIVERSAL = {"Postern", "API", "DKIM", "SPF", "DMARC", "IMAP", "SMTP", "TOTP", "JSON", "CSV", "MX", "TLS", "IP",
             "URL", "ID", "OK", "HTML", "DNS", "Redis", "RQ", "Cleanmail", "Message-ID", "Cc", "Bcc"}


@pytest.fixture(scope="module")
def wanted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "_n",
                    "-k", "_l", "-o", str(pot), "."], cwd=ROOT, check=True, capture_output=True, timeout=120)
    template = read_po(pot.open("rb"))
    assert len(template) > 200  # the extraction did run
    return template


def _catalog(lang: str) -> Catalog:
    return read_po((ROOT / f"portal/translations/{lang}/LC_MESSAGES/messages.po").open("rb"), locale=lang)


def _text(msgid: str | tuple[str, ...]) -> str:
    return msgid[0] if isinstance(msgid, tuple) else msgid


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalog_has_the_language_plural_rule(lang: str) -> None:
    catalog = _catalog(lang)
    assert catalog.num_plurals == PLURAL_FORMS[lang], f"{lang}: the catalog's Plural-Forms is not the language's"
    if lang == "ru":  # one / few / many
        from babel.support import Translations

        mo = ROOT / "portal/translations/ru/LC_MESSAGES/messages.mo"
        rule = Translations(mo.open("rb")).plural
        assert [rule(n) for n in (1, 2, 5, 11, 21, 22, 25)] == [0, 1, 2, 2, 0, 1, 2]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalog_translates_every_marked_string(lang: str, wanted: Catalog) -> None:
    catalog = _catalog(lang)
    plurals = catalog.num_plurals
    problems: list[str] = []
    for message in wanted:
        if not message.id:
            continue
        found = catalog.get(message.id)
        name = repr(_text(message.id))
        if found is None:
            problems.append(f"missing {name}")
            continue
        if found.fuzzy:
            problems.append(f"fuzzy {name}")
        if isinstance(message.id, tuple):
            forms = found.string if isinstance(found.string, tuple) else (found.string,)
            if len(forms) != plurals or not all(forms):
                problems.append(f"plural forms of {name}: {len(forms)} of {plurals} or empty")
                continue
            want = set(PLACEHOLDER.findall(message.id[1]))
            for form in forms:
                if set(PLACEHOLDER.findall(form)) != want:
                    problems.append(f"placeholders of {name}: {form!r}")
        else:
            if not found.string:
                problems.append(f"empty {name}")
                continue
            if set(PLACEHOLDER.findall(found.string)) != set(PLACEHOLDER.findall(message.id)):
                problems.append(f"placeholders of {name}: {found.string!r}")
            if (found.string == message.id and message.id not in UNIVERSAL
                    and message.id not in SAME_AS_ENGLISH[lang]
                    and re.search(r"[a-z]{3}", PLACEHOLDER.sub("", message.id))):
                problems.append(f"English copy {name}")
    assert problems == [], f"{lang}: {len(problems)} problems:\n" + "\n".join(problems[:60])


def test_the_language_choice_offers_every_catalog() -> None:
    from portal.web.i18n import LANGUAGES as OFFERED

    assert {code.lower() for code in OFFERED} == {"en", *LANGUAGES}
