"""Icons, stylesheet, sample catalogue and desktop entry (data only; installed as ggen_desktop.resources)."""
