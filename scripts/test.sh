#!/bin/sh
# The test command: sets up ./.venv, lints, then runs every test (integration tests need root).
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup-dev.sh
.venv/bin/ruff check app tests bench
.venv/bin/ruff format --check app tests bench
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
