"""Mail transports behind one small interface, plus MIME building and DKIM.

A transport takes finished bytes and either accepts them or raises
`TemporaryFailure` (try again later: 4xx, connection trouble) or
`PermanentFailure` (this recipient is refused: 5xx). The queue decides what
each means for the subscriber; transports know nothing of subscribers.
"""

from __future__ import annotations

import contextlib
import ipaddress
import mailbox
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol

from syndicator.config import Config, Email, Smtp
from syndicator.errors import ConfigError

_SIGNED_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"mime-version",
    b"content-type",
)


class TemporaryFailure(Exception):
    """Not sent now; the same message may go through later."""

    def __init__(self, reason: str, *, connection: bool = False) -> None:
        super().__init__(reason)
        self.connection = connection  # the whole connection is gone, not just this message


class PermanentFailure(Exception):
    """The server refused this recipient or message for good (5xx)."""


@dataclass(frozen=True)
class Envelope:
    sender: str
    recipient: str
    data: bytes


class Transport(Protocol):
    def begin(self, envelope: Envelope) -> None:
        """Start the envelope ahead of `send` where that delivers nothing (SMTP's MAIL
        FROM), so the server works on it meanwhile; `send` of another envelope, or
        none, drops it."""

    def send(self, envelope: Envelope) -> None: ...

    def close(self) -> None: ...


def address_of(header_value: str) -> str:
    """The bare address of a `Name <address>` header value, for the SMTP envelope."""
    return parseaddr(header_value)[1] or header_value


class MaildirTransport:
    """Writes each message into a Maildir: what would be sent, readable by any mail client.

    The folder and its parents are made on the first send (the default
    `instance/mail` has no `instance/` on a PostgreSQL set-up); a folder that
    cannot be made or written is a temporary failure, so the mail waits.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.box: mailbox.Maildir | None = None

    def begin(self, envelope: Envelope) -> None:
        """Nothing to start ahead: a file is written whole."""

    def send(self, envelope: Envelope) -> None:
        try:
            if self.box is None:
                self.folder.parent.mkdir(parents=True, exist_ok=True)
                self.box = mailbox.Maildir(self.folder, create=True)
            self.box.add(envelope.data)
        except OSError as error:
            raise TemporaryFailure(
                f"cannot write to the maildir: {error}", connection=True
            ) from None

    def close(self) -> None:
        if self.box is not None:
            self.box.close()


class SmtpTransport:
    """One SMTP connection reused for a batch, reopened when it drops.

    `begin` sends a message's MAIL FROM and leaves its answer to be read by
    `send`: the caller commits the message's `sending` mark during that round
    trip instead of before it. Nothing is delivered before the message's
    bytes and the final dot, which only `send` writes.
    """

    def __init__(self, settings: Smtp) -> None:
        self.settings = settings
        self.connection: smtplib.SMTP | None = None
        self.begun: Envelope | None = None  # its MAIL FROM sent, the answer not yet read

    def _tls_context(self) -> ssl.SSLContext:
        cafile = self.settings.ca_file or None
        return ssl.create_default_context(cafile=cafile)

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        try:
            if settings.security == "tls":
                connection: smtplib.SMTP = smtplib.SMTP_SSL(
                    settings.host,
                    settings.port,
                    timeout=settings.timeout_seconds,
                    context=self._tls_context(),
                )
            else:
                connection = smtplib.SMTP(
                    settings.host, settings.port, timeout=settings.timeout_seconds
                )
                if settings.security == "starttls":
                    connection.starttls(context=self._tls_context())
            if settings.username:
                connection.login(settings.username, settings.password)
        except smtplib.SMTPAuthenticationError as error:
            raise TemporaryFailure(
                f"SMTP login refused: {error.smtp_code}", connection=True
            ) from None
        except (OSError, smtplib.SMTPException) as error:
            raise TemporaryFailure(f"cannot connect to SMTP: {error}", connection=True) from None
        return connection

    def begin(self, envelope: Envelope) -> None:
        connection = self.connection
        if connection is None or self.begun is not None:
            return  # `send` connects, or ends what was begun first
        try:
            connection.ehlo_or_helo_if_needed()
            connection.putcmd("mail", _mail_from(connection, envelope))
        except (OSError, smtplib.SMTPException):
            self._drop()  # `send` connects again
            return
        self.begun = envelope

    def send(self, envelope: Envelope) -> None:
        if self.connection is None:
            self.connection = self._connect()
        try:
            self._send_once(envelope)
        except smtplib.SMTPServerDisconnected:
            # A reused connection may have timed out on the server side: reopen once.
            self.connection = self._connect()
            try:
                self._send_once(envelope)
            except smtplib.SMTPServerDisconnected as error:
                self.connection = None
                raise TemporaryFailure(
                    f"SMTP connection dropped: {error}", connection=True
                ) from None

    def _send_once(self, envelope: Envelope) -> None:
        connection = self.connection
        assert connection is not None
        begun, self.begun = self.begun, None
        try:
            if begun is not None and begun is not envelope:
                _abandon(connection)
            _sendmail(connection, envelope, begun=begun is envelope)
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = error.recipients[envelope.recipient]
            _raise_for(code, reply)
        except smtplib.SMTPSenderRefused as error:
            # The relay refuses our sender: an operator problem, never the reader's fault.
            raise TemporaryFailure(
                f"sender refused: {error.smtp_code} {error.smtp_error!r}"
            ) from None
        except smtplib.SMTPResponseException as error:
            if error.smtp_code == 421:
                self.connection = None
                raise TemporaryFailure("421 service closing", connection=True) from None
            _raise_for(error.smtp_code, error.smtp_error)
        except smtplib.SMTPServerDisconnected:
            raise
        except (OSError, smtplib.SMTPException) as error:
            self._drop()
            raise TemporaryFailure(f"SMTP error: {error}", connection=True) from None

    def _drop(self) -> None:
        self.begun = None
        if self.connection is not None:
            try:
                self.connection.close()
            finally:
                self.connection = None

    def close(self) -> None:
        if self.connection is None:
            return
        with contextlib.suppress(OSError, smtplib.SMTPException):
            if self.begun is not None:
                _abandon(self.connection)
            self.connection.quit()
        self._drop()


def _mail_from(connection: smtplib.SMTP, envelope: Envelope) -> str:
    """The MAIL command's argument, as `smtplib.SMTP.sendmail` writes it."""
    size = f" size={len(envelope.data)}" if connection.has_extn("size") else ""
    return f"FROM:{smtplib.quoteaddr(envelope.sender)}{size}"


def _sendmail(connection: smtplib.SMTP, envelope: Envelope, *, begun: bool) -> None:
    """`smtplib.SMTP.sendmail` for one recipient, whose MAIL FROM may be sent already.

    Raises what `sendmail` raises for the same answers.
    """
    if begun:
        code, answer = connection.getreply()
    else:
        connection.ehlo_or_helo_if_needed()
        code, answer = connection.docmd("mail", _mail_from(connection, envelope))
    if code != 250:
        _end_after_refusal(connection, code)
        raise smtplib.SMTPSenderRefused(code, answer, envelope.sender)
    code, answer = connection.rcpt(envelope.recipient)
    if code not in (250, 251):
        _end_after_refusal(connection, code)
        raise smtplib.SMTPRecipientsRefused({envelope.recipient: (code, answer)})
    code, answer = connection.data(envelope.data)
    if code != 250:
        _end_after_refusal(connection, code)
        raise smtplib.SMTPDataError(code, answer)


def _end_after_refusal(connection: smtplib.SMTP, code: int) -> None:
    """421: the server is closing; otherwise reset the mail transaction, as sendmail does."""
    if code == 421:
        connection.close()
    else:
        connection.rset()


def _abandon(connection: smtplib.SMTP) -> None:
    """End a mail transaction begun for a message that is not sent after all."""
    connection.getreply()
    connection.rset()


def _raise_for(code: int, reply: bytes | str) -> None:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    if 500 <= code < 600:
        raise PermanentFailure(f"{code} {text}")
    raise TemporaryFailure(f"{code} {text}", connection=code == 421)


def transport_for(config: Config) -> Transport:
    """The configured transport, ready to send."""
    if config.email.backend == "smtp":
        return SmtpTransport(config.email.smtp)
    return MaildirTransport(config.path(config.email.maildir))


@dataclass(frozen=True)
class DkimKey:
    domain: bytes
    selector: bytes
    private_key: bytes


def dkim_key(config: Config) -> DkimKey | None:
    """The signing key when [email] dkim_* are all set; None when signing is off."""
    settings: Email = config.email
    if not (settings.dkim_domain and settings.dkim_selector and settings.dkim_private_key_path):
        return None
    path = config.path(settings.dkim_private_key_path)
    try:
        pem = path.read_bytes()
    except OSError as error:
        raise ConfigError(config.source, "email.dkim_private_key_path", str(error)) from None
    return DkimKey(settings.dkim_domain.encode(), settings.dkim_selector.encode(), pem)


def sign(data: bytes, key: DkimKey) -> bytes:
    """Prepend a DKIM-Signature covering the headers receivers check, List-Unsubscribe too."""
    import dkim

    signature: bytes = dkim.sign(
        data,
        key.selector,
        key.domain,
        key.private_key,
        include_headers=list(_SIGNED_HEADERS),
    )
    return signature + data


def undeliverable(sender: str) -> str | None:
    """Why receiving servers would refuse or lose mail from this address; None when it
    looks like an address at a public domain (which SPF and DKIM can then vouch for)."""
    domain = address_of(sender).rpartition("@")[2].strip("[]").rstrip(".").lower()
    if not domain:
        return "it has no domain"
    if domain == "localhost" or domain.endswith(".localhost"):
        return f"{domain} is this machine, not a mail domain"
    try:
        ipaddress.ip_address(domain)
        return f"{domain} is an IP address, not a mail domain"
    except ValueError:
        pass
    if "." not in domain:
        return f"{domain} has no dot, so it is not a public mail domain"
    return None


def hostname_of(address: str) -> str:
    """The domain part of an address, for Message-IDs; the host name as a fallback."""
    domain = address_of(address).rpartition("@")[2]
    return domain or socket.getfqdn()
