#!/usr/bin/env bash
# Starts the small test servers that are not system services, if they are not answering
# already, and waits until each answers. Safe to run repeatedly.
#
#   SMTP sink 127.0.0.1:2525 (aiosmtpd), storing every message in a Maildir:
#             $SEAM_TEST_SMTP_MAILDIR, default /tmp/seam-smtp-sink
#
# The SMTP adapter's integration tests read that Maildir back.
set -euo pipefail

log() { printf '[test-servers] %s\n' "$*"; }

answers() { # host port
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

wait_for() { # name host port seconds
  local name=$1 host=$2 port=$3 seconds=$4
  for _ in $(seq 1 "$((seconds * 5))"); do
    if answers "$host" "$port"; then
      log "$name answers on $host:$port"
      return 0
    fi
    sleep 0.2
  done
  log "ERROR: $name does not answer on $host:$port after ${seconds}s"
  return 1
}

start_smtp_sink() {
  local host=127.0.0.1 port=2525
  local maildir=${SEAM_TEST_SMTP_MAILDIR:-/tmp/seam-smtp-sink}
  if answers "$host" "$port"; then log "smtp sink answers on $host:$port"; return 0; fi
  if ! command -v python3 >/dev/null 2>&1; then
    log "ERROR: python3 is not installed (apt-get install python3 python3-pip)"; return 1
  fi
  local python=python3
  if ! "$python" -c 'import aiosmtpd' 2>/dev/null; then
    log "installing aiosmtpd"
    # pip first; a Debian python refuses plain pip installs (PEP 668), so then the
    # override, and as a last resort Debian's own package for the system python.
    python3 -m pip install --quiet aiosmtpd 2>/dev/null \
      || python3 -m pip install --quiet --break-system-packages aiosmtpd 2>/dev/null \
      || { command -v apt-get >/dev/null 2>&1 \
           && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-aiosmtpd >/dev/null \
           && python=/usr/bin/python3; } \
      || { log "ERROR: cannot install aiosmtpd (python3 -m pip install aiosmtpd)"; return 1; }
  fi
  # Python's Maildir only creates its cur/new/tmp when it creates the folder itself.
  mkdir -p "$maildir/cur" "$maildir/new" "$maildir/tmp"
  log "starting smtp sink on $host:$port, Maildir $maildir"
  # -n: do not setuid to nobody (we may not be root, and the Maildir is ours).
  nohup "$python" -m aiosmtpd -n -l "$host:$port" -c aiosmtpd.handlers.Mailbox "$maildir" \
    >"${TMPDIR:-/tmp}/seam-smtp-sink.log" 2>&1 &
  wait_for "smtp sink" "$host" "$port" 30
}

start_smtp_sink
log "all test servers answer"
