#!/usr/bin/env bash
# Installs what the orchestrator needs on Debian (as root), creates .venv and makes sure a Docker
# engine answers. `scripts/setup.sh --dev` adds what the tests need (Chromium, promtool, Redis).
set -euo pipefail
cd "$(dirname "$0")/.."

dev=false
[ "${1:-}" = "--dev" ] && dev=true

packages=(docker.io python3-venv ca-certificates)
$dev && packages+=(chromium prometheus redis-server docker-compose wrk postgresql)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The prometheus package starts a server of its own; only promtool is wanted here.
if $dev && command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
  systemctl stop prometheus || true
fi

if [ -z "${DOCKER_HOST:-}" ] && ! docker info >/dev/null 2>&1; then
  echo "starting dockerd"
  (dockerd >/var/log/dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/dockerd.log" >&2; exit 1; }
fi

# The tests' PostgreSQL (scripts/test.sh runs the database tests on it too): Debian's cluster,
# started without systemd, with a superuser that may create the run's databases.
if $dev; then
  cluster=$(pg_lsclusters --no-header 2>/dev/null | awk 'NR==1 {print $1" "$2}')
  [ -n "$cluster" ] || { echo "no PostgreSQL cluster after installing postgresql" >&2; exit 1; }
  pg_lsclusters --no-header | awk 'NR==1 {print $4}' | grep -q online || pg_ctlcluster $cluster start
  su postgres -c "psql -tAc \"select 1 from pg_roles where rolname='orch'\"" | grep -q 1 \
    || su postgres -c "psql -qc \"create user orch password 'orch' superuser\""
  su postgres -c "psql -tAc \"select 1 from pg_database where datname='orch'\"" | grep -q 1 \
    || su postgres -c "createdb -O orch orch"
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --upgrade pip >/dev/null
if $dev; then
  .venv/bin/pip install -q -r requirements-dev.txt
else
  .venv/bin/pip install -q -r requirements.txt
fi
