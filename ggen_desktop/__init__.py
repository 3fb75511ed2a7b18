"""ggen-desktop: a desktop browser and node for the ggen peer-to-peer package marketplace."""

__version__ = "0.1.0"
