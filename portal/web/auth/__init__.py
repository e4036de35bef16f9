"""Login, second factor, logout and the language switch."""

from . import views  # noqa: F401 (registers the routes)
from .blueprint import bp

__all__ = ["bp"]
