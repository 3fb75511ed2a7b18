"""The one error type of node operations, shared by the node and the parts it is composed of."""

from __future__ import annotations


class NodeError(Exception):
    """A node operation failed; the message is one sentence for a person to read."""
