"""RFC 2047 encoded words written by Postern itself (a released Subject whose prefix sat in an encoded
word, a sent non-ASCII Subject): base64 of UTF-8, one word per folded line, never a raw control character.

Written by hand because the stdlib's folding of unstructured headers (Python 3.11) drops the space between
two encoded words of a long non-ASCII subject, and `email.header.Header` refuses a text with a line end."""

from __future__ import annotations

import base64

WORD_BYTES = 45  # UTF-8 bytes per word: base64 of 45 bytes keeps a word at 72 characters (RFC 2047: 75)


def encoded_words(text: str, eol: str = "\r\n") -> str:
    """`text` as base64 encoded words, folded with `eol` + a space; a character is never split."""
    words: list[bytes] = []
    chunk = b""
    for char in text:
        data = char.encode("utf-8", errors="replace")
        if len(chunk) + len(data) > WORD_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += data
    if chunk:
        words.append(chunk)
    return (eol + " ").join("=?UTF-8?B?" + base64.b64encode(word).decode() + "?=" for word in words)
