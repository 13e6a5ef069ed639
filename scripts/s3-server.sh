#!/usr/bin/env bash
# A local S3-compatible server for the storage adapters' integration tests and benchmark:
# s3s-fs (https://crates.io/crates/s3s-fs), which keeps objects as files and CHECKS
# SigV4 signatures (headers and presigned URLs), so wrong credentials are refused (403).
#
#   scripts/s3-server.sh start     start it unless something answers already; wait until ready
#   scripts/s3-server.sh stop      stop the server this script started
#   scripts/s3-server.sh status    say whether it answers, and prove it checks signatures
#   scripts/s3-server.sh restart   stop, then start
#
# Installs s3s-fs with `cargo install` when it is missing. Settings (environment):
#
#   SEAM_S3_PORT        listen port on 127.0.0.1          default 9000
#   SEAM_S3_DIR         where the objects live            default /tmp/seam-s3
#   SEAM_S3_ACCESS_KEY  the one accepted access key       default seam-test-access
#   SEAM_S3_SECRET_KEY  its secret                        default seam-test-secret-key
#   SEAM_S3_BUCKET      bucket created at start           default seam-test
#   SEAM_S3_LOG         server log                        default /tmp/seam-s3.log
#   SEAM_S3_PID         pid file of the server it starts  default /tmp/seam-s3.pid
#
# The credentials are fixed test values, not secrets: the server only listens on loopback.
# Tests isolate their data with a unique key prefix in the one bucket (s3s-fs maps a
# bucket to a directory, so creating it is a mkdir).
set -euo pipefail

S3S_FS_VERSION=0.14.1 # the newest s3s-fs that builds on rustc 1.95 (0.15+ need 1.96)
HOST=127.0.0.1
PORT=${SEAM_S3_PORT:-9000}
DATA_DIR=${SEAM_S3_DIR:-/tmp/seam-s3}
ACCESS_KEY=${SEAM_S3_ACCESS_KEY:-seam-test-access}
SECRET_KEY=${SEAM_S3_SECRET_KEY:-seam-test-secret-key}
BUCKET=${SEAM_S3_BUCKET:-seam-test}
LOG_FILE=${SEAM_S3_LOG:-/tmp/seam-s3.log}
PID_FILE=${SEAM_S3_PID:-/tmp/seam-s3.pid}
REGION=us-east-1
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

log() { printf '[s3-server] %s\n' "$*"; }

answers() { # host port
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

s3s_fs_binary() {
  if command -v s3s-fs >/dev/null 2>&1; then
    command -v s3s-fs
  elif [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs" ]; then
    printf '%s\n' "${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs"
  else
    return 1
  fi
}

ensure_s3s_fs() {
  if s3s_fs_binary >/dev/null; then return 0; fi
  if ! command -v cargo >/dev/null 2>&1; then
    log "ERROR: s3s-fs is not installed and cargo is missing to install it"; return 1
  fi
  log "installing s3s-fs $S3S_FS_VERSION (cargo install, a few minutes)"
  cargo install --locked --quiet s3s-fs --version "$S3S_FS_VERSION" --features binary \
    || { log "ERROR: cargo install s3s-fs failed"; return 1; }
  s3s_fs_binary >/dev/null || { log "ERROR: s3s-fs installed but not found on PATH"; return 1; }
}

# The HTTP status of a signed `ListObjectsV2` on the bucket with the given secret.
signed_list_status() { # secret
  curl --silent --output /dev/null --write-out '%{http_code}' --max-time 5 \
    --aws-sigv4 "aws:amz:$REGION:s3" --user "$ACCESS_KEY:$1" \
    --header "x-amz-content-sha256: $EMPTY_SHA256" \
    "http://$HOST:$PORT/$BUCKET?list-type=2&max-keys=1" || true
}

our_pid() { # the pid of the server this script started, if it still runs
  [ -s "$PID_FILE" ] || return 1
  local pid
  pid=$(cat "$PID_FILE")
  if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 's3s-fs'; then
    printf '%s\n' "$pid"
  else
    return 1
  fi
}

start() {
  mkdir -p "$DATA_DIR/$BUCKET"
  if answers "$HOST" "$PORT"; then
    log "something answers on $HOST:$PORT already; not starting another server"
    return 0
  fi
  ensure_s3s_fs
  local binary
  binary=$(s3s_fs_binary)
  log "starting s3s-fs on $HOST:$PORT, data in $DATA_DIR, bucket $BUCKET, log $LOG_FILE"
  RUST_LOG=${RUST_LOG:-s3s_fs=warn,s3s=warn} nohup "$binary" \
    --host "$HOST" --port "$PORT" \
    --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY" \
    "$DATA_DIR" >"$LOG_FILE" 2>&1 &
  echo $! >"$PID_FILE"
  for _ in $(seq 1 150); do # 30 s
    if answers "$HOST" "$PORT" && [ "$(signed_list_status "$SECRET_KEY")" = 200 ]; then
      log "s3s-fs answers on http://$HOST:$PORT (bucket $BUCKET)"
      return 0
    fi
    if ! our_pid >/dev/null; then
      log "ERROR: s3s-fs exited; see $LOG_FILE:"; tail -n 20 "$LOG_FILE" >&2 || true
      return 1
    fi
    sleep 0.2
  done
  log "ERROR: s3s-fs does not answer on $HOST:$PORT after 30s; see $LOG_FILE"
  return 1
}

stop() {
  local pid
  if ! pid=$(our_pid); then
    rm -f "$PID_FILE"
    log "no s3s-fs started by this script is running"
    return 0
  fi
  log "stopping s3s-fs (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do # 10 s, then the hard way
    kill -0 "$pid" 2>/dev/null || { rm -f "$PID_FILE"; log "stopped"; return 0; }
    sleep 0.2
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PID_FILE"
  log "killed"
}

status() {
  if ! answers "$HOST" "$PORT"; then
    log "nothing answers on $HOST:$PORT (start it with scripts/s3-server.sh start)"
    return 1
  fi
  local good bad
  good=$(signed_list_status "$SECRET_KEY")
  bad=$(signed_list_status "not-the-secret")
  log "answers on http://$HOST:$PORT; bucket $BUCKET: right secret -> $good, wrong secret -> $bad"
  if [ "$good" = 200 ] && [ "$bad" = 403 ]; then
    log "signatures are checked"
  else
    log "ERROR: expected 200 with the right secret and 403 with a wrong one"
    return 1
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  restart) stop; start ;;
  *) echo "usage: $0 start|stop|status|restart" >&2; exit 2 ;;
esac
