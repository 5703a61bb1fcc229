#!/usr/bin/env bash
# Sets up (see setup.sh) and runs the orchestrator: web on :8000 and the worker, SQLite in ./data.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python manage.py runorchestrator --host "${HOST:-0.0.0.0}" --port "${PORT:-8000}"
