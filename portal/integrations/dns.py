"""DNS lookups (dnspython) with a whole-query deadline; outages become Unavailable.

dnspython's `lifetime` bounds the whole resolution (every server and retry, and the TCP retry of a truncated
answer, whose reads share one expiration), so POSTERN_DNS_TIMEOUT is the deadline as it stands; `timeout`
(one server's attempt) is the same number, so one silent server does not leave the others no time."""

from __future__ import annotations

import dns.exception
import dns.name
import dns.resolver
from flask import current_app

from ..errors import Unavailable


def resolver() -> dns.resolver.Resolver:
    """A resolver configured from the app (POSTERN_DNS_SERVERS, POSTERN_DNS_TIMEOUT), without a cache. It may be
    shared by threads (it keeps no state between queries), which need no app context to use it."""
    servers = current_app.config.get("DNS_SERVERS") or []
    if servers:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [host for host, _ in servers]
        resolver.port = servers[0][1]
    else:
        resolver = dns.resolver.Resolver()
    resolver.cache = None
    timeout = float(current_app.config.get("DNS_TIMEOUT", 3.0))
    resolver.timeout = timeout
    resolver.lifetime = timeout
    return resolver


def mx_hosts(domain: str, using: dns.resolver.Resolver | None = None) -> list[str]:
    """The MX exchanges of a domain, lower-case without the final dot; [] when it has none."""
    try:
        answer = (using or resolver()).resolve(domain, "MX")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.LifetimeTimeout) as exc:
        raise Unavailable(f"DNS did not answer for {domain} ({exc.__class__.__name__}); try again later.") from exc
    return sorted({r.exchange.to_text(omit_final_dot=True).lower() for r in answer})


def txt(name: str, using: dns.resolver.Resolver | None = None) -> list[str]:
    """The TXT records at a name, each one's strings joined (a long DKIM key is split in 255-byte strings);
    [] when there are none. Bytes that are not ASCII are kept as U+FFFD, never trusted."""
    try:
        answer = (using or resolver()).resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.LifetimeTimeout) as exc:
        raise Unavailable(f"DNS did not answer for {name} ({exc.__class__.__name__}); try again later.") from exc
    return [b"".join(r.strings).decode("ascii", "replace") for r in answer]
