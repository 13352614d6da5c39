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
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing Python packages (first run takes a few minutes)"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  touch "$stamp"
fi
