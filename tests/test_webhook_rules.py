"""The pure parts of webhooks: the SSRF classifier, signatures, retry and disable rules."""

from __future__ import annotations

import base64
import dataclasses
import ipaddress
import random
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import standardwebhooks
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from webhook_support import Receiver

from syndicator import config as config_module
from syndicator.delivery import httpclient, retries, ssrf
from syndicator.errors import ConfigError
from syndicator.webhooks import signing

REFUSED = {
    "127.0.0.1": "loopback",
    "127.255.0.9": "loopback",
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "172.31.255.254": "private",
    "192.168.1.1": "private",
    "100.64.0.1": "carrier-grade NAT",
    "100.127.255.254": "carrier-grade NAT",
    "169.254.169.254": "link-local",
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast",
    "0.0.0.0": "unspecified",
    "240.0.0.1": "reserved",
    "255.255.255.255": "reserved",
    "192.0.2.10": "reserved",  # documentation range, not routable
    "::1": "loopback",
    "::": "unspecified",
    "fc00::1": "unique local",
    "fd12:3456::1": "unique local",
    "fe80::1": "link-local",
    "febf::1": "link-local",
    "ff02::1": "multicast",
    "::ffff:127.0.0.1": "loopback (IPv4-mapped)",
    "::ffff:10.0.0.1": "private (IPv4-mapped)",
    "::ffff:169.254.169.254": "link-local (IPv4-mapped)",
    "64:ff9b::a00:1": "private (IPv4-mapped)",
    "2001:db8::1": "reserved",
    "::ffff:0:7f00:1": "loopback (IPv4-mapped)",  # IPv4-translated
    "::127.0.0.1": "loopback (IPv4-mapped)",  # IPv4-compatible
    "64:ff9b:1::a00:1": "private (IPv4-mapped)",  # local-use NAT64
    "2002:c0a8:101::1": "private (IPv4-mapped)",  # 6to4 of 192.168.1.1
}
ALLOWED = ["93.184.216.34", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111"]


@pytest.mark.parametrize("address", sorted(REFUSED))
def test_every_non_public_range_is_refused_with_its_name(address: str) -> None:
    reason = ssrf.classify(ipaddress.ip_address(address))
    assert reason is not None and REFUSED[address] in reason


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_pass(address: str) -> None:
    assert ssrf.classify(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.com/x", "only http:// and https://"),
        ("file:///etc/passwd", "only http:// and https://"),
        ("http:///nohost", "no host"),
        ("https://user:pw@example.com/", "credentials"),
        ("http://example.com:99999/", "not a valid URL"),
        ("http://127.0.0.1:8080/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://localhost/hook", "loopback"),
        ("http://0x7f.1/hook", "loopback"),
        ("http://example.com/a b", "spaces or control characters"),
        (
            "http://example.com/a\x7f",
            "spaces or control characters",
        ),  # an IP written in hex still resolves to loopback
    ],
)
def test_urls_that_cannot_be_targets_are_refused(url: str, problem: str) -> None:
    with pytest.raises(ssrf.TargetRefused, match=problem):
        ssrf.check(url, allow_private=False)


def test_allowing_private_targets_pins_the_resolved_address() -> None:
    target = ssrf.check("http://localhost:8080/hook?x=1", allow_private=True)
    assert (target.host, target.port, target.path) == ("localhost", 8080, "/hook?x=1")
    assert ipaddress.ip_address(target.address).is_loopback


def test_secret_is_whsec_and_32_random_bytes() -> None:
    first, second = signing.new_secret(), signing.new_secret()
    assert first.startswith("whsec_") and first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32


def test_signatures_verify_with_the_standardwebhooks_package() -> None:
    old, new = signing.new_secret(), signing.new_secret()
    body = b'{"type":"post.published","data":{"title":"caf\xc3\xa9"}}'
    now = int(datetime.now(UTC).timestamp())
    headers = signing.headers([new, old], "msg_abc", now, body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert standardwebhooks.Webhook(secret).verify(body, headers)["data"]["title"] == "café"
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(signing.new_secret()).verify(body, headers)
    tampered = body.replace(b"caf", b"cof")
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(new).verify(tampered, headers)


T0 = datetime(2026, 1, 1, tzinfo=UTC)
SCHEDULE = [0, 5, 300, 1800]


def outcome(status: int | None, **fields: object) -> retries.Outcome:
    return retries.Outcome(attempted_at=T0, duration_ms=1, status_code=status, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_any_2xx_is_success(status: int) -> None:
    decision = retries.decide(outcome(status), 1, SCHEDULE, random.Random(1))
    assert decision == retries.RetryDecision(retries.Verdict.SUCCEEDED)


@pytest.mark.parametrize("attempts_made", [1, 2, 3])
def test_failures_wait_the_scheduled_delay_within_twenty_percent(attempts_made: int) -> None:
    planned = SCHEDULE[attempts_made]
    delays = {
        (retries.decide(outcome(500), attempts_made, SCHEDULE, random.Random(seed))).next_attempt_at
        - T0
        for seed in range(50)
    }
    assert len(delays) > 1  # jittered, so retries of many messages do not all arrive at once
    for delay in delays:
        assert timedelta(seconds=planned * 0.8) <= delay <= timedelta(seconds=planned * 1.2)


def test_the_schedule_ends_in_failure_and_410_stops_at_once() -> None:
    rng = random.Random(1)
    assert retries.decide(outcome(500), 4, SCHEDULE, rng).verdict == retries.Verdict.FAILED
    assert retries.decide(outcome(None, error="x"), 4, SCHEDULE, rng).verdict == "failed"
    assert retries.decide(outcome(410), 1, SCHEDULE, rng).verdict == retries.Verdict.GONE
    assert retries.decide(outcome(302), 1, SCHEDULE, rng).verdict == retries.Verdict.RETRY


def test_retry_after_is_honoured_on_429_and_503_within_bounds() -> None:
    rng = random.Random(1)
    later = retries.decide(outcome(429, retry_after="120"), 1, SCHEDULE, rng)
    assert later.next_attempt_at == T0 + timedelta(seconds=120)
    http_date = retries.decide(
        outcome(503, retry_after="Thu, 01 Jan 2026 00:10:00 GMT"), 1, SCHEDULE, rng
    )
    assert http_date.next_attempt_at == T0 + timedelta(minutes=10)
    capped = retries.decide(outcome(429, retry_after="999999999"), 1, SCHEDULE, rng)
    assert capped.next_attempt_at == T0 + timedelta(seconds=max(SCHEDULE))
    ignored = retries.decide(outcome(500, retry_after="120"), 1, SCHEDULE, rng)
    assert ignored.next_attempt_at is not None
    assert ignored.next_attempt_at - T0 <= timedelta(seconds=6)
    garbage = retries.decide(outcome(429, retry_after="soon"), 1, SCHEDULE, rng)
    assert garbage.next_attempt_at is not None
    assert garbage.next_attempt_at - T0 <= timedelta(seconds=6)


def test_an_endpoint_is_disabled_only_after_days_of_nothing_but_failures() -> None:
    assert not retries.should_disable(None, T0, 5)
    assert not retries.should_disable(T0, T0 + timedelta(days=4, hours=23), 5)
    assert retries.should_disable(T0, T0 + timedelta(days=5), 5)


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"retry_schedule": []}, "webhooks.retry_schedule"),
        ({"retry_schedule": [0, -5]}, "webhooks.retry_schedule"),
        ({"timeout_seconds": 0}, "webhooks.timeout_seconds"),
        ({"disable_after_days": -1}, "webhooks.disable_after_days"),
        ({"per_endpoint_concurrency": 0}, "webhooks.per_endpoint_concurrency"),
    ],
)
def test_unusable_webhook_settings_stop_the_start(settings: dict, key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        config_module.from_mapping({"webhooks": settings}, env={})
    assert raised.value.key == key


def test_the_client_connects_to_the_checked_address_with_the_real_host_name() -> None:
    with Receiver() as receiver:
        # hooks.invalid cannot resolve: the request can only arrive through the pinned address
        target = ssrf.Target("http", "hooks.invalid", receiver.port, "127.0.0.1", "/in?x=1")
        with httpclient.Client(timeout=2, user_agent="syndicator/test") as client:
            answer = client.post(target, {"Content-Type": "application/json"}, b"{}")
    (request,) = receiver.received
    assert answer.status_code == 200 and answer.prefix == b"ok"
    assert request.headers["host"] == f"hooks.invalid:{receiver.port}"
    assert request.path == "/in?x=1" and request.body == b"{}"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for hooks.test, written as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("hooks.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def tls_receiver(certificate: tuple[Path, Path]) -> Receiver:
    receiver = Receiver()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
    return receiver


def test_https_goes_to_the_pinned_address_with_sni_and_a_verified_certificate(
    certificate: tuple[Path, Path],
) -> None:
    trusting = ssl.create_default_context(cafile=str(certificate[0]))
    target = ssrf.Target("https", "hooks.test", 0, "127.0.0.1", "/secure")
    with tls_receiver(certificate) as receiver:
        target = dataclasses.replace(target, port=receiver.port)
        with httpclient.Client(timeout=2, user_agent="t", tls=trusting) as client:
            answer = client.post(target, {}, b"{}")
        untrusting = httpclient.Client(timeout=2, user_agent="t")  # system CAs only
        with untrusting, pytest.raises(httpclient.SendError, match="verify failed"):
            untrusting.post(target, {}, b"{}")
    assert answer.status_code == 200
    assert [r.headers["host"] for r in receiver.received] == [f"hooks.test:{receiver.port}"]
