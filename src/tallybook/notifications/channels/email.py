"""E-mail delivery over SMTP: one card, or a digest of several, with inline charts.

The message is multipart/alternative (text, then HTML); the HTML part is multipart/related
with each chart as an inline PNG referenced by ``cid:``. The Message-ID is derived from the
caller's id, so a resend after a crash carries the same id and mail clients fold the two.

Errors: an SMTP 5xx answer (recipient, sender or message refused, login refused) is a
configuration problem; 4xx answers, refused or dropped connections and timeouts are
transient. Server reply texts are not repeated in error messages (a server may echo what it
was sent, such as an AUTH line); the codes are.
"""

from __future__ import annotations

import re
import smtplib
import ssl
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from types import MappingProxyType
from typing import Any

from sqlalchemy.orm import Session

from tallybook.notifications.cards import render
from tallybook.notifications.cards.data import Card
from tallybook.notifications.channels.base import DeliveryContext, Outgoing
from tallybook.notifications.channels.errors import (
    ConfigurationProblem,
    DeliveryError,
    TransientProblem,
    unexpected,
)
from tallybook.notifications.models import Notification, NotificationSetting
from tallybook.settings import Settings, SmtpSecurity

_ENHANCED_STATUS = re.compile(rb"^\s*([245]\.\d{1,3}\.\d{1,3})\b")
_CID_UNSAFE = re.compile(r"[^A-Za-z0-9.\-]")


class EmailChannel:
    """One e-mail per card; a bundleable setting's cards of one window go as one digest."""

    label = "email"
    setting_fields: tuple[str, ...] = ("email", "is_bundleable")
    address_fields: tuple[str, ...] = ("email",)
    stored_as: Mapping[str, str] = MappingProxyType({})
    delivers_in_transaction = False

    def check_setting(
        self,
        session: Session,
        organization_id: uuid.UUID,
        values: dict[str, Any],
        current: NotificationSetting | None,
        *,
        allow_private: bool,
    ) -> dict[str, Any]:
        return values  # the address was normalised when the payload was parsed

    def bundle_key(self, setting: NotificationSetting) -> str | None:
        if setting.is_bundleable and setting.email:
            return setting.email.lower()
        return None

    def prepare(
        self, rows: list[Notification], settings: Mapping[uuid.UUID, NotificationSetting]
    ) -> list[list[Notification]]:
        """A digest's cards by the address their settings have now (one may have changed
        since the card was queued)."""
        groups: dict[str, list[Notification]] = {}
        for row in rows:
            groups.setdefault((settings[row.setting_id].email or "").lower(), []).append(row)
        return list(groups.values())

    def deliver(self, outgoing: Outgoing, context: DeliveryContext) -> None:
        send_email(
            context.settings,
            outgoing.setting.email or "",
            outgoing.cards,
            [render.chart_for(card) for card in outgoing.cards],
            message_id=outgoing.message_id,
            timeout=context.settings.delivery_timeout,
        )

    def classify(self, error: Exception) -> DeliveryError:
        return unexpected(error)


def send_email(
    settings: Settings,
    to: str,
    cards: Sequence[Card],
    charts: Sequence[bytes | None],
    *,
    message_id: str,
    timeout: float = 30.0,
) -> None:
    message = build_message(settings, to, cards, charts, message_id=message_id)
    try:
        _deliver(settings, to, message, timeout)
    except smtplib.SMTPRecipientsRefused as exc:
        raise _refused("the recipient", [code for code, _ in exc.recipients.values()]) from None
    except smtplib.SMTPResponseException as exc:
        raise _answer_problem(exc) from None
    except smtplib.SMTPNotSupportedError:
        raise ConfigurationProblem(
            "The SMTP server does not support what the settings ask for (STARTTLS or login)."
        ) from None
    except ssl.SSLCertVerificationError:
        raise ConfigurationProblem(
            "The SMTP server's TLS certificate could not be verified."
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
            raise TransientProblem("The SMTP server did not answer in time.") from None
        raise TransientProblem(f"Could not reach the SMTP server ({type(exc).__name__}).") from None


def build_message(
    settings: Settings,
    to: str,
    cards: Sequence[Card],
    charts: Sequence[bytes | None],
    *,
    message_id: str,
) -> EmailMessage:
    if not cards or len(cards) != len(charts):
        raise ValueError("one chart (or None) per card, and at least one card")
    ident = message_id_header(message_id, settings.smtp_from)
    cids = [_cid(ident, index) if chart else None for index, chart in enumerate(charts)]
    message = EmailMessage()
    if len(cards) == 1:
        message["Subject"] = render.card_subject(cards[0])
        message.set_content(render.card_text(cards[0]))
        message.add_alternative(render.card_html(cards[0], cids[0]), subtype="html")
    else:
        message["Subject"] = render.digest_subject(cards)
        message.set_content(render.digest_text(cards))
        message.add_alternative(render.digest_html(cards, cids), subtype="html")
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = ident
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None
    for cid, chart in zip(cids, charts, strict=True):
        if cid and chart:
            html_part.add_related(
                chart, maintype="image", subtype="png", cid=f"<{cid}>", filename="chart.png"
            )
    return message


def message_id_header(message_id: str, sender: str) -> str:
    """``<id@domain>``: taken as is when it has an ``@``, else under the sender's domain."""
    bare = message_id.strip().strip("<>")
    if "@" not in bare:
        domain = parseaddr(sender)[1].rpartition("@")[2] or "tallybook.invalid"
        bare = f"{bare}@{domain}"
    return f"<{bare}>"


def _cid(ident: str, index: int) -> str:
    local, _, domain = ident.strip("<>").partition("@")
    return f"chart{index}.{_CID_UNSAFE.sub('-', local)}@{_CID_UNSAFE.sub('-', domain)}"


def _deliver(settings: Settings, to: str, message: EmailMessage, timeout: float) -> None:
    sender = parseaddr(settings.smtp_from)[1] or settings.smtp_from
    with _connect(settings, timeout) as smtp:
        if settings.smtp_user:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            smtp.login(settings.smtp_user, password)
        smtp.send_message(message, from_addr=sender, to_addrs=[to])
        _quit_quietly(smtp)


def _connect(settings: Settings, timeout: float) -> smtplib.SMTP:
    host, port = settings.smtp_host, settings.smtp_port
    security = SmtpSecurity(settings.smtp_security)
    if security == SmtpSecurity.TLS:
        context = ssl.create_default_context()
        return smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    smtp = smtplib.SMTP(host, port, timeout=timeout)
    if security == SmtpSecurity.STARTTLS:
        try:
            smtp.starttls(context=ssl.create_default_context())
        except BaseException:
            smtp.close()
            raise
    return smtp


def _quit_quietly(smtp: smtplib.SMTP) -> None:
    """The message was accepted; a failing QUIT must not turn that into a retry."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _answer_problem(exc: smtplib.SMTPResponseException) -> DeliveryError:
    what = {
        smtplib.SMTPSenderRefused: "the sender address",
        smtplib.SMTPDataError: "the message",
        smtplib.SMTPAuthenticationError: "the login",
        smtplib.SMTPConnectError: "the connection",
        smtplib.SMTPHeloError: "the greeting",
    }.get(type(exc), "a command")
    return _refused(what, [exc.smtp_code], exc.smtp_error)


def _refused(what: str, codes: list[int], reply: bytes | str = b"") -> DeliveryError:
    raw = reply.encode("utf-8", "replace") if isinstance(reply, str) else reply
    status = _ENHANCED_STATUS.match(raw or b"")
    detail = ", ".join(str(code) for code in codes)
    if status:
        detail += f" {status.group(1).decode()}"
    if any(code >= 500 for code in codes):
        return ConfigurationProblem(f"The SMTP server refused {what} ({detail}).")
    return TransientProblem(f"The SMTP server turned down {what} for now ({detail}).")
