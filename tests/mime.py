"""Hostile MIME for the tests."""

from __future__ import annotations


def nested(head: bytes, innermost: bytes, depth: int) -> bytes:
    """A message whose body is `depth` multipart/mixed parts, each inside the previous one."""
    body = innermost
    for level in range(depth):
        body = (f"Content-Type: multipart/mixed; boundary=b{level}\r\n\r\n--b{level}\r\n".encode() + body
                + f"\r\n--b{level}--\r\n".encode())
    return head + body
