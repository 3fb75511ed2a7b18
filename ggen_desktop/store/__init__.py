"""Local state: SQLite database in the platform data folder, and the publisher key."""
