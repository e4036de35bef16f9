"""Login, second factor, logout, the language switch, and the pages behind the links of mails."""

from . import links, views  # noqa: F401 (registers the routes)
from .blueprint import bp

__all__ = ["bp"]
