"""The mailbox user's own portal (/me): login, home, quarantine, folders, compose, senders, signature."""

from flask import Blueprint

bp = Blueprint("user", __name__, url_prefix="/me")

from . import mail, views  # noqa: E402, F401
