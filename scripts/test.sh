#!/usr/bin/env bash
# Sets up (see setup.sh --dev) and runs every test: the main suite on SQLite, the same suite on
# PostgreSQL (TEST_DATABASE_URL; what is about SQLite itself skips there, what needs PostgreSQL
# skips on SQLite), then the browser tests in their own pytest process (Playwright's sync API and
# pytest-django's database handling do not mix).
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev || exit 1
. .venv/bin/activate

ruff check . || exit 1
reports=$(mktemp -d)
status=0
python -m pytest -m "not browser" --junitxml="$reports/sqlite.xml" "$@" || status=1
TEST_DATABASE_URL=postgres://orch:orch@127.0.0.1/orch \
  python -m pytest -m "not browser" --junitxml="$reports/postgres.xml" "$@" || status=1
python -m pytest -m browser tests/browser --junitxml="$reports/browser.xml" "$@"
browser_status=$?
# Exit 5 means "no tests collected", which is not a failure of the browser run.
[ $browser_status -ne 0 ] && [ $browser_status -ne 5 ] && status=1
python scripts/summarize_junit.py "$reports"/*.xml || status=1
exit $status
