"""E-mail delivery against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

import pytest

from tallybook.notifications.cards import render
from tallybook.notifications.cards.data import Card
from tallybook.notifications.channels.email import send_email
from tallybook.notifications.channels.errors import ConfigurationProblem, TransientProblem
from tests.fixtures.smtp_server import SmtpServer
from tests.fixtures.tls import Certificate
from tests.notifications.factories import alert, snapshot

TO = "team@example.com"
PASSWORD = "s3cret-smtp-pass"


@pytest.fixture(scope="module")
def chart() -> bytes:
    png = render.chart_png(snapshot())
    assert png is not None
    return png


def only_message(server: SmtpServer) -> EmailMessage:
    [received] = server.received
    assert received.rcpt_tos == (TO,)
    assert received.mail_from == "reports@tallybook.test"
    return received.message


def inline_images(message: EmailMessage) -> dict[str, bytes]:
    return {
        str(part["Content-ID"]).strip("<>"): part.get_content()
        for part in message.walk()
        if part.get_content_type() == "image/png"
    }


def html_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("html",))
    assert body is not None
    return str(body.get_content())


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def test_one_card_with_its_chart(smtp_server: SmtpServer, chart: bytes) -> None:
    card = snapshot()
    send_email(smtp_server.settings(), TO, [card], [chart], message_id="n-42@tallybook")
    message = only_message(smtp_server)
    assert message["Message-ID"] == "<n-42@tallybook>"
    assert message["From"] == "Tallybook <reports@tallybook.test>"
    assert message["To"] == TO
    assert message["Subject"] == render.card_subject(card)
    assert abs(time.time() - parsedate_to_datetime(message["Date"]).timestamp()) < 60
    assert message.get_content_type() == "multipart/alternative"
    plain, related = message.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    assert [p.get_content_type() for p in related.iter_parts()] == ["text/html", "image/png"]
    for fact in ("Daily signups", "Value: 120", "at least 100", "Status: reached", "+20 (+20.0%)"):
        assert fact in text_of(message)
    [(cid, data)] = inline_images(message).items()
    assert data == chart
    assert f'src="cid:{cid}"' in html_of(message)


def test_without_a_chart_there_is_no_image(smtp_server: SmtpServer) -> None:
    send_email(smtp_server.settings(), TO, [alert()], [None], message_id="n-1@tallybook")
    message = only_message(smtp_server)
    assert inline_images(message) == {}
    assert "<img" not in html_of(message)
    assert "so far (up to 14:35)" in text_of(message)


def test_message_id_without_a_domain_takes_the_senders(smtp_server: SmtpServer) -> None:
    send_email(smtp_server.settings(), TO, [alert()], [None], message_id="n-7")
    assert only_message(smtp_server)["Message-ID"] == "<n-7@tallybook.test>"


def test_a_resend_has_the_same_message_id(smtp_server: SmtpServer) -> None:
    for _ in range(2):
        send_email(smtp_server.settings(), TO, [alert()], [None], message_id="n-9@tallybook")
    first, second = (r.message["Message-ID"] for r in smtp_server.received)
    assert first == second == "<n-9@tallybook>"


def test_digest_of_three_cards_is_one_message(smtp_server: SmtpServer, chart: bytes) -> None:
    cards = [alert(), snapshot(), snapshot(target="Weekly demos")]
    send_email(smtp_server.settings(), TO, cards, [chart, None, chart], message_id="d-1@tallybook")
    message = only_message(smtp_server)
    assert message["Subject"].startswith("3 Tallybook notifications")
    html, text = html_of(message), text_of(message)
    for card in cards:
        assert card.target in html and card.target in text
    images = inline_images(message)
    assert len(images) == 2
    for cid in images:
        assert f'src="cid:{cid}"' in html
    assert html.count("<h2") == 3


def test_user_text_is_escaped_in_html(smtp_server: SmtpServer) -> None:
    card = snapshot(target="<script>alert(1)</script>")
    send_email(smtp_server.settings(), TO, [card], [None], message_id="n-2@tallybook")
    html = html_of(only_message(smtp_server))
    assert "<script>" not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize("stage", ["rcpt", "data"])
def test_5xx_is_a_configuration_problem(smtp_server: SmtpServer, stage: str) -> None:
    smtp_server.refuse_next(code=550, at=stage)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationProblem, match="550") as caught:
        send_email(smtp_server.settings(), TO, [snapshot()], [None], message_id="n@x")
    assert smtp_server.received == []
    assert "Daily signups" not in str(caught.value)


@pytest.mark.parametrize("stage", ["rcpt", "data"])
def test_4xx_is_transient(smtp_server: SmtpServer, stage: str) -> None:
    smtp_server.refuse_next(code=451, at=stage)  # type: ignore[arg-type]
    with pytest.raises(TransientProblem, match="451"):
        send_email(smtp_server.settings(), TO, [snapshot()], [None], message_id="n@x")
    send_email(smtp_server.settings(), TO, [snapshot()], [None], message_id="n@x")
    assert len(smtp_server.received) == 1


def test_server_down_is_transient_and_back_on_the_same_port(smtp_server: SmtpServer) -> None:
    settings = smtp_server.settings()
    smtp_server.stop()
    with pytest.raises(TransientProblem, match="Could not reach"):
        send_email(settings, TO, [snapshot()], [None], message_id="n@x")
    smtp_server.start()
    send_email(settings, TO, [snapshot()], [None], message_id="n@x")
    assert len(smtp_server.received) == 1


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections but never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        yield listener.getsockname()[1]


def test_silent_server_times_out_as_transient(smtp_server: SmtpServer, silent_port: int) -> None:
    settings = smtp_server.settings(smtp_port=silent_port)
    started = time.monotonic()
    with pytest.raises(TransientProblem, match="in time"):
        send_email(settings, TO, [snapshot()], [None], message_id="n@x", timeout=0.3)
    assert time.monotonic() - started < 3


@pytest.fixture
def login_server() -> Iterator[SmtpServer]:
    server = SmtpServer(login=("tallybook", PASSWORD)).start()
    yield server
    server.stop()


def test_login(login_server: SmtpServer) -> None:
    settings = login_server.settings(smtp_user="tallybook", smtp_password=PASSWORD)
    send_email(settings, TO, [snapshot()], [None], message_id="n@x")
    assert login_server.logins == ["tallybook"]
    assert len(login_server.received) == 1


def test_wrong_password_is_a_configuration_problem(login_server: SmtpServer) -> None:
    settings = login_server.settings(smtp_user="tallybook", smtp_password="wrong-" + PASSWORD)
    with pytest.raises(ConfigurationProblem, match="login") as caught:
        send_email(settings, TO, [snapshot()], [None], message_id="n@x")
    assert PASSWORD not in str(caught.value)
    assert re.search(r"\b535\b", str(caught.value))
    assert login_server.received == []


@pytest.fixture
def trust(tls_certificate: Certificate, monkeypatch: pytest.MonkeyPatch) -> Certificate:
    """Make the test certificate trusted the way an operator would: SSL_CERT_FILE."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_certificate.cert))
    return tls_certificate


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_modes(trust: Certificate, security: str) -> None:
    context = trust.server_context()
    options = {"starttls": context} if security == "starttls" else {"implicit_tls": context}
    server = SmtpServer(**options).start()  # type: ignore[arg-type]
    try:
        settings = server.settings(smtp_security=security, smtp_host="localhost")
        send_email(settings, TO, [snapshot()], [None], message_id="n@x")
        assert len(server.received) == 1
    finally:
        server.stop()


def test_untrusted_certificate_is_a_configuration_problem(tls_certificate: Certificate) -> None:
    server = SmtpServer(starttls=tls_certificate.server_context()).start()
    try:
        settings = server.settings(smtp_security="starttls", smtp_host="localhost")
        with pytest.raises(ConfigurationProblem, match="certificate"):
            send_email(settings, TO, [snapshot()], [None], message_id="n@x")
        assert server.received == []
    finally:
        server.stop()


def test_cards_and_charts_must_pair_up(smtp_server: SmtpServer) -> None:
    cards: list[Card] = [snapshot(), alert()]
    with pytest.raises(ValueError, match="one chart"):
        send_email(smtp_server.settings(), TO, cards, [None], message_id="n@x")
