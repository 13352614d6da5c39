#!/usr/bin/env python3
"""Start a 一窗通 self-service kiosk — the same as ``yichuang-kiosk`` (``kiosk/__main__.py``),
kept so ``python run_kiosk.py --demo`` from a checkout keeps working. ``--help`` lists the
options."""

import sys

from kiosk.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
