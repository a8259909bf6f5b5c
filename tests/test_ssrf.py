"""The SSRF guard against the IANA special-purpose registries, and its injectable resolver."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from factories import DNSLookupInTest, FakeClock, FakeResolver, add_feed, build_core
from webhook_support import FAST, Receiver, deliver, real_now

from syndicator.delivery import ssrf
from syndicator.web import create_app

TOKEN = "ssrf-admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

# One address inside each row of the IANA IPv4 and IPv6 Special-Purpose Address
# Registries (and the multicast and site-local blocks), outside any more specific
# row, with the registry's "Globally Reachable" (N/A counts as not reachable).
REGISTRY = {
    "0.1.2.3": False,  # "this network"
    "0.0.0.0": False,  # "this host on this network"
    "10.20.30.40": False,  # private-use
    "100.64.0.1": False,  # shared address space
    "127.0.0.2": False,  # loopback
    "169.254.169.254": False,  # link-local
    "172.20.0.1": False,  # private-use
    "192.0.0.100": False,  # IETF protocol assignments
    "192.0.0.1": False,  # IPv4 service continuity prefix
    "192.0.0.8": False,  # IPv4 dummy address
    "192.0.0.9": True,  # Port Control Protocol anycast
    "192.0.0.10": True,  # TURN anycast
    "192.0.0.170": False,  # NAT64/DNS64 discovery
    "192.0.0.171": False,  # NAT64/DNS64 discovery
    "192.0.2.1": False,  # TEST-NET-1
    "192.31.196.1": True,  # AS112-v4
    "192.52.193.1": True,  # AMT
    "192.88.99.1": False,  # deprecated 6to4 relay anycast
    "192.88.99.2": False,  # 6a44-relay anycast (not globally reachable, unlike the others)
    "192.168.0.1": False,  # private-use
    "192.175.48.1": True,  # AS112 direct delegation
    "198.19.255.1": False,  # benchmarking
    "198.51.100.7": False,  # TEST-NET-2
    "203.0.113.7": False,  # TEST-NET-3
    "232.1.2.3": False,  # multicast
    "250.0.0.1": False,  # reserved
    "255.255.255.255": False,  # limited broadcast
    "::": False,  # unspecified
    "::1": False,  # loopback
    "::ffff:0.0.0.1": False,  # IPv4-mapped (of "this network")
    "64:ff9b::808:808": True,  # IPv4-IPv6 translation of 8.8.8.8
    "64:ff9b:1::1": False,  # local-use IPv4-IPv6 translation
    "100::1": False,  # discard-only
    "100:0:0:1::1": False,  # dummy IPv6 prefix
    "2001:100::1": False,  # IETF protocol assignments
    "2001:0:4136:e378:8000:63bf:3fff:fdd2": False,  # Teredo
    "2001:1::1": True,  # PCP anycast
    "2001:1::2": True,  # TURN anycast
    "2001:1::3": True,  # DNS-SD SRP anycast
    "2001:2::1": False,  # benchmarking
    "2001:3::1": True,  # AMT
    "2001:4:112::1": True,  # AS112-v6
    "2001:10::1": False,  # deprecated ORCHID
    "2001:20::1": True,  # ORCHIDv2
    "2001:30::1": True,  # drone remote ID
    "2001:db8::1": False,  # documentation
    "2002:0101:0101::1": True,  # 6to4 of 1.1.1.1: judged by the IPv4 address inside
    "2620:4f:8000::1": True,  # AS112 direct delegation
    "3fff::1": False,  # documentation (RFC 9637)
    "5f00::1": False,  # segment routing SIDs
    "fd00::1": False,  # unique local
    "fe80::1": False,  # link-local
    "fec0::1": False,  # deprecated site-local
    "ff0e::1": False,  # multicast
    "4000::1": False,  # outside global unicast 2000::/3
}


@pytest.mark.parametrize(("address", "reachable"), sorted(REGISTRY.items()))
def test_each_registry_range_is_judged_by_its_globally_reachable_column(
    address: str, reachable: bool
) -> None:
    reason = ssrf.classify(ipaddress.ip_address(address))
    assert (reason is None) is reachable, reason


@pytest.mark.parametrize("row", ssrf.SPECIAL_RANGES, ids=lambda row: str(row.network))
def test_every_row_of_the_table_is_exercised_above(row: ssrf.SpecialRange) -> None:
    inside = [a for a in REGISTRY if ipaddress.ip_address(a) in row.network]
    assert any(ssrf.special_range(ipaddress.ip_address(a)) == row for a in inside)


@pytest.mark.parametrize(
    "address", ["fec0::1", "192.0.0.8", "3fff::1", "5f00::1", "100:0:0:1::1", "192.88.99.2"]
)
def test_ranges_older_pythons_call_global_are_refused_at_registration(address: str) -> None:
    def resolver(host: str, port: int) -> list[ssrf.IPAddress]:
        return [ipaddress.ip_address(address)]

    with pytest.raises(ssrf.TargetRefused, match=f"resolves to {address}: .*, RFC "):
        ssrf.check("https://hooks.example.com/in", allow_private=False, resolver=resolver)
    target = ssrf.check("https://hooks.example.com/in", allow_private=True, resolver=resolver)
    assert target.address == address


def test_the_refusal_names_the_range_and_its_rfc() -> None:
    with pytest.raises(ssrf.TargetRefused) as refused:
        ssrf.check("http://[fec0::1]/hook", allow_private=False)
    assert "fec0::1: reserved (deprecated site-local), RFC 3879" in str(refused.value)


def test_a_test_run_makes_no_dns_query() -> None:
    with pytest.raises(DNSLookupInTest, match=r"hooks\.example\.com"):
        socket.getaddrinfo("hooks.example.com", 443)
    assert socket.getaddrinfo("127.0.0.1", 80) and socket.getaddrinfo("localhost", 80)


def test_registration_asks_the_cores_resolver(make_config) -> None:
    resolver = FakeResolver(**{"hooks.example.com": "10.0.0.5", "cdn.example.com": "8.8.8.8"})
    core = build_core(make_config(admin={"token": TOKEN}), FakeClock(real_now()), resolver)
    try:
        client = create_app(core=core).test_client()
        refused = client.post(
            "/api/webhooks", json={"url": "https://hooks.example.com/"}, headers=AUTH
        )
        assert refused.status_code == 422
        assert "10.0.0.5: private, RFC 1918" in refused.get_json()["error"]["fields"]["url"]
        created = client.post(
            "/api/webhooks", json={"url": "https://cdn.example.com/"}, headers=AUTH
        )
        assert created.status_code == 201
    finally:
        core.close()


def test_the_worker_sends_to_the_address_the_resolver_chose(make_config) -> None:
    with Receiver() as receiver:
        resolver = FakeResolver(**{"hooks.example.com": "127.0.0.1"})
        config = make_config(admin={"token": TOKEN}, webhooks=FAST)
        core = build_core(config, FakeClock(real_now()), resolver)
        try:
            add_feed(core)
            client = create_app(core=core).test_client()
            url = f"http://hooks.example.com:{receiver.port}/in"
            assert client.post("/api/webhooks", json={"url": url}, headers=AUTH).status_code == 201
            post = client.post("/api/feeds/news/posts", json={"title": "Hi"}, headers=AUTH)
            assert post.status_code == 201
            deliver(core)
        finally:
            core.close()
    (arrived,) = receiver.on("/in")
    assert arrived.headers["host"] == f"hooks.example.com:{receiver.port}"
