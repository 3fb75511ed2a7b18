"""Addresses as the unit of trust: one spelling per host, and the network group fairness is counted by."""

from __future__ import annotations

import pytest

from ggen_desktop.core.address import address_group, canonical_ip, parse_ip


@pytest.mark.parametrize(("ip", "group"), [
    ("127.5.5.9", "127.5.5.0/24"),
    ("203.0.113.255", "203.0.113.0/24"),
    ("::ffff:203.0.113.4", "203.0.113.0/24"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1::/48"),
    ("2001:db8:1:ffff::", "2001:db8:1::/48"),
])
def test_address_groups(ip: str, group: str) -> None:
    assert address_group(ip) == group


def test_one_spelling_per_host() -> None:
    assert canonical_ip("::ffff:127.0.0.1") == canonical_ip("127.0.0.1") == "127.0.0.1"
    assert canonical_ip("2001:DB8:0::1") == "2001:db8::1"
    assert parse_ip(parse_ip("10.0.0.1")) == parse_ip("10.0.0.1")


@pytest.mark.parametrize("text", ["", "localhost", "1.2.3.4.5", "a" * 40, "12ab" * 10])
def test_a_non_address_is_refused_by_name(text: str) -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        address_group(text)
