"""Languages: the six of the seed; the account's choice, else the session's, else the browser's."""

from __future__ import annotations

from flask import request, session
from flask_login import current_user

LANGUAGES = {"EN": "English", "FR": "Français", "DE": "Deutsch", "ES": "Español", "DA": "Dansk", "NB": "Norsk bokmål",
             "RU": "Русский"}


def select_locale() -> str:
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen.lower()
    account = getattr(current_user, "admin", None) or getattr(current_user, "user", None)
    if account is not None:
        return account.language.lower()
    return request.accept_languages.best_match([code.lower() for code in LANGUAGES]) or "en"
