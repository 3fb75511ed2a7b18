#!/usr/bin/env bash
# Build every Linux deliverable of ggen-desktop into dist/ at the repository root:
#
#   dist/ggen-desktop/                               the frozen app (PyInstaller onedir)
#   dist/ggen-desktop-<version>-linux-<arch>.tar.gz  that folder, as a plain archive
#   dist/ggen-desktop_<version>_<arch>.deb           installs it under /opt/ggen-desktop
#
# One command on a fresh Debian 12 machine: it installs what it needs (apt as
# root, a private build venv), and running it again rebuilds from scratch the
# same way (idempotent). Work files go to packaging/build/ (git-ignored).
#
# Environment (all optional):
#   PYTHON          interpreter for the build venv (default /usr/bin/python3.11: the
#                   distribution's Python, so nothing from a home directory such as
#                   ~/.pyenv ends up baked into the bundle's RUNPATHs)
#   SKIP_APT=1      do not run apt-get (the packages must already be there)
#   DEB_MAINTAINER  Maintainer field of the .deb
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PKG="$REPO/packaging"
WORK="$PKG/build"            # venv, staged sources, PyInstaller work dir, .deb root
DIST="$REPO/dist"
APP=ggen-desktop
PYINSTALLER_VERSION=6.22.3   # pinned: a new PyInstaller can change what gets collected
PYTHON="${PYTHON:-/usr/bin/python3.11}"
DEB_MAINTAINER="${DEB_MAINTAINER:-ggen-desktop developers <ggen-desktop@example.org>}"

umask 022                    # files in the packages must be world-readable
export LC_ALL=C.UTF-8
# The frozen app and the icon renderer use Qt; the build machine has no display.
export QT_QPA_PLATFORM=offscreen

step() { printf '\n==> %s\n' "$*"; }
started=$SECONDS

# --- 1. System packages --------------------------------------------------------
# Build tools: the distribution's Python + venv; binutils (objdump/strip, used by
# PyInstaller); dpkg-dev (dpkg-shlibdeps computes the .deb's Depends);
# desktop-file-utils (validates the .desktop entry); systemd (systemd-analyze
# verify checks the unit); file (tells ELF files apart).
# Runtime libraries of Qt's xcb/wayland/EGL plugins: PyInstaller must find them
# to resolve the plugins' dependencies, and the frozen app is smoke-tested here.
APT_PACKAGES=(
  python3.11 python3.11-venv libpython3.11 binutils dpkg-dev desktop-file-utils systemd file
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0
  libxcb-randr0 libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 libxkbcommon-x11-0
  libegl1 libgl1 libfontconfig1 libdbus-1-3
  libwayland-client0 libwayland-cursor0 libwayland-egl1
)
step "system packages"
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "all present"
elif [[ "${SKIP_APT:-}" == 1 || $EUID -ne 0 ]]; then
  echo "missing (install them, e.g. sudo apt-get install ${missing[*]})" >&2
  exit 1
else
  # Only when something is missing: apt-get update is the slow part.
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# --- 2. Version and architecture --------------------------------------------------
# Read, not imported: the version is a literal in ggen_desktop/__init__.py.
VERSION="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$REPO/ggen_desktop/__init__.py")"
[[ -n "$VERSION" ]] || { echo "cannot read __version__ from ggen_desktop/__init__.py" >&2; exit 1; }
# PEP 440 pre-releases (1.0rc1) sort after 1.0 in dpkg unless written 1.0~rc1.
DEB_VERSION="$(echo "$VERSION" | sed -E 's/(a|b|rc|\.dev)([0-9]+)$/~\1\2/')"
ARCH="$(dpkg --print-architecture)"
echo "ggen-desktop $VERSION ($DEB_VERSION, $ARCH)"

# --- 3. Build venv with the project installed -------------------------------------
# A non-editable install from a *copy* of the sources: resources/ and ui/ only
# become ggen_desktop.resources / ggen_desktop.ui when installed, and building
# from a copy writes no build/ or *.egg-info into the shared working tree.
step "build venv ($PYTHON)"
mkdir -p "$WORK"
if [[ ! -x "$WORK/venv/bin/python" ]] ||
   [[ "$("$WORK/venv/bin/python" -c 'import sys; print(sys._base_executable)' 2>/dev/null)" != "$("$PYTHON" -c 'import sys; print(sys.executable)')" ]]; then
  rm -rf "$WORK/venv"
  "$PYTHON" -m venv "$WORK/venv"
fi
VPY="$WORK/venv/bin/python"
rm -rf "$WORK/src" && mkdir -p "$WORK/src"
cp -r "$REPO/pyproject.toml" "$REPO/README.md" "$REPO/ggen_desktop" "$REPO/resources" "$REPO/ui" "$WORK/src/"
find "$WORK/src" -name __pycache__ -prune -exec rm -rf {} +
# pip, minus the lines some machines' pip.conf produces for every package
# (find-links folders that do not exist); pip's own failures still stop the build.
pip_q() {
  "$VPY" -m pip install -q --disable-pip-version-check "$@" 2>&1 |
    { grep -v -e 'is ignored: it is neither a file nor a directory' || true; }
}
pip_q "pyinstaller==$PYINSTALLER_VERSION" "$WORK/src"
# Same version number, new code: force our own package to be reinstalled.
pip_q --no-deps --force-reinstall "$WORK/src"

# --- 4. Icon and desktop entry ------------------------------------------------------
# The app's own icon and desktop entry (resources/), so the menu, the window
# and the installed app agree. The entry must launch what the .deb puts on
# PATH and name the icon the .deb installs.
ICON_SVG="$REPO/resources/$APP.svg"
DESKTOP_FILE="$REPO/resources/$APP.desktop"
step "icon and desktop entry ($ICON_SVG, $DESKTOP_FILE)"
(cd "$WORK" && "$VPY" "$PKG/linux/render_icon.py" "$ICON_SVG" "$WORK/$APP-256.png" 256)
desktop-file-validate "$DESKTOP_FILE"
grep -qE "^Exec=$APP( |$)" "$DESKTOP_FILE" && grep -qx "Icon=$APP" "$DESKTOP_FILE" ||
  { echo "$DESKTOP_FILE: needs Exec=$APP ... and Icon=$APP" >&2; exit 1; }

# --- 5. Frozen app -------------------------------------------------------------------
step "PyInstaller"
rm -rf "$DIST/$APP"
(cd "$REPO" && "$WORK/venv/bin/pyinstaller" --noconfirm --clean --log-level WARN \
   --distpath "$DIST" --workpath "$WORK/pyinstaller" "$PKG/$APP.spec")
# Smoke test: the frozen interpreter starts and finds our package.
got="$("$DIST/$APP/$APP" --version)"
[[ "$got" == "ggen-desktop $VERSION" ]] || { echo "frozen --version printed '$got'" >&2; exit 1; }
echo "frozen app: $got"
# Nothing from the build machine's home directory or this checkout may be baked in.
leaks=(-e "$REPO/" -e "$WORK/" -e "/.pyenv/")
[[ "${HOME:-/}" == / ]] || leaks+=(-e "$HOME/")
if grep -rlaF "${leaks[@]}" "$DIST/$APP" | grep .; then
  echo "the files above contain paths from the build machine" >&2; exit 1
fi

# --- 6. Plain archive -------------------------------------------------------------------
# Sorted, root-owned, fixed mtime and no gzip timestamp: same input, same bytes.
step "tar.gz"
EPOCH="$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || date +%s)"
TARBALL="$DIST/$APP-$VERSION-linux-$ARCH.tar.gz"
rm -f "$DIST/$APP"-*-linux-*.tar.gz
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$EPOCH" \
    -C "$DIST" -cf - "$APP" | gzip -n > "$TARBALL"

# --- 7. .deb --------------------------------------------------------------------------------
step ".deb"
ROOT="$WORK/debroot"
rm -rf "$ROOT"
mkdir -p "$ROOT/DEBIAN" "$ROOT/opt" "$ROOT/usr/bin" "$ROOT/usr/share/applications" \
         "$ROOT/usr/share/icons/hicolor/scalable/apps" "$ROOT/usr/share/icons/hicolor/256x256/apps" \
         "$ROOT/lib/systemd/system" "$ROOT/usr/share/doc/$APP"
cp -a "$DIST/$APP" "$ROOT/opt/$APP"
# Launchers on PATH: relative symlinks into /opt (the bootloader resolves its own
# real path, so _internal/ is found). -cli is the console twin, same as pip's scripts.
ln -s "../../opt/$APP/$APP" "$ROOT/usr/bin/$APP"
ln -s "../../opt/$APP/$APP-cli" "$ROOT/usr/bin/$APP-cli"
install -m 0644 "$DESKTOP_FILE" "$ROOT/usr/share/applications/$APP.desktop"
install -m 0644 "$ICON_SVG" "$ROOT/usr/share/icons/hicolor/scalable/apps/$APP.svg"
install -m 0644 "$WORK/$APP-256.png" "$ROOT/usr/share/icons/hicolor/256x256/apps/$APP.png"
install -m 0644 "$PKG/linux/$APP-node.service" "$ROOT/lib/systemd/system/$APP-node.service"
cat > "$ROOT/usr/share/doc/$APP/copyright" <<EOF
ggen-desktop $VERSION: MIT License, copyright the ggen-desktop developers.
/opt/$APP/_internal holds third-party components under their own licenses:
Python (PSF), Qt 6 and PySide6 (LGPL-3.0), cryptography (Apache-2.0/BSD),
kademlia, rpcudp, qasync, keyring, platformdirs, semver (MIT/BSD) and the
system libraries listed in the package's Depends, copied from Debian.
EOF

# Depends: every shared library our ELF files link against, mapped to its
# Debian package by dpkg-shlibdeps (with minimum versions from the symbols
# files). Bundled copies have no package, so --ignore-missing-info; the list
# still names some libraries we also bundle, which costs nothing on a desktop
# and keeps the package correct whichever copy the loader picks.
mapfile -t ELFS < <(find "$ROOT/opt/$APP" -type f -exec file -N --mime-type {} + |
                    sed -n 's#: *application/x-\(pie-executable\|sharedlib\|executable\)$##p' | sort)
mapfile -t LIBDIRS < <(printf '%s\n' "${ELFS[@]}" | xargs -n1 dirname | sort -u | sed 's/^/-l/')
SHL="$WORK/shlibdeps" && rm -rf "$SHL" && mkdir -p "$SHL/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$APP" "$APP" > "$SHL/debian/control"
DEPENDS="$(cd "$SHL" && dpkg-shlibdeps -O --ignore-missing-info "${LIBDIRS[@]}" "${ELFS[@]}" 2>/dev/null |
           sed -n 's/^shlibs:Depends=//p')"
[[ "$DEPENDS" == *libc6* && "$DEPENDS" == *libxcb-cursor0* ]] || { echo "dpkg-shlibdeps gave: '$DEPENDS'" >&2; exit 1; }

cat > "$ROOT/DEBIAN/control" <<EOF
Package: $APP
Version: $DEB_VERSION
Architecture: $ARCH
Maintainer: $DEB_MAINTAINER
Installed-Size: $(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)
Depends: $DEPENDS
Recommends: fonts-dejavu-core | fonts-liberation2
Section: net
Priority: optional
Description: desktop browser and node for the ggen peer-to-peer package marketplace
 Search, browse and publish signed packages on the ggen marketplace, a
 Kademlia DHT. Results stream in as peers answer; panels show live query
 metrics and peer reputation.
 .
 Also runs as a headless node: see ggen-desktop-node.service (not enabled
 by default; systemctl enable --now ggen-desktop-node).
EOF
# systemd: make it see the new/changed unit, stop the node before its binary
# goes away. Desktop menu and icon caches are refreshed by dpkg triggers of
# desktop-file-utils and hicolor-icon-theme, so nothing to do for those.
cat > "$ROOT/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
EOF
cat > "$ROOT/DEBIAN/prerm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
  systemctl stop ggen-desktop-node.service || true
fi
EOF
cat > "$ROOT/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
if [ "$1" = purge ]; then rm -rf /var/lib/private/ggen-desktop /var/lib/ggen-desktop; fi
EOF
chmod 0755 "$ROOT/DEBIAN/postinst" "$ROOT/DEBIAN/prerm" "$ROOT/DEBIAN/postrm"
(cd "$ROOT" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) > "$ROOT/DEBIAN/md5sums"

# The unit, checked against the package's own tree (so ExecStart's binary
# exists) plus this machine's units (for the targets it refers to). verify
# exits 0 on mere warnings, so any output at all fails the build.
if command -v systemd-analyze >/dev/null; then
  VROOT="$WORK/verifyroot" && rm -rf "$VROOT" && mkdir -p "$VROOT/opt/$APP" "$VROOT/lib/systemd"
  cp -a /lib/systemd/system "$VROOT/lib/systemd/"
  cp "$ROOT/lib/systemd/system/$APP-node.service" "$VROOT/lib/systemd/system/"
  cp "$ROOT/opt/$APP/$APP" "$VROOT/opt/$APP/"
  out="$(systemd-analyze verify --root="$VROOT" "$APP-node.service" 2>&1)" || { echo "$out" >&2; exit 1; }
  [[ -z "$out" ]] || { echo "systemd-analyze verify: $out" >&2; exit 1; }
  echo "systemd-analyze verify: ok"
  rm -rf "$VROOT"
fi

DEB="$DIST/${APP}_${DEB_VERSION}_${ARCH}.deb"
rm -f "$DIST/${APP}"_*.deb
# -Zxz: default compression, readable by every dpkg; --root-owner-group: files owned by root.
SOURCE_DATE_EPOCH="$EPOCH" dpkg-deb --build --root-owner-group -Zxz "$ROOT" "$DEB"

# --- 8. Report ---------------------------------------------------------------------------------
step "done in $((SECONDS - started)) s"
du -sh "$DIST/$APP" "$TARBALL" "$DEB"
