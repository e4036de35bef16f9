"""Words for people, translated when they are shown.

Services and schemas raise errors whose messages are `Text`: an English msgid and its values. A page shows
one in the reader's language (`str()` inside a request); the API, the CLI and the jobs read `english()`.
Nothing here reads the request itself: flask_babel's locale selector does that, only when a page renders.

The helpers are named `_l` and `ngettext` so that `pybabel extract` (babel.cfg, `-k _l`) finds their msgids.
`Text` has no `__html__`: Jinja escapes it, so a value a person typed cannot become markup."""

from __future__ import annotations

from typing import Any

from flask import has_request_context
from flask_babel import gettext as _gettext
from flask_babel import ngettext as _ngettext


class Text:
    """A message translated at the moment it becomes a string (in a request: the reader's language)."""

    __slots__ = ("msgid", "num", "plural", "values")

    def __init__(self, msgid: str, plural: str | None = None, num: int | None = None, /, **values: Any) -> None:
        self.msgid, self.plural, self.num, self.values = msgid, plural, num, values  # `num` may also be a value

    def english(self) -> str:
        values = {k: english(v) for k, v in self.values.items()}
        source = self.msgid
        if self.plural is not None and self.num is not None:
            source = self.msgid if self.num == 1 else self.plural
            values.setdefault("num", self.num)
        return source % values if values else source

    def __str__(self) -> str:
        if not has_request_context():
            return self.english()
        if self.plural is not None and self.num is not None:
            return _ngettext(self.msgid, self.plural, self.num, **self.values)
        return _gettext(self.msgid, **self.values) if self.values else _gettext(self.msgid)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Text):
            return self.english() == other.english()
        return isinstance(other, str) and str(self) == other

    def __hash__(self) -> int:
        return hash(self.english())

    def __add__(self, other: str) -> str:
        return str(self) + other

    def __radd__(self, other: str) -> str:
        return other + str(self)

    def __contains__(self, part: str) -> bool:
        return part in str(self)

    def __getattr__(self, name: str) -> Any:
        """The str methods (`startswith`, `lower`, ...) on the shown words."""
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(str(self), name)

    def __len__(self) -> int:
        return len(str(self))

    def __bool__(self) -> bool:
        return bool(self.msgid)

    def __repr__(self) -> str:
        return f"Text({self.english()!r})"


Message = str | Text


def _l(msgid: str, **values: Any) -> Text:
    """A message to translate when shown; `values` fill its `%(name)s` placeholders (after translation)."""
    return Text(msgid, **values)


def ngettext(singular: str, plural: str, num: int, **values: Any) -> Text:
    """A counted message (`%(num)d`), its plural form chosen by the reader's language when shown."""
    return Text(singular, plural, num, **values)


def english(message: Any) -> Any:
    """The English words of a message (the API's and the command line's language); other values as they are."""
    return message.english() if isinstance(message, Text) else message


def yes_no(value: object) -> Text:
    """A boolean for people: Yes or No (a Jinja filter, `yesno`)."""
    return _l("Yes") if value else _l("No")


# The enumeration values pages show (rule types and actions, statuses), in words.
VALUES: dict[str, Text] = {
    "ALLOW": _l("Allow"),
    "BLOCK": _l("Block"),
    "DENY": _l("Deny"),
    "ENABLED": _l("Enabled"),
    "DISABLED": _l("Disabled"),
    "DELETED": _l("Deleted"),
    "PENDING": _l("Pending"),
    "PROTECTED": _l("Protected"),
    "NONE": _l("No rule decides"),
    "NEVER": _l("Never"),
    "DAILY": _l("Daily"),
    "WEEKLY": _l("Weekly"),
    "BROKER": _l("Broker"),
    "CUSTOMER": _l("Customer"),
    "DOMAIN": _l("Domain"),
    "FILENAME": _l("File name"),
    "CONTENTTYPE": _l("Content type"),
    "ARCHIVE-FILENAME": _l("File name in an archive"),
    "ARCHIVE-CONTENTTYPE": _l("Content type in an archive"),
    "URIDNSBL_SKIP_DOMAIN": _l("Skip the URI blocklist check"),
    "WHITELIST_URI_HOST": _l("Trust the host"),
    "BLACKLIST_URI_HOST": _l("Block the host"),
    # how a platform's relay is reached, and how its users sign in
    "SMTP": _l("SMTP without encryption"),
    "SMTPS_ENCRYPT": _l("Always encrypted (SMTPS)"),
    "SMTPS_MAY": _l("Encrypted when offered (STARTTLS)"),
    "local": _l("Password kept by the portal"),
    "imap": _l("Password checked by the IMAP server"),
    # why a message is held (X-Quarantine-Reason)
    "SPAM": _l("spam"),
    "VIRUS": _l("virus"),
    "ADVERT": _l("advertising"),
    "BLACKLISTED": _l("blocked sender"),
    "SENDER_VERIFY": _l("unverified sender"),
    "BAD_HEADERS": _l("bad headers"),
    "BAD_ENCODING": _l("bad encoding"),
    "BAD_ATTACHMENTS": _l("forbidden attachment"),
}


def value_label(value: object) -> object:
    """An enumeration value in words (`ALLOW` → Allow), else the value as it is (a Jinja filter, `label`)."""
    return VALUES.get(str(value), value) if value is not None else ""
