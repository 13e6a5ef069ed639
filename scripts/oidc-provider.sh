#!/usr/bin/env bash
# A loopback OpenID Connect provider for the sign-in tests (seam-auth-oauth2, the API's
# /auth routes): node-oidc-provider, configured in scripts/oidc-provider/server.js.
#
#   scripts/oidc-provider.sh start    install (npm ci, once) and start it, wait until it answers
#   scripts/oidc-provider.sh stop     stop the one this script started
#   scripts/oidc-provider.sh status   say whether it answers
#
# Issuer http://127.0.0.1:9400 (SEAM_OIDC_PORT to change the port); client `seam-test`,
# secret `seam-test-secret`, redirect URI http://127.0.0.1:<any port>/auth/callback.
# Log: /tmp/seam-oidc.log (SEAM_OIDC_LOG). Safe to run repeatedly: `start` does nothing
# when the provider answers already.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
APP="$HERE/oidc-provider"
HOST=127.0.0.1
PORT=${SEAM_OIDC_PORT:-9400}
LOG=${SEAM_OIDC_LOG:-/tmp/seam-oidc.log}
PIDFILE=${SEAM_OIDC_PIDFILE:-/tmp/seam-oidc.pid}
DISCOVERY="http://$HOST:$PORT/.well-known/openid-configuration"

log() { printf '[oidc-provider] %s\n' "$*"; }

answers() {
  curl --silent --fail --max-time 2 --output /dev/null "$DISCOVERY"
}

ensure_installed() {
  if ! command -v node >/dev/null 2>&1; then
    log "ERROR: node is not installed (Node.js 20 or later is needed)"; return 1
  fi
  if [ -f "$APP/node_modules/oidc-provider/package.json" ]; then return 0; fi
  log "installing oidc-provider into $APP/node_modules (npm ci)"
  (cd "$APP" && npm ci --no-audit --no-fund --silent) \
    || { log "ERROR: npm ci failed in $APP"; return 1; }
}

start() {
  if answers; then log "answers on http://$HOST:$PORT"; return 0; fi
  ensure_installed
  log "starting on http://$HOST:$PORT, log $LOG"
  # A simple command in the background, so that $! is node's own pid.
  (cd "$APP" && { SEAM_OIDC_HOST=$HOST SEAM_OIDC_PORT=$PORT nohup node server.js >"$LOG" 2>&1 &
    echo $! >"$PIDFILE"; })
  for _ in $(seq 1 150); do # 30 s
    if answers; then log "answers on http://$HOST:$PORT"; return 0; fi
    if [ -f "$PIDFILE" ] && ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
      log "ERROR: it exited; last lines of $LOG:"; tail -n 20 "$LOG" >&2; return 1
    fi
    sleep 0.2
  done
  log "ERROR: it does not answer on http://$HOST:$PORT after 30s; see $LOG"
  return 1
}

stop() {
  if [ -f "$PIDFILE" ]; then
    local pid
    pid=$(cat "$PIDFILE")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      log "stopped (pid $pid)"
    fi
    rm -f "$PIDFILE"
  else
    log "not started by this script (no $PIDFILE)"
  fi
}

status() {
  if answers; then log "answers on http://$HOST:$PORT"; else log "does not answer on http://$HOST:$PORT"; return 1; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
