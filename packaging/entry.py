"""PyInstaller entry script: the frozen executables run the same CLI as the installed scripts.

PyInstaller needs a script file, not an entry point; this one only forwards to
`ggen_desktop.cli:main`, so the frozen app and `pip install` behave the same.
"""

from ggen_desktop.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
