"""The mailbox user's own portal (/me): login, home, allowed and blocked senders.

The quarantine, folders, compose and signature pages come with the quarantine issue."""

from flask import Blueprint

bp = Blueprint("user", __name__, url_prefix="/me")

from . import views  # noqa: E402, F401
