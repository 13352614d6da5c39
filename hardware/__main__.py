"""``python -m hardware``: see :mod:`hardware.cli`."""

from hardware.cli import main

if __name__ == "__main__":
    main(prog_name="python -m hardware")
