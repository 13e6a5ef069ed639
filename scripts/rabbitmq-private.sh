#!/usr/bin/env bash
# A private RabbitMQ node for tests that stop and start the broker (the shared one on
# 127.0.0.1:5672 is used by other tests at the same time and must not be restarted).
#
#   scripts/rabbitmq-private.sh start|stop|restart|status|clean
#
# The node has its own name, ports and data directory:
#   node      $SEAM_PRIVATE_RABBIT_NODE  (default seam-test@localhost)
#   AMQP      127.0.0.1:$SEAM_PRIVATE_RABBIT_PORT (default 5673), guest/guest
#   dist      $SEAM_PRIVATE_RABBIT_PORT + 20000 (default 25673)
#   data/log  $SEAM_PRIVATE_RABBIT_DIR   (default /tmp/seam-rabbit)
# No plugins (so no management port to clash with the shared node). The data survives
# `stop`/`start`/`restart` (durable queues and persistent messages too); `clean` stops
# the node and removes it.
#
# `start` and `stop` wait (bounded) until the AMQP port answers / is closed and exit
# non-zero with a message when it does not. Erlang's cookie is the system node's
# (/var/lib/rabbitmq/.erlang.cookie): as root, the rabbitmq tools run as user rabbitmq.
set -euo pipefail

NODE=${SEAM_PRIVATE_RABBIT_NODE:-seam-test@localhost}
PORT=${SEAM_PRIVATE_RABBIT_PORT:-5673}
BASE=${SEAM_PRIVATE_RABBIT_DIR:-/tmp/seam-rabbit}
TIMEOUT=${SEAM_PRIVATE_RABBIT_TIMEOUT:-60}

log() { printf '[rabbitmq-private] %s\n' "$*" >&2; }

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

require_tools() {
  local tool
  for tool in rabbitmq-server rabbitmqctl; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      log "ERROR: $tool is not installed (apt-get install rabbitmq-server)"
      exit 1
    fi
  done
}

prepare() {
  mkdir -p "$BASE/mnesia" "$BASE/log"
  printf '[].\n' >"$BASE/enabled_plugins"
  cat >"$BASE/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$PORT
loopback_users.guest = true
EOF
  # The server runs as user rabbitmq when started by root.
  if [ "$(id -u)" = 0 ] && id -u rabbitmq >/dev/null 2>&1; then
    chown -R rabbitmq:rabbitmq "$BASE"
  fi
}

export_env() {
  export RABBITMQ_NODENAME="$NODE"
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT="$PORT"
  export RABBITMQ_DIST_PORT=$((PORT + 20000))
  export RABBITMQ_MNESIA_BASE="$BASE/mnesia"
  export RABBITMQ_LOG_BASE="$BASE/log"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$BASE/enabled_plugins"
  export RABBITMQ_CONFIG_FILE="$BASE/rabbitmq.conf"
  export RABBITMQ_PID_FILE="$BASE/node.pid"
}

start() {
  if answers; then
    log "a node already answers on 127.0.0.1:$PORT"
    return 0
  fi
  prepare
  export_env
  log "starting $NODE on 127.0.0.1:$PORT (data in $BASE)"
  rabbitmq-server -detached >"$BASE/log/start.out" 2>&1 || {
    log "ERROR: rabbitmq-server failed:"; cat "$BASE/log/start.out" >&2; exit 1
  }
  for _ in $(seq 1 "$((TIMEOUT * 5))"); do
    if answers; then
      log "$NODE answers on 127.0.0.1:$PORT"
      return 0
    fi
    sleep 0.2
  done
  log "ERROR: $NODE does not answer on 127.0.0.1:$PORT after ${TIMEOUT}s; log tail:"
  tail -n 40 "$BASE/log/"*.log >&2 2>/dev/null || true
  exit 1
}

stop() {
  export_env
  if answers || rabbitmqctl -q -n "$NODE" status >/dev/null 2>&1; then
    log "stopping $NODE"
    rabbitmqctl -q -n "$NODE" stop "$RABBITMQ_PID_FILE" >/dev/null 2>&1 || true
  fi
  for _ in $(seq 1 "$((TIMEOUT * 5))"); do
    if ! answers; then
      log "$NODE is stopped"
      return 0
    fi
    sleep 0.2
  done
  log "ERROR: 127.0.0.1:$PORT still answers after ${TIMEOUT}s"
  exit 1
}

require_tools
case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; sleep 1; start ;;
  status) if answers; then log "running on 127.0.0.1:$PORT"; else log "not running"; exit 1; fi ;;
  clean) stop; rm -rf "$BASE" ;;
  *) echo "usage: $0 start|stop|restart|status|clean" >&2; exit 2 ;;
esac
