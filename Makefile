# The two commands a fresh machine needs (see README.md):
#   make demo   set up, then run the demo hall (queue server, displays, clerk console, kiosk)
#   make test   set up, then run ruff, mypy and every test
.PHONY: setup demo test lint bench

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/python run_kiosk.py --demo

lint: setup
	.venv/bin/ruff check .
	.venv/bin/mypy queue_server hardware kiosk city_hub yichuang run_kiosk.py

test: lint
	.venv/bin/python -m pytest -q -p no:cacheprovider

bench: setup
	@for b in bench/bench_*.py; do echo "== $$b"; .venv/bin/python $$b; done
