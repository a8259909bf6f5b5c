"""The SSRF guard: which addresses a webhook may reach, and pinning the one checked.

A URL is refused when any address its host resolves to is not a public
unicast address. The address that passed the check is the one the sender
connects to, so a DNS answer that changes between check and connect (DNS
rebinding) cannot redirect the request.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from syndicator.errors import SyndicatorError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAMED_RANGES: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "private (carrier-grade NAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.168.0.0/16", "private"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("fc00::/7", "private (unique local)"),
    ("fe80::/10", "link-local"),
    ("ff00::/8", "multicast"),
)
_RANGES = tuple((ipaddress.ip_network(net), reason) for net, reason in _NAMED_RANGES)


class TargetRefused(SyndicatorError):
    """A webhook URL this service will not send to; the message says why."""


@dataclass(frozen=True)
class Target:
    """A checked URL and the address to connect to."""

    scheme: str
    host: str
    port: int
    address: str
    path: str


def classify(address: IPAddress) -> str | None:
    """Why an address may not be reached (None when it is public unicast)."""
    embedded = _embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
    if embedded is not None:
        reason = classify(embedded)
        return f"{reason} (IPv4-mapped)" if reason else None
    for network, reason in _RANGES:
        if address.version == network.version and address in network:
            return reason
    if not address.is_global:
        return "reserved"
    return None


_IPV4_IN_LOW_BITS = tuple(
    ipaddress.ip_network(net)
    for net in ("::ffff:0:0/96", "::ffff:0:0:0/96", "::/96", "64:ff9b::/96", "64:ff9b:1::/48")
)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside a mapped, translated, compatible, NAT64 or 6to4 address."""
    if address in (ipaddress.IPv6Address("::"), ipaddress.IPv6Address("::1")):
        return None
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in network for network in _IPV4_IN_LOW_BITS):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def parse(url: str) -> SplitResult:
    """Split a webhook URL; TargetRefused unless it is absolute http(s) with a host."""
    try:
        parts = urlsplit(url.strip())
        _ = parts.port  # raises on a port that is not a number in range
    except ValueError as exc:
        raise TargetRefused(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("only http:// and https:// URLs can receive webhooks")
    if not parts.hostname:
        raise TargetRefused("the URL has no host")
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in url.strip()):
        raise TargetRefused("the URL contains spaces or control characters")
    if parts.username or parts.password:
        raise TargetRefused("credentials in the URL are not allowed; use the signature")
    return parts


def check(url: str, *, allow_private: bool) -> Target:
    """Resolve the URL's host and check every address; the first one is pinned."""
    parts = parse(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = resolve(host, port)
    if not allow_private:
        for address in addresses:
            if reason := classify(address):
                raise TargetRefused(
                    f"{host} resolves to {address}, a {reason} address; webhooks only go to "
                    "public addresses (set [webhooks] allow_private_targets for development)"
                )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port, str(addresses[0]), path)


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host resolves to, literal IPs included; TargetRefused if none."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as exc:
        raise TargetRefused(f"cannot resolve {host}: {exc}") from None
    found = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not found:
        raise TargetRefused(f"{host} has no address")
    return list(dict.fromkeys(found))
