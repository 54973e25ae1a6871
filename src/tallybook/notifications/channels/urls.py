"""Which outbound URLs a notification setting may hold (webhooks, icons).

Only the URL itself is judged here: names are not resolved. Checking the addresses a name
resolves to belongs to delivery, at connect time.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# The numeric host forms libc's inet_aton accepts besides dotted quads: 127.1, 0x7f.1, 2130706433.
_LEGACY_IPV4 = re.compile(r"[0-9a-fx.]+")


def outbound_url_problem(url: str, *, allow_private: bool) -> str | None:
    """Why `url` may not be used, as a sentence that does not repeat the URL; None if it may."""
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        return "A URL may not contain spaces or control characters."
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port
    except ValueError:
        return "This is not a valid URL."
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme.lower() not in schemes or not host:
        wanted = "the http or https scheme" if allow_private else "the https scheme"
        return f"This must be an absolute URL with {wanted} and a host."
    if not allow_private and is_private_host(host):
        return "The URL's host is a local or private address; use a public host."
    return None


def is_private_host(host: str) -> bool:
    """`localhost`, or a literal IP address that is not a public unicast address."""
    host = host.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    address = _literal_ip(host)
    return address is not None and is_non_public(address)


def is_non_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast or address.is_reserved


def _literal_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _LEGACY_IPV4.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None
