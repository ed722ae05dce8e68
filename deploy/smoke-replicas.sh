#!/usr/bin/env bash
# The compose file's topology without Docker: two replicas of a built
# latchkey started together on one PostgreSQL database (a schema of its
# own), the key in LATCHKEY_ENCRYPTION_KEY, no data folder. Checks that both
# become ready (the migrations run once, under their lock), that the
# container health check passes, that an app written through one replica is
# read through the other, and that neither wrote a file.
#
#   deploy/smoke-replicas.sh BINARY      (PostgreSQL from LATCHKEY_TEST_POSTGRES_URL)
set -euo pipefail
bin=$(realpath "$1")
base=${LATCHKEY_TEST_POSTGRES_URL:?set LATCHKEY_TEST_POSTGRES_URL to a PostgreSQL URL}
schema="latchkey_smoke_$$_$RANDOM"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait || true
  PGOPTIONS="-c client_min_messages=warning" psql "$base" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
psql "$base" -qc "CREATE SCHEMA $schema" >/dev/null
case "$base" in *\?*) sep='&' ;; *) sep='?' ;; esac

export LATCHKEY_DATABASE_URL="${base}${sep}search_path=${schema}"
LATCHKEY_ENCRYPTION_KEY=$("$bin" keys generate)
export LATCHKEY_ENCRYPTION_KEY
export LATCHKEY_ADMIN_API_KEY="smoke-admin-key-$RANDOM$RANDOM-0123456789"
export LATCHKEY_DATA_DIR="$work/data"
export LATCHKEY_ADDR=127.0.0.1:0

for i in 1 2; do
  "$bin" serve >"$work/replica$i.log" 2>&1 &
  pids+=($!)
done
addrs=()
for i in 1 2; do
  addr=""
  for _ in $(seq 1 150); do
    addr=$(sed -n 's/.*msg="latchkey is serving" addr=\([^ ]*\).*/\1/p' "$work/replica$i.log")
    [ -n "$addr" ] && break
    if ! kill -0 "${pids[$((i - 1))]}" 2>/dev/null; then break; fi
    sleep 0.2
  done
  if [ -z "$addr" ]; then
    echo "replica $i did not start:" >&2
    cat "$work/replica$i.log" >&2
    exit 1
  fi
  LATCHKEY_ADDR="$addr" "$bin" healthcheck
  addrs+=("$addr")
done

app='{"name": "smoke", "settings": [{"name": "access_token", "level": "user", "secret": true}],
  "oauth_configs": [{"name": "p", "link_url": "https://provider.example/authorize?client_id={{client_id}}",
  "token_url": "https://provider.example/token", "access_token_variable_name": "access_token", "values": {"client_id": "c"}}]}'
curl -fsS -o /dev/null -X PUT -H "Authorization: Bearer $LATCHKEY_ADMIN_API_KEY" -H 'Content-Type: application/json' \
  -d "$app" "http://${addrs[0]}/api/v1/apps/smoke"
if ! curl -fsS -H "Authorization: Bearer $LATCHKEY_ADMIN_API_KEY" "http://${addrs[1]}/api/v1/apps/smoke" | grep -q '"name":"smoke"'; then
  echo "the app written through replica 1 is not read through replica 2" >&2
  exit 1
fi
if [ -e "$LATCHKEY_DATA_DIR" ]; then
  echo "a replica wrote to its data folder, which a read-only container would refuse: $(ls -A "$LATCHKEY_DATA_DIR")" >&2
  exit 1
fi
echo "two replicas on one PostgreSQL: both ready; an app written through one is read through the other"
