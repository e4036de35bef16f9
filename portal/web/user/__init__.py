"""The mailbox user's own portal (/me): login, home, quarantine, folders, compose, senders, signature."""

from . import mail, notifications, views  # noqa: F401 (registers the routes)
from .blueprint import bp

__all__ = ["bp"]
