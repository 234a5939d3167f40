#!/usr/bin/env bash
# Make a PostgreSQL server answer on 127.0.0.1:5432 with `trust` for local TCP connections
# (the tests connect as `postgres` without a password). Installs Debian's package when no
# server is installed; idempotent, so a developer can run it as often as they like.
set -euo pipefail

if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
  echo "ci: installing PostgreSQL from Debian's packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

version=$(ls /etc/postgresql | sort -V | tail -n 1)
hba=/etc/postgresql/$version/main/pg_hba.conf
if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
  # First match wins in pg_hba.conf: put the trust line for loopback on top.
  sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  if pg_isready -h 127.0.0.1 -p 5432 -q; then
    pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  fi
fi
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
fi
for _ in $(seq 1 60); do
  pg_isready -h 127.0.0.1 -p 5432 -q && exit 0
  sleep 0.5
done
echo "ci: PostgreSQL did not start on 127.0.0.1:5432" >&2
exit 1
