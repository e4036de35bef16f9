"""Where Postern may connect when an administrator names the host: the rules for outbound checks.

`resolve()` resolves a host name ONCE and answers the address to connect to; the caller connects to that
address (no second lookup that a rebinding DNS could answer differently) and verifies TLS against the name.
Refused, unless private targets are allowed: any resolved address that is loopback, link-local, private,
shared (100.64/10), multicast, unspecified, reserved or otherwise not global, IPv4 and IPv6 alike, including
IPv4 addresses inside IPv6 (v4-mapped, 6to4, NAT64 64:ff9b::/96). If one address of a name is refused the
name is refused (a mixed answer is how rebinding is tried). A port outside `ports` is refused always.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time

import idna

from ..errors import FieldError, Invalid
from ..words import Text, _l
from .deadline import Deadline

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class TargetRefused(Invalid):
    """A host or port Postern may not connect to (400; `errors` names the field, `host` or `port`)."""

    @property
    def message(self) -> Text:
        """The phrase for people (always a `Text` here)."""
        return self.detail if isinstance(self.detail, Text) else _l("This is not a valid host name.")


def refused_host() -> TargetRefused:
    message = _l("This host is not allowed: it is a local, private or reserved address.")
    return TargetRefused(message, [FieldError("host", message)])


def refused_port() -> TargetRefused:
    message = _l("This port is not allowed for this kind of server.")
    return TargetRefused(message, [FieldError("port", message)])


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def is_public(address: str) -> bool:
    """True when `address` (an IP literal) is a global unicast address, and so is any IPv4 address inside it."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is that IPv4 address
            return is_public(str(ip.ipv4_mapped))
        inner = _embedded_v4(ip)
        if inner is not None and not is_public(str(inner)):
            return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip.is_loopback
                                 or ip.is_link_local or ip.is_private)


def normalize_host(host: str) -> str:
    """The name to look up and to verify TLS against: trimmed, an IPv6 literal without brackets, an IDN in its
    ASCII form (UTS 46). Raises `TargetRefused` for what is no host name."""
    name = host.strip().removeprefix("[").removesuffix("]").rstrip(".") if isinstance(host, str) else ""
    if name and not name.isascii():
        try:
            name = idna.encode(name, uts46=True).decode()
        except (idna.IDNAError, UnicodeError):
            name = ""
    if not valid_host(name):
        message = _l("This is not a valid host name.")
        raise TargetRefused(message, [FieldError("host", message)])
    return name.lower()


def valid_host(host: str) -> bool:
    """A host name or IP literal that can be looked up (no spaces, control characters, schemes or paths)."""
    if not host or len(host) > 253 or not host.isascii():
        return False
    return all(c.isalnum() or c in "-._:[]" for c in host)


def _lookup(host: str, port: int, timeout: float) -> list[tuple[str, int]]:
    """getaddrinfo bounded by `timeout` (the system resolver has none): a thread that outlives it is left to end."""
    found: list[list[tuple[str, int]]] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            found.append([(info[4][0], info[4][1]) for info in
                          socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)])
        except OSError as exc:
            failure.append(exc)

    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        run()  # a literal: no lookup, no thread
    if not found and not failure:
        thread = threading.Thread(target=run, name="postern-resolve", daemon=True)
        thread.start()
        thread.join(timeout)
    if failure:
        raise failure[0]
    if not found or not found[0]:
        raise socket.gaierror(socket.EAI_AGAIN, "lookup timed out")
    return found[0]


def resolve(host: str, port: int, *, allow_private: bool, ports: set[int] | frozenset[int],
            timeout: float = 5.0) -> list[tuple[str, int]]:
    """The addresses to connect to for `host`:`port`, in the resolver's order (try them in turn, never look the
    name up again). Raises `TargetRefused` (policy) or `OSError` (the lookup failed)."""
    host = normalize_host(host)
    if port not in ports or not 0 < port < 65536:
        raise refused_port()
    addresses = _lookup(host, port, timeout)
    if not allow_private and not all(is_public(address) for address, _ in addresses):
        raise refused_host()
    return addresses


def connect_first(deadline: Deadline, addresses: list[tuple[str, int]]) -> socket.socket:
    """A watched connection to the first of `addresses` that accepts (each bounded by what is left)."""
    failure: OSError = OSError("no address")
    for address in addresses:
        try:
            return deadline.connect(address)
        except OSError as exc:
            failure = exc
            if deadline.expired or deadline.at - time.monotonic() <= 0:
                break
    raise failure
