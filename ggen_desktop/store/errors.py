"""Errors of the local store: each says what failed and that stored data is unchanged."""

from __future__ import annotations


class StoreError(Exception):
    """A store operation failed; the message says what and the previous data is intact."""


class StoreLocked(StoreError):
    """Another process already has this data folder open."""


class StoreTooNew(StoreError):
    """The database was written by a newer ggen-desktop whose schema this one does not know."""
