"""The one error type of node operations, shared by the node and the parts it is composed of."""

from __future__ import annotations


class NodeError(Exception):
    """A node operation failed; the message is one sentence for a person to read."""


class AmbiguousPublisher(NodeError):
    """A name is signed by more than one key and the caller named none: which one is for the user to say."""

    def __init__(self, package_id: str, fingerprints: list[str]) -> None:
        super().__init__(f"{package_id} is published by {len(fingerprints)} different keys "
                         f"({', '.join(fingerprints)}); name the publisher you trust")
        self.package_id = package_id
        self.fingerprints = fingerprints
