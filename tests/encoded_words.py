"""Hypothesis strategies for hostile header values: plain text, control characters, and RFC 2047 encoded
words (Q and B) whose text carries them, nested too. Each strategy draws `Piece`s: what was encoded, and
the raw text that carries it, so a test knows whether a value hides a control character."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from hypothesis import strategies as st

# Every C0 control, DEL, the C1 controls and the Unicode line / paragraph separators.
CONTROLS = [chr(c) for c in range(32)] + ["\x7f", "\x85", "\x9f", "\u2028", "\u2029"]
INJECTIONS = ["\r\nBcc: evil@attacker.example", "\r\nFrom: boss@a.example\r\nReply-To: evil@attacker.example",
              "\r\n\r\n<h1>injected body</h1>", "\n", "\r", "\x00", "\r\n"]


@dataclass(frozen=True)
class Piece:
    raw: str  # as it goes into the header
    text: str  # what it decodes to, at the deepest level
    hostile: bool  # the text holds a control character


def q_encode(text: str, *, raw_specials: bool = False) -> str:
    """A Q encoded word; `raw_specials` leaves ':' '@' ',' '<' '>' unencoded, as hostile senders do."""
    keep = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    if raw_specials:
        keep |= set(":@,<>.")
    out = []
    for byte in text.encode("utf-8", errors="surrogatepass"):
        char = chr(byte)
        out.append("_" if char == " " else char if char in keep else f"={byte:02X}")
    return "=?UTF-8?Q?" + "".join(out) + "?="


def b_encode(text: str) -> str:
    return "=?UTF-8?B?" + base64.b64encode(text.encode("utf-8", errors="surrogatepass")).decode() + "?="


# Plain words never look like an encoded word (no '=' or '?') and hold no white space of their own.
_letters = st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp", "Cf"),
                         blacklist_characters="=?\"\\()<>,;:@[]")
plain_words = st.text(_letters, min_size=1, max_size=12)
clean_texts = st.lists(plain_words, min_size=1, max_size=4).map(" ".join)
hostile_texts = st.builds(lambda before, bad, after: before + bad + after,
                          st.text(_letters, max_size=6), st.sampled_from(CONTROLS + INJECTIONS),
                          st.text(_letters, max_size=6))


@st.composite
def pieces(draw: st.DrawFn, depth: int = 2) -> Piece:
    """A plain word, a raw control character, or an encoded word (Q, Q with raw specials, B) of clean or
    hostile text, perhaps an encoded word of an encoded word."""
    kind = draw(st.sampled_from(["plain", "raw-control", "q", "q-specials", "b", "nested"] if depth else
                                ["plain", "q", "b"]))
    if kind == "plain":
        word = draw(plain_words)
        return Piece(word, word, False)
    if kind == "raw-control":
        bad = draw(st.sampled_from(CONTROLS))
        return Piece(f"x{bad}y", f"x{bad}y", True)
    if kind == "nested":
        inner = draw(pieces(depth=depth - 1))
        return Piece(draw(st.sampled_from([q_encode, b_encode]))(inner.raw), inner.text, inner.hostile)
    hostile = draw(st.booleans())
    text = draw(hostile_texts if hostile else clean_texts)
    encoded = {"q": q_encode, "b": b_encode, "q-specials": lambda t: q_encode(t, raw_specials=True)}[kind](text)
    return Piece(encoded, text, hostile)


@st.composite
def header_values(draw: st.DrawFn) -> tuple[str, bool]:
    """A header value of one to four pieces separated by spaces, and whether it hides a control character."""
    drawn = draw(st.lists(pieces(), min_size=1, max_size=4))
    return " ".join(p.raw for p in drawn), any(p.hostile for p in drawn)


hostile_header_values = st.tuples(st.lists(pieces(), max_size=2), hostile_texts.map(lambda t: Piece(
    q_encode(t), t, True)) | hostile_texts.map(lambda t: Piece(b_encode(t), t, True))).map(
    lambda drawn: " ".join(p.raw for p in [*drawn[0], drawn[1]]))
