"""`python -m ggen_desktop` runs the same entry point as the installed scripts."""

from ggen_desktop.cli import main

raise SystemExit(main())
