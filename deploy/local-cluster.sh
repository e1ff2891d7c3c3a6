#!/usr/bin/env bash
# Two `medtalk serve` nodes + one `medtalk worker` + nginx on this machine, against PostgreSQL,
# Redis and RabbitMQ (defaults: the local ones). Dev only: it uses throwaway secrets.
#
#   deploy/local-cluster.sh            # then open http://127.0.0.1:8080 ; Ctrl-C stops all
#
# Override with PG_URL, REDIS_URL, AMQP_URL, LISTEN_PORT, NODE_PORTS="8091 8092".
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/medtalk ] || make setup

PG_URL=${PG_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/medtalk_cluster}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/5}
AMQP_URL=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}
LISTEN_PORT=${LISTEN_PORT:-8080}
NODE_PORTS=${NODE_PORTS:-"8091 8092"}
RUN_DIR=${RUN_DIR:-$(mktemp -d /tmp/medtalk-cluster-XXXX)}
chmod 755 "$RUN_DIR"

# Create the database if it is missing (PostgreSQL URL without the driver part for psql).
plain_url=${PG_URL/+asyncpg/}
db_name=${plain_url##*/}
if command -v psql >/dev/null; then
  psql "${plain_url%/*}/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname='$db_name'" \
    | grep -q 1 || psql "${plain_url%/*}/postgres" -c "CREATE DATABASE \"$db_name\"" >/dev/null
fi

export MEDTALK_DATABASE_URL=$PG_URL
export MEDTALK_REDIS_URL=$REDIS_URL
export MEDTALK_REDIS_PREFIX=${MEDTALK_REDIS_PREFIX:-medtalk-local}
export MEDTALK_AMQP_URL=$AMQP_URL
export MEDTALK_AMQP_PREFIX=${MEDTALK_AMQP_PREFIX:-medtalk-local}
export MEDTALK_DATA_DIR=$RUN_DIR/data
export MEDTALK_AUTO_MIGRATE=false
# Every node must hold the same key ring and secrets (dev-only values, generated per run).
export MEDTALK_ENCRYPTION_KEYS=${MEDTALK_ENCRYPTION_KEYS:-dev:$(head -c 32 /dev/urandom | base64)}
export MEDTALK_JWT_SECRET=${MEDTALK_JWT_SECRET:-dev-only-cluster-jwt-$(head -c 12 /dev/urandom | base64)}
export MEDTALK_LINK_SECRET=${MEDTALK_LINK_SECRET:-dev-only-cluster-link-$(head -c 12 /dev/urandom | base64)}

.venv/bin/medtalk migrate

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

servers=""
index=0
for port in $NODE_PORTS; do
  index=$((index + 1))
  MEDTALK_NODE_ID=node-$index .venv/bin/medtalk serve --port "$port" >"$RUN_DIR/node-$index.log" 2>&1 &
  pids+=($!)
  servers+="server 127.0.0.1:$port max_fails=1 fail_timeout=5s; "
done
MEDTALK_NODE_ID=worker .venv/bin/medtalk worker >"$RUN_DIR/worker.log" 2>&1 &
pids+=($!)

sed -e "s|\${PREFIX}|$RUN_DIR|g" -e "s|\${UPSTREAM_SERVERS}|$servers|" \
    -e "s|\${LISTEN}|127.0.0.1:$LISTEN_PORT|" deploy/nginx.conf.template >"$RUN_DIR/nginx.conf"
nginx=$(command -v nginx || echo /usr/sbin/nginx)
"$nginx" -p "$RUN_DIR" -c "$RUN_DIR/nginx.conf" &
pids+=($!)

for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$LISTEN_PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
echo "medtalk cluster: http://127.0.0.1:$LISTEN_PORT  (nodes: $NODE_PORTS; logs in $RUN_DIR)"
echo "a token:  MEDTALK_JWT_SECRET='$MEDTALK_JWT_SECRET' .venv/bin/medtalk token <uuid> --role PATIENT"
wait
