"""The outbound guard: https only, public addresses only, checked on the address connected to.

Every address a refused request names is on this machine (loopback), or is never connected
to because the check refuses it first: no test here sends traffic off the machine.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tallybook.notifications.channels.errors import ConfigurationProblem
from tallybook.notifications.channels.outbound import (
    PRIVATE_ADDRESS,
    VettingBackend,
    guarded_client,
)
from tests.fixtures.slack_server import Reply, SlackServer
from tests.fixtures.tls import Certificate


class Listener:
    """A bare listening socket that counts the connections made to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])

    def connections(self) -> int:
        count = 0
        while True:
            try:
                connection, _ = self.sock.accept()
            except TimeoutError:
                return count
            connection.close()
            count += 1


@pytest.fixture
def listener() -> Iterator[Listener]:
    bare = Listener()
    yield bare
    bare.sock.close()


def loopback_names() -> list[str]:
    """This machine's host name when /etc/hosts maps it to loopback (so no DNS is asked)."""
    name = socket.gethostname()
    try:
        with open("/etc/hosts") as hosts:
            entries = [line.split("#", 1)[0].split() for line in hosts]
    except OSError:
        return []
    addresses = {entry[0] for entry in entries if len(entry) > 1 and name in entry[1:]}
    return [name] if addresses and all(a.startswith("127.") for a in addresses) else []


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST.", "127.0.0.1", "127.1", "0x7f.0.0.1", "[::1]", "0.0.0.0"]
)
def test_loopback_is_refused(listener: Listener, host: str) -> None:
    with (
        guarded_client(False) as client,
        pytest.raises(ConfigurationProblem, match="private address"),
    ):
        client.post(f"https://{host}:{listener.port}/hook", json={"text": "hi"})
    assert listener.connections() == 0


@pytest.mark.skipif(not loopback_names(), reason="the host name does not resolve to loopback")
def test_name_resolving_to_loopback_is_refused_at_connect(listener: Listener) -> None:
    """The URL check passes an ordinary name; the address it resolves to is what is refused."""
    [name] = loopback_names()
    with guarded_client(False) as client, pytest.raises(ConfigurationProblem) as caught:
        client.get(f"https://{name}:{listener.port}/")
    assert str(caught.value) == PRIVATE_ADDRESS
    assert listener.connections() == 0


def test_backend_refuses_names_that_resolve_to_loopback(listener: Listener) -> None:
    backend = VettingBackend(allow_private=False)
    with pytest.raises(ConfigurationProblem, match="private address"):
        backend.connect_tcp("localhost", listener.port, timeout=1)
    assert listener.connections() == 0


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "::ffff:127.0.0.1",
        "fe80::1",
        "fd00::1",
        "224.0.0.1",
    ],
)
def test_private_addresses_are_refused_before_connecting(address: str) -> None:
    # A literal resolves without DNS, and the refusal comes before any connection attempt.
    with pytest.raises(ConfigurationProblem):
        VettingBackend(allow_private=False).vetted_addresses(address, 443)


def test_public_addresses_are_vetted() -> None:
    backend = VettingBackend(allow_private=False)
    assert backend.vetted_addresses("93.184.215.14", 443) == ["93.184.215.14"]
    assert backend.vetted_addresses("2606:4700::6810:84e5", 443) == ["2606:4700::6810:84e5"]


def test_plain_http_is_refused(slack_server: SlackServer) -> None:
    with guarded_client(False) as client, pytest.raises(ConfigurationProblem, match="https"):
        client.post(slack_server.webhook_url("x"), json={"text": "hi"})
    assert slack_server.calls == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_allowed_when_private_addresses_are_allowed(slack_server: SlackServer, host: str) -> None:
    url = slack_server.webhook_url("dev").replace("127.0.0.1", host)
    with guarded_client(True) as client:
        response = client.post(url, json={"text": "hi"})
    assert response.status_code == 200 and response.text == "ok"
    assert slack_server.messages[0]["text"] == "hi"


def test_redirects_are_not_followed(slack_server: SlackServer) -> None:
    slack_server.script(Reply(307, "", {"Location": slack_server.webhook_url("b")}), key="hooks")
    with guarded_client(True) as client:
        response = client.post(slack_server.webhook_url("a"), json={"text": "hi"})
    assert response.status_code == 307
    assert slack_server.calls == ["hooks/a"]


def test_proxies_from_the_environment_are_ignored(
    slack_server: SlackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(variable, "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with guarded_client(True) as client:
        response = client.post(slack_server.webhook_url("direct"), json={"text": "hi"})
    assert response.status_code == 200


# --- TLS: the vetted address is connected to, the certificate is checked against the name ----


@pytest.fixture
def https_server(tls_certificate: Certificate) -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = tls_certificate.server_context().wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    yield int(httpd.server_address[1])
    httpd.shutdown()
    httpd.server_close()


def test_tls_certificate_is_checked_against_the_host_name(
    https_server: int, tls_certificate: Certificate
) -> None:
    verify = tls_certificate.client_context()
    with guarded_client(True, verify=verify) as client:
        assert client.get(f"https://localhost:{https_server}/").text == "ok"


@pytest.mark.skipif(not loopback_names(), reason="the host name does not resolve to loopback")
def test_tls_name_mismatch_fails_although_the_address_is_in_the_certificate(
    https_server: int, tls_certificate: Certificate
) -> None:
    """127.0.0.1 is in the certificate, the host name is not: checking the name must fail."""
    [name] = loopback_names()
    verify = tls_certificate.client_context()
    with guarded_client(True, verify=verify) as client, pytest.raises(httpx.ConnectError):
        client.get(f"https://{name}:{https_server}/")
