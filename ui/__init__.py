"""Qt Designer forms (data only; installed as ggen_desktop.ui)."""
