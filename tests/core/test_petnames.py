"""Petnames: the user's own names for publisher keys, and the grouped fingerprint shown beside them."""

from __future__ import annotations

import pytest

from ggen_desktop.core.petnames import PetnameError, Petnames, check_petname, group_fingerprint, publisher_label

FP = "3f2a91bc07de55a1"


def test_fingerprints_are_grouped_by_four() -> None:
    assert group_fingerprint(FP) == "3f2a 91bc 07de 55a1"
    assert publisher_label(FP, None) == "3f2a 91bc 07de 55a1"
    assert publisher_label(FP, "Acme") == "Acme (3f2a 91bc 07de 55a1)"


@pytest.mark.parametrize(("text", "rule"), [("   ", "must not be empty"), ("x" * 33, "at most 32 characters"),
                                            ("Ac\u202eme", "control or invisible"), ("a\nb", "control")])
def test_bad_petnames_are_refused_with_the_rule(text: str, rule: str) -> None:
    with pytest.raises(PetnameError, match=rule):
        check_petname(text)


def test_one_name_per_key_no_name_for_two_keys_and_empty_removes() -> None:
    names = Petnames()
    assert names.set(FP, "  Acme  ") == "Acme" and names.label(FP) == "Acme (3f2a 91bc 07de 55a1)"
    with pytest.raises(PetnameError, match="'Acme' already names the key 3f2a 91bc 07de 55a1"):
        names.set("0" * 16, "acme")
    assert names.set(FP, "Acme Corp") == "Acme Corp"  # renaming the same key is fine
    assert names.set(FP, "") is None and names.get(FP) is None
