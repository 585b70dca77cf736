#!/usr/bin/env bash
# Start three PulseStream nodes on local ports 8001-8003 against the local
# PostgreSQL and Redis, to try a multi-node deployment on one machine.
#
#   scripts/cluster.sh            # start (Ctrl-C stops all three)
#   DATABASE_URL=... REDIS_URL=... scripts/cluster.sh
#
# Put a load balancer in front, or just send requests to any of the ports:
# every node sees the same events, the same keys and one shared quota.
set -euo pipefail
cd "$(dirname "$0")/.."

DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
export PULSESTREAM_ADMIN_TOKEN="${PULSESTREAM_ADMIN_TOKEN:-cluster-admin-token-change-me}"

mkdir -p data
go build -o data/pulsestream ./cmd/pulsestream
data/pulsestream migrate --database "$DATABASE_URL"

pids=()
cleanup() { kill -TERM "${pids[@]}" 2>/dev/null || true; wait; }
trap cleanup EXIT INT TERM

for port in 8001 8002 8003; do
  data/pulsestream serve --addr "127.0.0.1:$port" --database "$DATABASE_URL" --redis "$REDIS_URL" \
    --log-format text >"data/node-$port.log" 2>&1 &
  pids+=($!)
  echo "node on http://127.0.0.1:$port (log: data/node-$port.log)"
done

echo "admin token: $PULSESTREAM_ADMIN_TOKEN"
echo "try: curl -s -X POST 127.0.0.1:8001/admin/v1/tenants -H \"Authorization: Bearer \$PULSESTREAM_ADMIN_TOKEN\" -H 'Content-Type: application/json' -d '{\"name\":\"demo\"}'"
wait
