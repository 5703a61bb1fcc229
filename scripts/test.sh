#!/usr/bin/env bash
# Sets up (see setup.sh --dev) and runs every test:
# - the main suite on SQLite and the same suite on PostgreSQL (TEST_DATABASE_URL; what is about
#   SQLite itself skips there, what needs PostgreSQL skips on SQLite), side by side and each in two
#   pytest-xdist workers (a test file stays in one worker, with its module fixtures): each worker
#   has its own data folder, port block, container label and databases (tests/environment.py),
#   and most of a test's time is spent waiting on Docker and on the processes it starts;
# - then, each in a process of its own, the tests marked `alone` (they stop this machine's dockerd,
#   or pytest-xdist cannot spread them), on both databases;
# - then the browser tests in their own pytest process (Playwright's sync API and pytest-django's
#   database handling do not mix).
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev || exit 1
. .venv/bin/activate

ruff check . || exit 1
reports=$(mktemp -d)
postgres=postgres://orch:orch@127.0.0.1/orch
status=0

main=(-m "not browser and not alone" -n 2 --dist loadfile)
python -m pytest "${main[@]}" --junitxml="$reports/sqlite.xml" "$@" \
  >"$reports/sqlite.log" 2>&1 &
sqlite_run=$!
TEST_DATABASE_URL=$postgres python -m pytest "${main[@]}" \
  --junitxml="$reports/postgres.xml" "$@" >"$reports/postgres.log" 2>&1 &
postgres_run=$!
wait $sqlite_run || status=1
echo "== main suite on SQLite"; cat "$reports/sqlite.log"
wait $postgres_run || status=1
echo "== main suite on PostgreSQL"; cat "$reports/postgres.log"

echo "== tests run alone"
python -m pytest -m alone --junitxml="$reports/alone-sqlite.xml" "$@" || status=1
TEST_DATABASE_URL=$postgres python -m pytest -m alone --junitxml="$reports/alone-postgres.xml" "$@" \
  || status=1

echo "== browser tests"
python -m pytest -m browser tests/browser --junitxml="$reports/browser.xml" "$@"
browser_status=$?
# Exit 5 means "no tests collected", which is not a failure of the browser run.
[ $browser_status -ne 0 ] && [ $browser_status -ne 5 ] && status=1
python scripts/summarize_junit.py "$reports"/*.xml || status=1
exit $status
