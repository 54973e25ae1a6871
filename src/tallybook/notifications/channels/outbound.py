"""HTTP to URLs that users give us (Slack incoming webhooks), with DESIGN §6's guard.

Outbound URLs must be https and connect to public addresses, and the check is made on the
address actually connected to: a name that resolves to a private or loopback address, now
or after the URL was saved (DNS rebinding), is refused at connect time. The network backend
below resolves the name itself, refuses when *any* of its addresses is not public (a name
that mixes public and private addresses is not one to trust), and connects to a vetted
address. TLS still verifies the certificate against the URL's host name, because httpcore
starts TLS with the origin's host, not the address.

Redirects are never followed (a redirect could point anywhere), and no proxy is taken from
the environment (a proxy would connect on our behalf, to an address we never saw). With
``allow_private`` (development and tests) plain http and private addresses are allowed.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Iterable
from functools import lru_cache

import httpcore
import httpx

from tallybook.notifications.channels.errors import ConfigurationProblem
from tallybook.notifications.channels.urls import is_non_public, outbound_url_problem

PRIVATE_ADDRESS = (
    "The URL's host resolves to a local or private address; only public hosts are allowed."
)
MALFORMED_URL = "The URL cannot be requested: its host or port is malformed."

URL_ERRORS: tuple[type[Exception], ...] = (
    httpx.InvalidURL,
    httpx.UnsupportedProtocol,
    UnicodeError,
)
"""What the HTTP client raises for a URL it cannot request (UnicodeError: a host that IDNA
cannot encode). A stored URL does not change between tries, so none of these is retried."""


def malformed_url(error: Exception) -> ConfigurationProblem | None:
    """``ConfigurationProblem`` when ``error`` is the client refusing a URL's form, else None:
    a channel's ``classify`` asks this first."""
    return ConfigurationProblem(MALFORMED_URL) if isinstance(error, URL_ERRORS) else None


def request_url(url: str) -> httpx.URL:
    """``url`` parsed as the client will request it; ``ConfigurationProblem`` when it cannot
    be (a URL stored before the API refused such URLs, or written to the database directly)."""
    try:
        return httpx.URL(url)
    except (httpx.InvalidURL, ValueError):  # UnicodeError is a ValueError
        raise ConfigurationProblem(MALFORMED_URL) from None


class VettingBackend(httpcore.NetworkBackend):
    """Resolves, vets and connects; refusal is a ``ConfigurationProblem``."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self.vetted_addresses(host, port)
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # vetted_addresses never returns an empty list
        raise failure

    def vetted_addresses(self, host: str, port: int) -> list[str]:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise httpcore.ConnectError("The host name could not be resolved.") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not addresses:
            raise httpcore.ConnectError("The host name has no address.")
        if not self.allow_private and any(_non_public(address) for address in addresses):
            raise ConfigurationProblem(PRIVATE_ADDRESS)
        return addresses

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise ConfigurationProblem("Unix sockets are not an outbound destination.")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _non_public(address: str) -> bool:
    try:
        return is_non_public(ipaddress.ip_address(address.split("%", 1)[0]))
    except ValueError:
        return True


class GuardedTransport(httpx.HTTPTransport):
    """An ``HTTPTransport`` whose connections go through ``VettingBackend``."""

    def __init__(self, *, allow_private: bool, verify: ssl.SSLContext | bool = True) -> None:
        super().__init__(verify=verify, trust_env=False)
        self.allow_private = allow_private
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            network_backend=VettingBackend(allow_private=allow_private),
            max_connections=10,
            max_keepalive_connections=10,
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        problem = outbound_url_problem(str(request.url), allow_private=self.allow_private)
        if problem is not None:
            raise ConfigurationProblem(problem)
        return super().handle_request(request)


@lru_cache(maxsize=1)
def _default_ssl_context() -> ssl.SSLContext:
    """Loading the trust store takes tens of milliseconds; one context serves every client
    (an ``SSLContext`` may be shared between threads)."""
    return httpx.create_ssl_context(trust_env=False)


def guarded_client(
    allow_private: bool, *, timeout: float = 10.0, verify: ssl.SSLContext | bool = True
) -> httpx.Client:
    """A client for user-given URLs: https to public addresses only, no redirects, no proxy.

    ``verify`` is for tests that serve TLS with their own certificate.
    """
    if verify is True:
        verify = _default_ssl_context()
    return httpx.Client(
        transport=GuardedTransport(allow_private=allow_private, verify=verify),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )
