"""Which outbound URLs a notification setting may hold (webhooks, icons).

Only the URL itself is judged here: names are not resolved. Checking the addresses a name
resolves to belongs to delivery, at connect time.

A host is judged in the forms it is actually used in, never as typed: the form a browser
makes of it (UTS #46: NFKC mapping, full-width digits and ideographic full stops to ASCII,
IDNA) and the one the HTTP client (httpx) connects to. ``https://１２７.０.０.１/`` is
therefore loopback, and a URL the client cannot parse is refused here rather than failing
at every delivery.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

import httpx
import idna

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# The numeric host forms libc's inet_aton accepts besides dotted quads: 127.1, 0x7f.1, 2130706433.
_LEGACY_IPV4 = re.compile(r"[0-9a-fx.]+")


PRIVATE_HOST = "The URL's host is a local or private address; use a public host."


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
    try:
        as_browser = browser_host(host)
    except ValueError:  # idna's errors are UnicodeErrors
        return "This is not a valid URL: its host is not a valid host name."
    if not allow_private and is_private_host(as_browser):
        return PRIVATE_HOST
    try:
        as_client = httpx.URL(url).raw_host.decode("ascii")
    except (httpx.InvalidURL, ValueError):
        return "This is not a valid URL: its host is not a valid host name."
    if not allow_private and is_private_host(as_client):
        return PRIVATE_HOST
    return None


def browser_host(host: str) -> str:
    """The ASCII host a browser makes of ``host``: IP literals as they are, other names
    mapped by UTS #46 (NFKC, case folding, ideographic full stops) and IDNA-encoded."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if host.isascii():
        return host.lower()
    return idna.encode(host, uts46=True).decode("ascii")


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
