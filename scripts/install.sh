#!/usr/bin/env bash
# Installs k3rs from this checkout and starts it: installs what k3rs needs (apt-get), builds the
# binary, installs it to /usr/local/bin/k3rs, starts `k3rs server` as a service (a systemd unit where
# systemd runs, otherwise a background process with a pidfile and a log under the data dir) and waits
# until it is ready. Running it again upgrades in place; data is kept.
#
# Environment (named as k3s' installer where the meaning is the same):
#   INSTALL_K3RS_EXEC        what to run (default "server"), e.g. "server --https-listen-port 7443"
#   INSTALL_K3RS_SKIP_START  "true": install only, start nothing
#   INSTALL_K3RS_SKIP_BUILD  "true": use an existing target/release/k3rs
#   INSTALL_K3RS_BIN_DIR     where the binary goes (default /usr/local/bin)
#   K3RS_DATA_DIR            data directory (default /var/lib/k3rs)
#   K3RS_TOKEN               cluster token, passed as --token
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh

EXEC="${INSTALL_K3RS_EXEC:-server}"
BIN_DIR="${INSTALL_K3RS_BIN_DIR:-/usr/local/bin}"
DATA_DIR="${K3RS_DATA_DIR:-/var/lib/k3rs}"
PIDFILE="$DATA_DIR/k3rs.pid"
LOGFILE="$DATA_DIR/k3rs.log"
UNIT=/etc/systemd/system/k3rs.service

[ "$(id -u)" -eq 0 ] || die "run as root (it installs packages, a binary under $BIN_DIR and a service)"

install_build_deps
apt_install curl
if [ "${INSTALL_K3RS_SKIP_BUILD:-}" != "true" ]; then
  log "building k3rs (cargo build --release)"
  cargo build --release --locked -p k3rs
fi
[ -x target/release/k3rs ] || die "target/release/k3rs was not built"

log "installing $BIN_DIR/k3rs"
mkdir -p "$BIN_DIR" "$DATA_DIR"
install -m 0755 target/release/k3rs "$BIN_DIR/k3rs.new"
mv -f "$BIN_DIR/k3rs.new" "$BIN_DIR/k3rs"
install -m 0755 scripts/uninstall.sh "$BIN_DIR/k3rs-uninstall.sh"

if [ "${INSTALL_K3RS_SKIP_START:-}" = "true" ]; then
  log "installed; not started (INSTALL_K3RS_SKIP_START=true)"
  exit 0
fi

read -r -a exec_args <<<"$EXEC"
[ -n "${K3RS_TOKEN:-}" ] && exec_args+=(--token "$K3RS_TOKEN")
sub="${exec_args[0]}"

# A subcommand this version does not have yet: say so, install only.
probe=$("$BIN_DIR/k3rs" "$sub" --help 2>&1 </dev/null | head -n 1 || true)
if [[ "$probe" == *"not implemented yet"* ]]; then
  log "installed $("$BIN_DIR/k3rs" --version); 'k3rs $sub' is not implemented in this version, so nothing was started"
  log "see README.md for what works today (e.g. INSTALL_K3RS_EXEC='datastore serve')"
  exit 0
fi

stop_background() {
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    log "stopping the running k3rs (pid $(cat "$PIDFILE")) for the upgrade"
    kill "$(cat "$PIDFILE")"
    for _ in $(seq 100); do kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$PIDFILE"
}

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
  log "writing $UNIT"
  cat >"$UNIT" <<UNIT
[Unit]
Description=k3rs - lightweight Kubernetes
After=network-online.target
Wants=network-online.target

[Service]
Type=exec
ExecStart=$BIN_DIR/k3rs ${exec_args[*]}
Environment=K3RS_DATA_DIR=$DATA_DIR
Restart=always
RestartSec=2
KillMode=process
LimitNOFILE=1048576

[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable k3rs >/dev/null 2>&1
  systemctl restart k3rs
  alive() { systemctl is-active --quiet k3rs; }
  show_log() { journalctl -u k3rs --no-pager -n 30 || true; }
else
  log "no systemd: running k3rs in the background (pidfile $PIDFILE, log $LOGFILE)"
  stop_background
  K3RS_DATA_DIR="$DATA_DIR" setsid nohup "$BIN_DIR/k3rs" "${exec_args[@]}" >>"$LOGFILE" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  alive() { kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
  show_log() { tail -n 30 "$LOGFILE" || true; }
fi

log "waiting for k3rs to be ready"
ready() {
  case "$sub" in
    server) curl -fsSk --max-time 2 "https://127.0.0.1:${K3RS_HTTPS_PORT:-6443}/readyz" >/dev/null 2>&1 ;;
    *) sleep 1; alive ;;
  esac
}
for i in $(seq 120); do
  if ! alive; then show_log; die "k3rs exited during start (log above)"; fi
  if ready; then
    printf '\n'
    log "k3rs is ready (${exec_args[*]})"
    if [ "$sub" = server ]; then
      log "use it: export KUBECONFIG=/etc/k3rs/k3rs.yaml; kubectl get namespaces"
    fi
    exit 0
  fi
  printf '.' >&2
  sleep 0.5
done
printf '\n'
show_log
die "k3rs did not become ready within 60s (log above)"
