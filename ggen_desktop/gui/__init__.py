"""The Qt front end: windows, panels, table models and dialogs over the node's async API."""
