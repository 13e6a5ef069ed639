#!/usr/bin/env bash
# Starts the small test servers that are not system services, if they are not answering
# already, and waits until each answers. Safe to run repeatedly.
#
#   SMTP sinks (aiosmtpd), all storing every message in one Maildir:
#             $SEAM_TEST_SMTP_MAILDIR, default /tmp/seam-smtp-sink
#     127.0.0.1:2525  plain
#     127.0.0.1:2587  STARTTLS required
#     127.0.0.1:2465  implicit TLS (SMTPS)
#   The TLS sinks use a certificate for 127.0.0.1 signed by a throw-away test CA, in
#   $SEAM_TEST_SMTP_TLS_DIR (default /tmp/seam-smtp-tls): ca.pem, cert.pem, key.pem.
#
# The SMTP adapter's integration tests read that Maildir back.
#
# Then the servers that have scripts of their own (each installs what it needs):
#   127.0.0.1:9000  S3-compatible server checking SigV4 (scripts/s3-server.sh)
#   127.0.0.1:9400  OpenID Connect provider (scripts/oidc-provider.sh)
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

MAILDIR=${SEAM_TEST_SMTP_MAILDIR:-/tmp/seam-smtp-sink}
TLS_DIR=${SEAM_TEST_SMTP_TLS_DIR:-/tmp/seam-smtp-tls}
PYTHON=python3

ensure_aiosmtpd() {
  if ! command -v python3 >/dev/null 2>&1; then
    log "ERROR: python3 is not installed (apt-get install python3 python3-pip)"; return 1
  fi
  if "$PYTHON" -c 'import aiosmtpd' 2>/dev/null; then return 0; fi
  log "installing aiosmtpd"
  # pip first; a Debian python refuses plain pip installs (PEP 668), so then the
  # override, and as a last resort Debian's own package for the system python.
  python3 -m pip install --quiet aiosmtpd 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages aiosmtpd 2>/dev/null \
    || { command -v apt-get >/dev/null 2>&1 \
         && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-aiosmtpd >/dev/null \
         && PYTHON=/usr/bin/python3; } \
    || { log "ERROR: cannot install aiosmtpd (python3 -m pip install aiosmtpd)"; return 1; }
}

ensure_test_certificate() {
  if [ -s "$TLS_DIR/ca.pem" ] && [ -s "$TLS_DIR/cert.pem" ] && [ -s "$TLS_DIR/key.pem" ]; then
    return 0
  fi
  if ! command -v openssl >/dev/null 2>&1; then
    log "ERROR: openssl is not installed (apt-get install openssl)"; return 1
  fi
  log "creating a test CA and a certificate for 127.0.0.1 in $TLS_DIR"
  mkdir -p "$TLS_DIR"
  local work
  work=$(mktemp -d)
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Seam test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
    -keyout "$work/ca-key.pem" -out "$work/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$work/key.pem" -out "$work/cert.csr" 2>/dev/null
  printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$work/ext.cnf"
  openssl x509 -req -in "$work/cert.csr" -CA "$work/ca.pem" -CAkey "$work/ca-key.pem" \
    -CAcreateserial -days 3650 -extfile "$work/ext.cnf" -out "$work/cert.pem" 2>/dev/null
  mv "$work/key.pem" "$work/cert.pem" "$TLS_DIR/"
  mv "$work/ca.pem" "$TLS_DIR/ca.pem"
  rm -rf "$work"
}

start_smtp_sink() { # name port [aiosmtpd TLS options...]
  local name=$1 host=127.0.0.1 port=$2
  shift 2
  if answers "$host" "$port"; then log "$name answers on $host:$port"; return 0; fi
  log "starting $name on $host:$port, Maildir $MAILDIR"
  # -n: do not setuid to nobody (we may not be root, and the Maildir is ours).
  nohup "$PYTHON" -m aiosmtpd -n -l "$host:$port" "$@" -c aiosmtpd.handlers.Mailbox "$MAILDIR" \
    >"${TMPDIR:-/tmp}/seam-$name.log" 2>&1 &
  wait_for "$name" "$host" "$port" 30
}

ensure_aiosmtpd
ensure_test_certificate
# Python's Maildir only creates its cur/new/tmp when it creates the folder itself.
mkdir -p "$MAILDIR/cur" "$MAILDIR/new" "$MAILDIR/tmp"
start_smtp_sink smtp-sink 2525
start_smtp_sink smtp-sink-starttls 2587 --tlscert "$TLS_DIR/cert.pem" --tlskey "$TLS_DIR/key.pem"
start_smtp_sink smtp-sink-tls 2465 --smtpscert "$TLS_DIR/cert.pem" --smtpskey "$TLS_DIR/key.pem"
here=$(dirname "$0")
"$here/s3-server.sh" start
"$here/oidc-provider.sh" start
log "all test servers answer"
