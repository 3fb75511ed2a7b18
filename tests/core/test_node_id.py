"""BEP 42 node ids: the specification's own vectors, and what a conforming id does and does not allow."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ggen_desktop.core.node_id import PREFIX_BITS, exempt, id_conforms, make_node_id

# BEP 42's table: IP, rand, an example node id (the bits after the first 21 are random).
BEP42_VECTORS = [
    ("124.31.75.21", 1, "5fbfbff10c5d6a4ec8a88e4c6ab4c28b95eee401"),
    ("21.75.31.124", 86, "5a3ce9c14e7a08645677bbd1cfe7d8f956d53256"),
    ("65.23.51.170", 22, "a5d43220bc8f112a3d426c84764f8c2a1150e616"),
    ("84.124.73.14", 65, "1b0321dd1bb1fe518101ceef99462b947a01ff41"),
    ("43.213.53.83", 90, "e56f6cbf5b7c4be0237986d5243b87aa6d51305a"),
]

public_v4 = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address).filter(lambda a: not exempt(a))
public_v6 = st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address).filter(
    lambda a: a.ipv4_mapped is None and not exempt(a))


def top_bits(node_id: bytes, bits: int = PREFIX_BITS) -> int:
    return int.from_bytes(node_id, "big") >> (160 - bits)


def flip_bit(node_id: bytes, bit: int) -> bytes:
    return (int.from_bytes(node_id, "big") ^ (1 << (159 - bit))).to_bytes(20, "big")


@pytest.mark.parametrize(("ip", "rand", "example"), BEP42_VECTORS)
def test_the_specifications_vectors(ip: str, rand: int, example: str) -> None:
    expected = bytes.fromhex(example)
    assert id_conforms(expected, ip)
    made = make_node_id(ip, rand)
    assert top_bits(made) == top_bits(expected) and made[19] == rand and len(made) == 20
    assert made.hex().startswith(example[:5])  # 20 of the 21 bits as whole hex digits, e.g. 5fbfb
    assert not id_conforms(expected, "1.2.3.4")


def test_an_id_is_random_below_its_prefix() -> None:
    ids = {make_node_id("124.31.75.21", 1) for _ in range(50)}
    assert len(ids) == 50 and {top_bits(i) for i in ids} == {top_bits(bytes.fromhex(BEP42_VECTORS[0][2]))}


@given(public_v4 | public_v6, st.integers(0, 255), st.integers(0, PREFIX_BITS - 1))
def test_a_made_id_conforms_and_any_change_in_its_prefix_does_not(address: ipaddress.IPv4Address, rand: int,
                                                                  bit: int) -> None:
    node_id = make_node_id(address, rand)
    assert id_conforms(node_id, address)
    assert not id_conforms(flip_bit(node_id, bit), address)


@given(public_v4, st.integers(0, 255), st.integers(PREFIX_BITS, 151))
def test_bits_after_the_prefix_and_before_the_last_byte_are_free(address: ipaddress.IPv4Address, rand: int,
                                                                   bit: int) -> None:
    assert id_conforms(flip_bit(make_node_id(address, rand), bit), address)


@given(public_v4, st.integers(0, 255), st.integers(0, 2))
def test_r_is_read_from_the_last_byte(address: ipaddress.IPv4Address, rand: int, r_bit: int) -> None:
    """Another r gives another prefix: flipping one of the low 3 bits of byte 19 breaks the id
    (unless the two r happen to share the 21-bit prefix, a 1 in 2 million chance, excluded here)."""
    node_id = make_node_id(address, rand)
    other = flip_bit(node_id, 159 - r_bit)
    if top_bits(make_node_id(address, other[19])) != top_bits(node_id):
        assert not id_conforms(other, address)


@given(public_v6, st.integers(0, 2**64 - 1), st.integers(0, 255))
def test_an_ipv6_id_depends_on_the_first_64_bits_only(address: ipaddress.IPv6Address, low: int, rand: int) -> None:
    same_network = ipaddress.IPv6Address((int(address) >> 64 << 64) | low)
    if not exempt(same_network):
        assert id_conforms(make_node_id(address, rand), same_network)


@pytest.mark.parametrize("ip", ["127.0.0.1", "127.5.5.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
                                "169.254.3.4", "::1", "fe80::1", "fd00::5", "::ffff:127.0.0.1"])
def test_local_and_private_addresses_are_exempt_unless_enforced(ip: str) -> None:
    assert exempt(ip)
    arbitrary = bytes(20)
    assert id_conforms(arbitrary, ip)
    assert not id_conforms(arbitrary, ip, enforce_on_private=True)
    assert id_conforms(make_node_id(ip), ip, enforce_on_private=True)


@pytest.mark.parametrize("ip", ["172.32.0.1", "172.15.255.255", "11.0.0.1", "8.8.8.8", "2001:db8::1", "::ffff:8.8.8.8"])
def test_public_addresses_are_not_exempt(ip: str) -> None:
    assert not exempt(ip)


def test_a_loopback_id_is_checked_when_enforced() -> None:
    """Tests on loopback switch enforcement on: a made-up id from 127.0.0.2 is then refused."""
    honest = make_node_id("127.0.0.2", 7)
    assert id_conforms(honest, "127.0.0.2", enforce_on_private=True)
    assert not id_conforms(flip_bit(honest, 0), "127.0.0.2", enforce_on_private=True)
    assert id_conforms(flip_bit(honest, 0), "127.0.0.2")


@pytest.mark.parametrize("claimed", [b"", b"x" * 19, b"x" * 21, "5fbfbff10c5d6a4ec8a88e4c6ab4c28b95eee401", None, 42])
def test_a_malformed_claim_never_conforms(claimed: object) -> None:
    assert not id_conforms(claimed, "124.31.75.21")
    assert not id_conforms(claimed, "127.0.0.1")


def test_bad_arguments_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="not an IP address: 'example.com'"):
        make_node_id("example.com")
    with pytest.raises(ValueError, match="rand must be a byte"):
        make_node_id("1.2.3.4", 256)
