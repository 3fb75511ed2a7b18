"""The shipped sample catalogue loads, signs within the wire cap, and keeps its name clash."""

from ggen_desktop.core.catalogue import demo_publisher_key, load_sample_catalogue
from ggen_desktop.core.record import MAX_RECORD_BYTES, decode_and_verify, public_key_bytes, sign


def test_every_entry_of_the_shipped_catalogue_loads_and_signs_within_the_cap() -> None:
    catalogue = load_sample_catalogue()
    # resources/catalogue.json holds 402 entries under 264 names (more versions, and acme/cli twice)
    assert len(catalogue) == 402 and len({str(p.id) for _, p in catalogue}) == 264
    for label, package in catalogue:
        record = sign(package, demo_publisher_key(label))
        assert len(record.encoded) <= MAX_RECORD_BYTES
        assert decode_and_verify(record.encoded).identity == record.identity


def test_demo_keys_are_stable_and_distinct() -> None:
    assert public_key_bytes(demo_publisher_key("acme")) == public_key_bytes(demo_publisher_key("acme"))
    assert public_key_bytes(demo_publisher_key("acme")) != public_key_bytes(demo_publisher_key("mallory"))


def test_two_publishers_share_one_name() -> None:
    publishers = {label for label, p in load_sample_catalogue() if str(p.id) == "acme/cli"}
    assert publishers == {"acme", "mallory"}
