# Shared helpers for k3rs scripts. Source it; it defines functions only.

log() { printf '\033[1m[k3rs]\033[0m %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root for: $*"; fi
}

# apt_install PKG... — installs the Debian packages that are missing (one apt-get update first).
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "apt-get not found; install these packages by hand: ${missing[*]}"
  log "installing ${missing[*]} (apt-get)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Build dependencies of k3rs itself.
install_build_deps() {
  apt_install ca-certificates protobuf-compiler build-essential pkg-config
  if ! command -v cargo >/dev/null; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
  fi
  command -v cargo >/dev/null || die "cargo not found: install a Rust toolchain (rustup, Rust >= 1.85)"
  fetch_k8s_protos
}

# Upstream's protobuf schemas (generated.proto files of the Kubernetes API Go modules), which the
# build compiles in to decode protobuf request bodies. They come from the Go module proxy into the Go
# module cache; nothing from them is committed.
fetch_k8s_protos() {
  command -v go >/dev/null || { log "warning: Go not found; k3rs will build without protobuf support"; return 0; }
  go_download k8s.io/api@v0.35.4 k8s.io/apimachinery@v0.35.4 k8s.io/apiextensions-apiserver@v0.35.4 \
    || log "warning: could not download the protobuf schemas; k3rs will build without protobuf support"
}

# What the test suite drives for real: etcd (server and etcdctl), curl, and upstream's discovery
# documents (the k8s.io/kubernetes Go module) as a test oracle.
install_test_deps() {
  install_build_deps
  apt_install etcd-server etcd-client curl
  command -v python3 >/dev/null && python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3 python3-venv
  go_download k8s.io/kubernetes@v1.35.4
  python_client_env
}

# python_client_env — a venv with the official Kubernetes Python client, for
# cmd/k3rs/tests/python_client.rs (which finds it at $K3RS_PYENV).
python_client_env() {
  export K3RS_PYENV="${K3RS_PYENV:-$HOME/.cache/k3rs/pyenv}"
  [ -x "$K3RS_PYENV/bin/python" ] && "$K3RS_PYENV/bin/python" -c 'import kubernetes' 2>/dev/null && return 0
  log "pip install kubernetes (into $K3RS_PYENV)"
  python3 -m venv "$K3RS_PYENV"
  "$K3RS_PYENV/bin/pip" install -q kubernetes
}

# go_download MODULE@VERSION... — into the Go module cache, if missing.
go_download() {
  command -v go >/dev/null || die "Go is needed for: $*"
  local cache missing=() tmp; cache=$(go env GOMODCACHE)
  for m in "$@"; do [ -d "$cache/$m" ] || missing+=("$m"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "go mod download ${missing[*]}"
  tmp=$(mktemp -d)
  ( cd "$tmp" && go mod init k3rs-fetch >/dev/null 2>&1 && GOFLAGS=-mod=mod go mod download "${missing[@]}" ) || { rm -rf "$tmp"; return 1; }
  rm -rf "$tmp"
}
