#!/usr/bin/env bash
# Stops k3rs and removes what scripts/install.sh added. Data stays unless --purge is given.
set -euo pipefail
BIN_DIR="${INSTALL_K3RS_BIN_DIR:-/usr/local/bin}"
DATA_DIR="${K3RS_DATA_DIR:-/var/lib/k3rs}"
purge=false
[ "${1:-}" = "--purge" ] && purge=true
[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 1; }

if [ -f /etc/systemd/system/k3rs.service ]; then
  systemctl disable --now k3rs >/dev/null 2>&1 || true
  rm -f /etc/systemd/system/k3rs.service
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
if [ -f "$DATA_DIR/k3rs.pid" ]; then
  pid=$(cat "$DATA_DIR/k3rs.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$DATA_DIR/k3rs.pid"
fi
rm -f "$BIN_DIR/k3rs" "$BIN_DIR/k3rs-uninstall.sh"
rm -rf /etc/k3rs
if $purge; then
  rm -rf "$DATA_DIR"
  echo "k3rs removed, data purged"
else
  echo "k3rs removed; data kept in $DATA_DIR (use --purge to delete it)"
fi
