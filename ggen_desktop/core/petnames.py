"""How a publisher key is shown: a grouped fingerprint, and a petname the user gave it on this computer.

A petname is local and private (Zooko's triangle: secure and memorable, not
global): no peer can choose the name under which its key appears here, so a
key that merely resembles a known one shows up without the known one's name.
"""

from __future__ import annotations

import unicodedata

MAX_PETNAME = 32
GROUP = 4


class PetnameError(ValueError):
    """A petname broke a rule; the message says which."""


def group_fingerprint(fingerprint: str) -> str:
    """"3f2a91bc07de55a1" as "3f2a 91bc 07de 55a1": easier to read aloud and compare."""
    return " ".join(fingerprint[i:i + GROUP] for i in range(0, len(fingerprint), GROUP))


def check_petname(text: str) -> str:
    """The petname as kept (trimmed); PetnameError for an empty, over-long or control-character one."""
    name = text.strip()
    if not name:
        raise PetnameError("a petname must not be empty (clear it to remove it)")
    if len(name) > MAX_PETNAME:
        raise PetnameError(f"a petname is at most {MAX_PETNAME} characters, this one has {len(name)}")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise PetnameError("a petname cannot contain control or invisible format characters")
    return name


def publisher_label(fingerprint: str, petname: str | None) -> str:
    """"Acme (3f2a 91bc 07de 55a1)" with a petname, the grouped fingerprint alone without."""
    grouped = group_fingerprint(fingerprint)
    return f"{petname} ({grouped})" if petname else grouped


class Petnames:
    """The user's names for keys on this computer: one name per key, and no name for two keys."""

    def __init__(self, names: dict[str, str] | None = None) -> None:
        self._names: dict[str, str] = dict(names or {})

    def get(self, fingerprint: str) -> str | None:
        return self._names.get(fingerprint)

    def set(self, fingerprint: str, text: str) -> str | None:
        """Name a key ("" removes its name); returns the name kept, PetnameError when it breaks a rule."""
        if not text.strip():
            self._names.pop(fingerprint, None)
            return None
        name = check_petname(text)
        for other, taken in self._names.items():
            if other != fingerprint and taken.casefold() == name.casefold():
                raise PetnameError(f"'{taken}' already names the key {group_fingerprint(other)}; choose another")
        self._names[fingerprint] = name
        return name

    def label(self, fingerprint: str) -> str:
        return publisher_label(fingerprint, self.get(fingerprint))
