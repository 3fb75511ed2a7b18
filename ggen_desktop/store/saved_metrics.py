"""Query metrics kept across restarts, as one JSON value in the node_state table.

The counters and recent durations are the user's history of searching; a
restart used to reset them to zero. A damaged value is logged and ignored.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ggen_desktop.store.database import Database
from ggen_desktop.store.errors import StoreError

log = logging.getLogger(__name__)

METRICS_KEY = "query_metrics"


def save_metrics(database: Database, values: dict[str, Any]) -> None:
    """Replace the saved metrics (one transaction); StoreError when they cannot be written."""
    try:
        text = json.dumps(values, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"query metrics cannot be stored as JSON: {exc}") from exc
    with database._write("save the query metrics") as conn:
        conn.execute("INSERT INTO node_state (key, value) VALUES (?, ?) "
                     "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (METRICS_KEY, text))


def load_metrics(database: Database) -> dict[str, Any] | None:
    """The saved metrics, or None when there are none (or they are not a JSON object)."""
    rows = database._read("load the query metrics", "SELECT value FROM node_state WHERE key = ?", (METRICS_KEY,))
    if not rows:
        return None
    try:
        values = json.loads(rows[0][0])
    except (TypeError, ValueError):
        log.warning("ignoring the saved query metrics: not JSON")
        return None
    if not isinstance(values, dict):
        log.warning("ignoring the saved query metrics: not a JSON object")
        return None
    return values
