"""Real SMTP servers for tests: aiosmtpd on 127.0.0.1 (plain, STARTTLS, TLS), scripted replies."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from factories import add_post, add_subscriber


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Received:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore[return-value]


# A rule sees the recipient address and answers an SMTP reply line to refuse, or None.
Rule = Callable[[str], str | None]


class Recorder:
    """The handler: keeps what it accepted; `rcpt_rule`/`data_rule` script refusals."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refused: list[Received] = []  # what a scripted refusal turned away at DATA
        self.rcpt_rule: Rule | None = None
        self.data_rule: Rule | None = None
        self.connections = 0
        self.lock = threading.Lock()

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        with self.lock:
            self.connections += 1
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.rcpt_rule and (reply := self.rcpt_rule(address)):
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        recipient = envelope.rcpt_tos[0]
        if self.data_rule and (reply := self.data_rule(recipient)):
            with self.lock:
                self.refused.append(self._received(envelope))
            return reply
        with self.lock:
            self.received.append(self._received(envelope))
        return "250 Message accepted for delivery"

    @staticmethod
    def _received(envelope: Any) -> Received:
        return Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)

    def to(self, address: str) -> list[EmailMessage]:
        return [item.message for item in self.received if address in item.recipients]


@dataclass
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


def self_signed(folder: Path) -> Certificate:
    """A certificate for 127.0.0.1 / localhost, made here (the test trusts it as its CA)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return Certificate(cert_path, key_path)


def _authenticator(username: str, password: str) -> Callable[..., AuthResult]:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == username
            and data.password.decode() == password
        )
        return AuthResult(success=ok)

    return check


@contextmanager
def smtp_server(
    *,
    port: int | None = None,
    recorder: Recorder | None = None,
    starttls: Certificate | None = None,
    tls: Certificate | None = None,
    login: tuple[str, str] | None = None,
) -> Iterator[tuple[Recorder, int]]:
    """A running aiosmtpd on 127.0.0.1; stopped on exit."""
    recorder = recorder or Recorder()
    port = port or free_port()
    options: dict[str, Any] = {}
    if starttls:
        options.update(tls_context=starttls.server_context(), require_starttls=True)
    if tls:
        options.update(ssl_context=tls.server_context())
    if login:
        options.update(authenticator=_authenticator(*login), auth_require_tls=True)
    controller = Controller(recorder, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield recorder, port
    finally:
        controller.stop()


def smtp_email_config(port: int, **smtp: Any) -> dict[str, Any]:
    """The [email] section for sending to a test server (plain SMTP unless told)."""
    return {
        "backend": "smtp",
        "from": "News Desk <news@example.org>",
        "smtp": {
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "timeout_seconds": 5,
            **smtp,
        },
    }


def reader_with_one_new_post(core: Any, clock: Any, email: str = "ann@example.org") -> Any:
    """A confirmed reader, a post a minute later, then a day on: one digest is due."""
    subscriber = add_subscriber(core, email)
    clock.advance(minutes=1)
    add_post(core, "Post one")
    clock.advance(days=1)
    return subscriber
