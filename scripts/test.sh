#!/bin/sh
# The test command: sets up ./.venv, lints, then runs every test (integration tests need root).
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup-dev.sh
.venv/bin/ruff check app boot tests bench
.venv/bin/ruff format --check app boot tests bench
# The layers of docs/architecture.md (contracts in pyproject.toml).
(cd app && ../.venv/bin/lint-imports ../pyproject.toml)
# tests/e2e (packages, get.sh, fresh roots) is the distribution stage: scripts/e2e.sh runs it.
exec .venv/bin/python -m pytest -q -p no:cacheprovider --ignore=tests/e2e "$@"
