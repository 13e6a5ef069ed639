#!/usr/bin/env bash
# Starts the local servers the test suite talks to, if they are not answering already,
# and waits until each answers. Safe to run repeatedly.
#
#   PostgreSQL 127.0.0.1:5432 (trust, user postgres)
#   Redis      127.0.0.1:6379
#   RabbitMQ   127.0.0.1:5672 (guest/guest)
#
# On machines where they run as system services this only checks them.
set -euo pipefail

log() { printf '[services] %s\n' "$*"; }

answers() { # host port
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

wait_for() { # name host port seconds
  local name=$1 host=$2 port=$3 seconds=$4
  for _ in $(seq 1 "$seconds"); do
    if answers "$host" "$port"; then
      log "$name answers on $host:$port"
      return 0
    fi
    sleep 1
  done
  log "ERROR: $name does not answer on $host:$port after ${seconds}s"
  return 1
}

start_postgres() {
  if answers 127.0.0.1 5432; then log "postgres answers on 127.0.0.1:5432"; return 0; fi
  log "starting postgres"
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  else
    log "ERROR: PostgreSQL is not installed (apt-get install postgresql)"; return 1
  fi
  wait_for postgres 127.0.0.1 5432 60
  # Readiness, not just a listening socket.
  for _ in $(seq 1 30); do
    if pg_isready -q -h 127.0.0.1 -p 5432; then return 0; fi
    sleep 1
  done
  log "ERROR: postgres listens but is not ready"; return 1
}

start_redis() {
  if answers 127.0.0.1 6379; then log "redis answers on 127.0.0.1:6379"; return 0; fi
  log "starting redis"
  if ! command -v redis-server >/dev/null 2>&1; then
    log "ERROR: Redis is not installed (apt-get install redis-server)"; return 1
  fi
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for redis 127.0.0.1 6379 30
}

start_rabbitmq() {
  if answers 127.0.0.1 5672; then log "rabbitmq answers on 127.0.0.1:5672"; return 0; fi
  log "starting rabbitmq"
  if ! command -v rabbitmq-server >/dev/null 2>&1; then
    log "ERROR: RabbitMQ is not installed (apt-get install rabbitmq-server)"; return 1
  fi
  rabbitmq-server -detached
  wait_for rabbitmq 127.0.0.1 5672 120
}

start_postgres
start_redis
start_rabbitmq
log "all services answer"
