"""Badges and reason labels are readable: every colour pair in postern.css meets WCAG AA (4.5:1)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parents[2] / "static" / "css" / "postern.css"
RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
HEX = r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b"


def _rgb(hex_color: str) -> tuple[int, int, int]:
    h = hex_color.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def _luminance(hex_color: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(v) for v in _rgb(hex_color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(foreground: str, background: str) -> float:
    light, dark = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _colour_rules() -> dict[str, tuple[str | None, str | None]]:
    """selector -> (color, background) for every rule that sets a background or a colour."""
    text = re.sub(r"/\*.*?\*/", "", CSS.read_text(), flags=re.S)
    found: dict[str, tuple[str | None, str | None]] = {}
    for selector, body in RULE.findall(text):
        background = re.search(r"background(?:-color)?\s*:\s*" + HEX, body)
        color = re.search(r"(?<![-\w])color\s*:\s*" + HEX, body)
        if background or color:
            found[" ".join(selector.split())] = (color and "#" + color.group(1),
                                                 background and "#" + background.group(1))
    return found


def test_contrast_is_computed_as_wcag_says() -> None:
    assert contrast("#000", "#fff") == pytest.approx(21)
    assert contrast("#fff", "#ef6c00") == pytest.approx(3.08, abs=0.01)  # the spam badge axe-core flagged


def test_every_badge_sets_both_colours() -> None:
    """A badge that sets its background only inherits the text colour of the theme (dark mode: light text)."""
    rules = _colour_rules()
    badges = {s: pair for s, pair in rules.items() if re.search(r"\.(badge|reason-)", s)}
    assert len(badges) >= 8
    assert [s for s, (color, background) in badges.items() if not (color and background)] == []


def test_every_colour_pair_meets_aa() -> None:
    pairs = {s: (c, b) for s, (c, b) in _colour_rules().items() if c and b}
    weak = {s: round(contrast(c, b), 2) for s, (c, b) in pairs.items() if contrast(c, b) < 4.5}
    assert pairs and weak == {}
