"""Render the SVG icon to a square PNG with Qt, offscreen (no display needed).

Usage: python render_icon.py SRC.svg DEST.png [SIZE]
Run with the build venv's Python (it has PySide6). Used by build.sh for the
hicolor 256x256 icon in the .deb and the Windows/macOS executable icon.
"""

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer


def main() -> int:
    src, dest = sys.argv[1], sys.argv[2]
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 256
    app = QGuiApplication([])  # fonts and the painter need a Gui application
    renderer = QSvgRenderer(src)
    if not renderer.isValid():
        print(f"render_icon: cannot read SVG {src}", file=sys.stderr)
        return 1
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    if not image.save(dest, "PNG"):
        print(f"render_icon: cannot write {dest}", file=sys.stderr)
        return 1
    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
