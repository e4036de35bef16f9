"""Brand values: an accent colour (option BRAND_COLOR) and a logo (LOGO_URL), checked when they are saved and
again when they are used, and the stylesheet a colour gives.

The colour reaches pages as Pico's CSS variables in a stylesheet served at /brand/<colour>.css (the CSP allows no
inline style), derived so that text stays readable: links are darkened (lightened on a dark theme) until they
reach 4.5:1 against the page, and buttons carry white or black text, whichever reads (a mid-tone is darkened
until white text reads on it). The logo is an https URL; the page that shows it allows that origin for images.
Which scope's values apply to whom: `portal.services.branding`.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import idna

from .errors import Invalid
from .words import _l

_HEX = re.compile(r"^#(?:[0-9a-f]{3}|[0-9a-f]{6})$")
_HOST = re.compile(r"^(?=.{1,253}$)(?:(?!-)[a-z0-9-]{1,63}(?<!-)\.)*(?!-)[a-z0-9-]{1,63}(?<!-)$")
_NOT_IN_URL = re.compile(r"[\x00-\x20\x7f\"'<>\\^`{|}]")  # typed, these must be percent-encoded
MAX_URL = 2048

RGB = tuple[float, float, float]
WHITE: RGB = (255, 255, 255)
BLACK: RGB = (0, 0, 0)
DARK_PAGE: RGB = (19, 22.5, 30.5)  # Pico's dark background
# The darkest light surface a link sits on (a hovered table row, a card): links are made readable on it, not only
# on white (axe measured 4.38:1 for the default colour on a striped row when only white was checked).
LIGHT_SURFACE: RGB = (238, 240, 242)


def color(value: str, field: str) -> str:
    """A colour as #rgb or #rrggbb, stored as #rrggbb in lower case."""
    raw = value.strip().lower()
    if not _HEX.match(raw):
        raise Invalid.on(field, _l("“%(value)s” is not a colour: give it as #rrggbb or #rgb, e.g. #1e88e5.",
                                   value=value))
    return "#" + "".join(c * 2 for c in raw[1:]) if len(raw) == 4 else raw


def safe_color(value: str | None) -> str | None:
    """The stored colour if it is still a valid one (values are checked again where they are used)."""
    try:
        return color(value, "color") if value else None
    except Invalid:
        return None


def logo_url(value: str, field: str) -> str:
    """An https URL of an image, with a host name (no credentials, no characters that need encoding)."""
    raw = value.strip()
    if _origin(raw) is None:
        raise Invalid.on(field, _l("The logo must be an https:// address of an image, e.g. "
                                   "https://example.com/logo.png."))
    return raw


def safe_logo(value: str | None) -> str | None:
    return value.strip() if value and _origin(value.strip()) else None


def origin(url: str) -> str:
    """The origin of a checked logo URL, as a CSP source (https://host[:port])."""
    found = _origin(url)
    if found is None:
        raise ValueError("not a checked logo URL")
    return found


def _origin(url: str) -> str | None:
    if not url or len(url) > MAX_URL or _NOT_IN_URL.search(url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme.lower() != "https" or "@" in parts.netloc or not host:
        return None
    try:
        host = idna.encode(host, uts46=True).decode() if not host.isascii() else host
    except idna.IDNAError:
        return None
    if not _HOST.match(host):
        return None
    return f"https://{host}" + (f":{port}" if port and port != 443 else "")


# --- colours ------------------------------------------------------------------------------------------------

def _rgb(hex_color: str) -> RGB:
    return int(hex_color[1:3], 16), int(hex_color[3:5], 16), int(hex_color[5:7], 16)


def _hex(rgb: RGB) -> str:
    return "#" + "".join(f"{round(max(0.0, min(255.0, c))):02x}" for c in rgb)


def _luminance(rgb: RGB) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: RGB | str, b: RGB | str) -> float:
    """The WCAG contrast ratio of two colours (1 to 21)."""
    la, lb = (_luminance(_rgb(c) if isinstance(c, str) else c) for c in (a, b))
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def _mix(rgb: RGB, toward: RGB, share: float) -> RGB:
    return tuple(c + (t - c) * share for c, t in zip(rgb, toward, strict=True))  # type: ignore[return-value]


def _until(rgb: RGB, toward: RGB, against: RGB, ratio: float = 4.5) -> RGB:
    """`rgb` moved toward `toward` in small steps until it reaches `ratio` against `against`."""
    share = 0.0
    candidate = _rgb(_hex(rgb))
    while share < 1 and contrast(candidate, against) < ratio:
        share = min(share + 0.02, 1.0)
        candidate = _rgb(_hex(_mix(rgb, toward, share)))  # as written in the sheet: whole numbers
    return candidate


def _rgba(rgb: RGB, alpha: float) -> str:
    r, g, b = (round(c) for c in rgb)
    return f"rgba({r}, {g}, {b}, {alpha})"


def palette(hex_color: str) -> dict[str, dict[str, str]]:
    """Pico's primary variables for a checked colour: {"light": {...}, "dark": {...}}."""
    brand = _rgb(hex_color)
    if contrast(brand, WHITE) >= 4.5:
        button, on_button = brand, WHITE
    elif contrast(brand, BLACK) >= 7:  # a light colour: black text on it
        button, on_button = brand, BLACK
    else:  # a mid-tone: darkened until white text reads on it
        button, on_button = _until(brand, BLACK, WHITE), WHITE
    hover = _mix(button, BLACK if on_button == WHITE else WHITE, 0.15)
    common = {
        "--pico-primary-background": _hex(button), "--pico-primary-hover-background": _hex(hover),
        "--pico-primary-inverse": _hex(on_button), "--pico-primary-focus": _rgba(brand, 0.5),
        "--pico-text-selection-color": _rgba(brand, 0.25),
    }
    themes = {}
    for name, page, toward in (("light", LIGHT_SURFACE, BLACK), ("dark", DARK_PAGE, WHITE)):
        text = _until(brand, toward, page)
        themes[name] = {**common, "--pico-primary": _hex(text), "--pico-primary-underline": _rgba(text, 0.5),
                        "--pico-primary-hover": _hex(_mix(text, toward, 0.2))}  # further from the page: readable
    return themes


def stylesheet(hex_color: str) -> str:
    """The CSS of a checked colour (its values only come from `palette`: hex digits and numbers)."""
    themes = palette(hex_color)

    def rules(values: dict[str, str]) -> str:
        return ";".join(f"{name}:{value}" for name, value in values.items())

    # html:root outranks Pico's own `:root:not([data-theme=dark])`, wherever this sheet is linked
    return (f"/* Postern brand {hex_color} */\n"
            f"html:root:not([data-theme=dark]),html[data-theme=light]{{{rules(themes['light'])}}}\n"
            f"@media only screen and (prefers-color-scheme:dark){{"
            f"html:root:not([data-theme]){{{rules(themes['dark'])}}}}}\n"
            f"html[data-theme=dark]{{{rules(themes['dark'])}}}\n")
