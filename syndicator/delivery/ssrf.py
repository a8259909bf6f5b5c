"""The SSRF guard: which addresses a webhook may reach, and pinning the one checked.

A URL is refused when any address its host resolves to is not globally
reachable. What is globally reachable comes from the IANA IPv4 and IPv6
Special-Purpose Address Registries, copied below as a table, rather than from
`ipaddress.is_global`, whose tables lag behind the registries by Python release
(3.11 lets fec0::/10, 192.0.0.8/32, 3fff::/20 and 5f00::/16 through). The
address that passed the check is the one the sender connects to, so a DNS
answer that changes between check and connect (DNS rebinding) cannot redirect
the request. Names are resolved by an injectable `Resolver` (the system's by
default), so tests and callers decide how a host becomes addresses.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from syndicator.errors import SyndicatorError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# (host, port) -> every address the host has; raises OSError when it has none.
Resolver = Callable[[str, int], Sequence[IPAddress]]


@dataclass(frozen=True)
class SpecialRange:
    """One row of an IANA special-purpose registry (N/A counts as not reachable)."""

    network: IPNetwork
    name: str
    rfc: str
    globally_reachable: bool


def _rows(*rows: tuple[str, str, str, bool]) -> tuple[SpecialRange, ...]:
    return tuple(
        SpecialRange(ipaddress.ip_network(net), name, rfc, reachable)
        for net, name, rfc, reachable in rows
    )


# iana-ipv4-special-registry and iana-ipv6-special-registry, row by row as of their
# 2025 versions (IPv6: 2001:1::3 and 5f00::/16 from 2024-04, 3fff::/20 from 2024-07,
# 100:0:0:1::/64 from 2025-04), plus the multicast blocks and the deprecated
# site-local block, which live in other IANA registries. The most specific row that
# holds an address decides; a terminated row (deprecated ORCHID, 6to4 relay anycast)
# and N/A (Teredo, 6to4) count as not reachable.
SPECIAL_RANGES = _rows(
    ("0.0.0.0/8", 'unspecified ("this network")', "RFC 791", False),
    ("0.0.0.0/32", 'unspecified ("this host on this network")', "RFC 1122", False),
    ("10.0.0.0/8", "private", "RFC 1918", False),
    ("100.64.0.0/10", "private (shared address space, carrier-grade NAT)", "RFC 6598", False),
    ("127.0.0.0/8", "loopback", "RFC 1122", False),
    ("169.254.0.0/16", "link-local", "RFC 3927", False),
    ("172.16.0.0/12", "private", "RFC 1918", False),
    ("192.0.0.0/24", "reserved (IETF protocol assignments)", "RFC 6890", False),
    ("192.0.0.0/29", "reserved (IPv4 service continuity prefix)", "RFC 7335", False),
    ("192.0.0.8/32", "reserved (IPv4 dummy address)", "RFC 7600", False),
    ("192.0.0.9/32", "Port Control Protocol anycast", "RFC 7723", True),
    ("192.0.0.10/32", "Traversal Using Relays around NAT anycast", "RFC 8155", True),
    ("192.0.0.170/32", "reserved (NAT64/DNS64 discovery)", "RFC 8880", False),
    ("192.0.0.171/32", "reserved (NAT64/DNS64 discovery)", "RFC 8880", False),
    ("192.0.2.0/24", "reserved for documentation (TEST-NET-1)", "RFC 5737", False),
    ("192.31.196.0/24", "AS112-v4", "RFC 7535", True),
    ("192.52.193.0/24", "AMT", "RFC 7450", True),
    ("192.88.99.0/24", "reserved (deprecated 6to4 relay anycast)", "RFC 7526", False),
    ("192.88.99.2/32", "6a44-relay anycast", "RFC 6751", False),
    ("192.168.0.0/16", "private", "RFC 1918", False),
    ("192.175.48.0/24", "direct delegation AS112 service", "RFC 7534", True),
    ("198.18.0.0/15", "reserved for benchmarking", "RFC 2544", False),
    ("198.51.100.0/24", "reserved for documentation (TEST-NET-2)", "RFC 5737", False),
    ("203.0.113.0/24", "reserved for documentation (TEST-NET-3)", "RFC 5737", False),
    ("224.0.0.0/4", "multicast", "RFC 5771", False),
    ("240.0.0.0/4", "reserved", "RFC 1112", False),
    ("255.255.255.255/32", "reserved (limited broadcast)", "RFC 919", False),
    ("::/128", "unspecified", "RFC 4291", False),
    ("::1/128", "loopback", "RFC 4291", False),
    ("::ffff:0:0/96", "IPv4-mapped", "RFC 4291", False),
    ("64:ff9b::/96", "IPv4-IPv6 translation", "RFC 6052", True),
    ("64:ff9b:1::/48", "private (local-use IPv4-IPv6 translation)", "RFC 8215", False),
    ("100::/64", "reserved (discard-only)", "RFC 6666", False),
    ("100:0:0:1::/64", "reserved (dummy IPv6 prefix)", "RFC 9780", False),
    ("2001::/23", "reserved (IETF protocol assignments)", "RFC 2928", False),
    ("2001::/32", "reserved (Teredo)", "RFC 4380", False),
    ("2001:1::1/128", "Port Control Protocol anycast", "RFC 7723", True),
    ("2001:1::2/128", "Traversal Using Relays around NAT anycast", "RFC 8155", True),
    ("2001:1::3/128", "DNS-SD service registration protocol anycast", "RFC 9665", True),
    ("2001:2::/48", "reserved for benchmarking", "RFC 5180", False),
    ("2001:3::/32", "AMT", "RFC 7450", True),
    ("2001:4:112::/48", "AS112-v6", "RFC 7535", True),
    ("2001:10::/28", "reserved (deprecated ORCHID)", "RFC 4843", False),
    ("2001:20::/28", "ORCHIDv2", "RFC 7343", True),
    ("2001:30::/28", "drone remote ID entity tags", "RFC 9374", True),
    ("2001:db8::/32", "reserved for documentation", "RFC 3849", False),
    ("2002::/16", "6to4", "RFC 3056", False),
    ("2620:4f:8000::/48", "direct delegation AS112 service", "RFC 7534", True),
    ("3fff::/20", "reserved for documentation", "RFC 9637", False),
    ("5f00::/16", "reserved (segment routing SIDs)", "RFC 9602", False),
    ("fc00::/7", "private (unique local)", "RFC 4193", False),
    ("fe80::/10", "link-local", "RFC 4291", False),
    ("fec0::/10", "reserved (deprecated site-local)", "RFC 3879", False),
    ("ff00::/8", "multicast", "RFC 4291", False),
)
# Outside 2000::/3 the IPv6 space is reserved by the IETF (iana-ipv6-address-space).
_IPV6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_IPV6_RESERVED = SpecialRange(
    ipaddress.IPv6Network("::/0"), "reserved (outside global unicast 2000::/3)", "RFC 4291", False
)


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
    """Why an address may not be reached (None when it is globally reachable)."""
    embedded = _embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
    if embedded is not None:
        row = _unreachable(embedded)
        return f"{row.name} (IPv4-mapped), {row.rfc}" if row else None
    row = _unreachable(address)
    return f"{row.name}, {row.rfc}" if row else None


def _unreachable(address: IPAddress) -> SpecialRange | None:
    row = special_range(address)
    if row is None and address.version == 6 and address not in _IPV6_GLOBAL_UNICAST:
        return _IPV6_RESERVED
    return None if row is None or row.globally_reachable else row


def special_range(address: IPAddress) -> SpecialRange | None:
    """The most specific registry row that holds the address, if any."""
    holding = [
        row
        for row in SPECIAL_RANGES
        if row.network.version == address.version and address in row.network
    ]
    return max(holding, key=lambda row: row.network.prefixlen, default=None)


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


def check(url: str, *, allow_private: bool, resolver: Resolver | None = None) -> Target:
    """Resolve the URL's host and check every address; the first one is pinned."""
    parts = parse(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = resolve(host, port, resolver=resolver)
    if not allow_private:
        for address in addresses:
            if reason := classify(address):
                raise TargetRefused(
                    f"{host} resolves to {address}: {reason}; webhooks and WebSub callbacks"
                    " only go to public addresses (set [webhooks] allow_private_targets"
                    " for development)"
                )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port, str(addresses[0]), path)


def resolve(host: str, port: int, *, resolver: Resolver | None = None) -> list[IPAddress]:
    """Every address the host resolves to, literal IPs included; TargetRefused if none."""
    try:
        found = list((resolver or system_resolver)(host, port))
    except (OSError, UnicodeError, ValueError) as exc:
        raise TargetRefused(f"cannot resolve {host}: {exc}") from None
    if not found:
        raise TargetRefused(f"{host} has no address")
    return list(dict.fromkeys(found))


def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The operating system's answer (getaddrinfo: hosts file, DNS, IP literals)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
