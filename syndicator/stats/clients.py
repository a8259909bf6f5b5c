"""Who is asking: the client's address (behind trusted proxies only) as a salted hash.

X-Forwarded-For is anyone's to send, so it is read only when the connection
comes from a proxy named in `[server] trusted_proxies`, and then from the
right: the first address no trusted proxy added is the client. The hash of
address and User-Agent is keyed with a random salt made in memory for each
day and never written anywhere, so a stored sketch cannot be traced back to
anyone, even by whoever holds the database and the config.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import threading
from collections.abc import Iterable
from datetime import date

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_MAX_HOPS = 16  # entries of X-Forwarded-For looked at, from the right


def networks(proxies: Iterable[str]) -> tuple[Network, ...]:
    """`[server] trusted_proxies` (validated by config) as networks."""
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def address(remote: str, forwarded: str | None, trusted: tuple[Network, ...]) -> str:
    """The client's address: the connection's, or what trusted proxies say it was."""
    if not trusted or not forwarded or not _is_trusted(remote, trusted):
        return remote
    for hop in reversed(forwarded.split(",")[-_MAX_HOPS:]):
        candidate = hop.strip()
        if not _is_trusted(candidate, trusted):
            return candidate if _parses(candidate) else remote
    return remote


def _parses(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_trusted(text: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


class DailySalt:
    """A random key per day, in this process's memory only."""

    def __init__(self) -> None:
        self._day: date | None = None
        self._key = b""
        self._lock = threading.Lock()

    def client_hash(self, day: date, remote: str, agent: str) -> int:
        """A 64-bit hash of (address, User-Agent) that only means something today."""
        if day != self._day:
            with self._lock:
                if day != self._day:
                    self._key, self._day = secrets.token_bytes(32), day
        data = f"{remote}\0{agent[:1024]}".encode("utf-8", "surrogatepass")
        digest = hashlib.blake2b(data, digest_size=8, key=self._key).digest()
        return int.from_bytes(digest, "big")
