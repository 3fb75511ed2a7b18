"""Plain-Python domain model: no Qt, no network, so every front end and test can use it."""
