#!/usr/bin/env bash
# CI: install runledger with the LOWEST version of every direct dependency that
# pyproject.toml allows (like `uv pip install --resolution lowest-direct`; transitive
# dependencies resolve normally) and run the CLI smoke tests against that install.
# A lower bound that is too low (e.g. a typer that crashes with today's click) fails
# here instead of on a user's machine. No services needed; about 1-2 minutes.
#
#   bash .ci/lowest-bounds.sh
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${RUNLEDGER_LOWEST_VENV:-${TMPDIR:-/tmp}/runledger-lowest-bounds}"
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip

constraints="$venv/lower-bounds.txt"
python3 .ci/lower_bounds.py > "$constraints"
# Not editable: the smoke tests run the installed wheel, as a user would.
"$venv/bin/python" -m pip install --quiet --constraint "$constraints" . \
  pytest pytest-asyncio pytest-timeout
echo "lowest direct versions:"
sed 's/^/  /' "$constraints"

# `pytest` (not `python -m pytest`), so the checkout is not on sys.path: the tests
# import the installed package. Old versions may warn about their own deprecations
# (typer 0.16-0.24 under click 8.5); that is not a failure of the lower bound.
# The files are listed in .ci/lowest-bound-tests.txt; .ci/run leaves them out of its main
# run, so each test runs once.
mapfile -t smoke < .ci/lowest-bound-tests.txt
"$venv/bin/pytest" -p no:cacheprovider -q -W ignore::DeprecationWarning "${smoke[@]}"
