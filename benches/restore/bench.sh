#!/usr/bin/env bash
# Restore load benchmark: `restore --from-file dump.zip` against `mariadb < dump.sql` on the
# same generated mariadb-dump output (several hundred MB), one run, same server, same settings.
# Prints MB/s of each and the ratio. Not a test: performance claims live here only.
#
#   benches/restore/bench.sh            # ~400 MB dump (SCALE=1)
#   SCALE=0.25 benches/restore/bench.sh # quicker
#   WORKERS="2 3 4" benches/restore/bench.sh   # one restore run per worker count
#
# Needs mariadb-server + mariadb-client (apt) and python3. Builds `restore` in release mode
# unless RESTORE_BIN points at a binary. Everything lives in a temp dir removed at exit.
set -euo pipefail

SCALE=${SCALE:-1}
# Worker connections for restore; a list ("2 3 4") runs restore once per value.
WORKERS=${WORKERS:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/liberator/target}
if [[ -z "${RESTORE_BIN:-}" ]]; then
  (cd "$ROOT" && cargo build --release -p liberator-restore)
  RESTORE_BIN=$CARGO_TARGET_DIR/release/restore
fi

find_bin() { for n in "$@"; do for d in $(echo "$PATH" | tr : ' ') /usr/sbin /usr/bin; do [[ -x $d/$n ]] && { echo "$d/$n"; return; }; done; done; echo "missing: $*" >&2; exit 1; }
MARIADBD=$(find_bin mariadbd mysqld)
INSTALL_DB=$(find_bin mariadb-install-db mysql_install_db)
CLIENT=$(find_bin mariadb mysql)
DUMP=$(find_bin mariadb-dump mysqldump)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/restore-bench.XXXXXX")
SERVER_PID=
cleanup() { [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$INSTALL_DB" --no-defaults --user="$(id -un)" --datadir="$WORK/data" --auth-root-authentication-method=normal --skip-test-db >"$WORK/install.log" 2>&1
# One server configuration for both loaders; binary log off (Debian's default).
"$MARIADBD" --no-defaults --user="$(id -un)" --datadir="$WORK/data" --socket="$WORK/sock" --port="$PORT" \
  --bind-address=127.0.0.1 --innodb-buffer-pool-size=1G --innodb-log-file-size=512M \
  --max-allowed-packet=256M --skip-name-resolve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
until "$CLIENT" --no-defaults --socket="$WORK/sock" -uroot -e 'SELECT 1' >/dev/null 2>&1; do sleep 0.5; done
sql() { "$CLIENT" --no-defaults --socket="$WORK/sock" -uroot "$@"; }

# --- Generate data with the server's sequence engine, then dump it with mariadb-dump. ------
rows() { python3 -c "print(max(1000, int($1 * $SCALE)))"; }
echo "generating data (SCALE=$SCALE)..." >&2
sql <<SQL
CREATE DATABASE gen;
USE gen;
CREATE TABLE vehicles (id INT PRIMARY KEY, vrm VARCHAR(10) NOT NULL, make VARCHAR(30), colour VARCHAR(20),
  created DATETIME NOT NULL, KEY vrm (vrm)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE pcns (id INT PRIMARY KEY, ticket_ref VARCHAR(12) NOT NULL, vehicle_id INT NOT NULL, issued DATETIME NOT NULL,
  amount DECIMAL(8,2) NOT NULL, status VARCHAR(20) NOT NULL, street VARCHAR(60), notes TEXT,
  UNIQUE KEY ticket_ref (ticket_ref), KEY vehicle (vehicle_id), KEY issued (issued),
  CONSTRAINT fk_vehicle FOREIGN KEY (vehicle_id) REFERENCES vehicles (id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE payments (id INT PRIMARY KEY, pcn_id INT NOT NULL, paid_at DATETIME NOT NULL, amount DECIMAL(8,2),
  method VARCHAR(12), reference VARCHAR(40), KEY pcn (pcn_id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE events (id BIGINT PRIMARY KEY, pcn_id INT NOT NULL, kind VARCHAR(20) NOT NULL, at DATETIME NOT NULL,
  payload VARCHAR(400), KEY pcn (pcn_id), KEY at (at)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
SET unique_checks=0, foreign_key_checks=0;
INSERT INTO vehicles SELECT seq, CONCAT(CHAR(65 + seq % 26), CHAR(65 + seq % 23), LPAD(seq % 100, 2, '0'), ' ', SUBSTR(MD5(seq), 1, 3)),
  ELT(1 + seq % 5, 'Ford', 'Vauxhall', 'Škoda', 'BMW', 'O''Reilly Motors'), ELT(1 + seq % 4, 'red', 'blue', 'silver', NULL),
  '2015-01-01' + INTERVAL (seq * 7919) % 300000000 SECOND FROM seq_1_to_$(rows 500000);
INSERT INTO pcns SELECT seq, CONCAT('HK', LPAD(seq, 10, '0')), 1 + seq % $(rows 500000), '2018-01-01' + INTERVAL (seq * 104729) % 200000000 SECOND,
  (seq % 13000) / 100, ELT(1 + seq % 4, 'open', 'paid', 'cancelled', 'appeal'), CONCAT(seq % 997, ' Mare Street; Hackney'),
  IF(seq % 3 = 0, NULL, CONCAT('Note "', MD5(seq), '" \\\\ ', REPEAT(SHA1(seq), 1 + seq % 3)))
  FROM seq_1_to_$(rows 1400000);
INSERT INTO payments SELECT seq, 1 + (seq * 7) % $(rows 1400000), '2018-02-01' + INTERVAL (seq * 15485863) % 200000000 SECOND,
  (seq % 13000) / 100, ELT(1 + seq % 3, 'card', 'cash', 'cheque'), UUID() FROM seq_1_to_$(rows 1000000);
INSERT INTO events SELECT seq, 1 + seq % $(rows 1400000), ELT(1 + seq % 6, 'issued', 'letter', 'appeal', 'paid', 'note', 'closed'),
  '2018-01-01' + INTERVAL (seq * 6700417) % 200000000 SECOND, CONCAT('{"by":"officer ', seq % 301, '","text":"', REPEAT(MD5(seq), 1 + seq % 4), '"}')
  FROM seq_1_to_$(rows 2000000);
SQL
"$DUMP" --no-defaults --socket="$WORK/sock" -uroot --single-transaction --routines --triggers gen >"$WORK/dump.sql"
sql -e 'DROP DATABASE gen'
python3 - "$WORK/dump.sql" "$WORK/dump.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
    z.write(sys.argv[1], "liberator_dump.sql")
PY
BYTES=$(stat -c %s "$WORK/dump.sql")
echo "dump: $(( BYTES / 1000000 )) MB SQL, $(( $(stat -c %s "$WORK/dump.zip") / 1000000 )) MB zip, $(grep -c '^INSERT' "$WORK/dump.sql") INSERT statements" >&2

counts() {
  sql -N -e "SELECT table_name FROM information_schema.tables WHERE table_schema='$1' ORDER BY 1" |
    while read -r t; do echo "$t $(sql -N -e "SELECT COUNT(*) FROM \`$1\`.\`$t\`")"; done
}
now() { date +%s.%N; }
# Server CPU seconds so far (user + system), to see where the time goes.
server_cpu() { python3 -c "import os; f=open('/proc/$SERVER_PID/stat').read().rsplit(')',1)[1].split(); print((int(f[11])+int(f[12]))/os.sysconf('SC_CLK_TCK'))"; }

# --- The mysql client, one stream. -------------------------------------------------------
sql -e 'CREATE DATABASE via_client'
sync
C0=$(server_cpu); T0=$(now)
sql via_client <"$WORK/dump.sql"
T1=$(now); C1=$(server_cpu)
CLIENT_S=$(python3 -c "print($T1 - $T0)")
CLIENT_CPU=$(python3 -c "print($C1 - $C0)")
counts via_client >"$WORK/client.counts"
sql -e 'DROP DATABASE via_client'

# --- restore, streaming the zip, once per worker count. ---------------------------------------
RESULTS=()
# Each run: "<workers>[:insert]" (":insert" = no LOAD DATA, no deferred indexes: the plain
# parallel loader, to show what each lever is worth).
RUNS=${RUNS:-"$WORKERS ${WORKERS%% *}:insert"}
for RUN in $RUNS; do
  W=${RUN%%:*}
  MODE=(LOAD_DATA=true DEFER_INDEXES=true)
  [[ $RUN == *:insert ]] && MODE=(LOAD_DATA=false DEFER_INDEXES=false)
  sql -e 'DROP DATABASE IF EXISTS via_restore'
  sync
  C0=$(server_cpu); T0=$(now)
  env "${MODE[@]}" MYSQL_HOST=127.0.0.1 MYSQL_PORT=$PORT MYSQL_USER=root MYSQL_TLS=false DB_NAME=via_restore LOAD_WORKERS=$W \
    RUST_LOG=${RUST_LOG:-warn} "$RESTORE_BIN" --from-file "$WORK/dump.zip"
  T1=$(now); C1=$(server_cpu)
  counts via_restore >"$WORK/restore.counts"
  if ! diff "$WORK/client.counts" "$WORK/restore.counts" >&2; then
    echo "row counts differ between the mysql client and restore ($W workers)" >&2
    exit 1
  fi
  RESULTS+=("$RUN:$(python3 -c "print($T1 - $T0)"):$(python3 -c "print($C1 - $C0)")")
done

python3 - "$BYTES" "$CLIENT_S" "$CLIENT_CPU" "${RESULTS[@]}" <<'PY'
import sys
b, c, ccpu = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
print(f"dump.sql: {b/1e6:.1f} MB, row counts identical for every run")
print(f"{'loader':<36}{'seconds':>9}{'MB/s':>9}{'server CPU-s':>14}{'vs client':>11}")
print(f"{'mariadb < dump.sql':<36}{c:9.1f}{b/1e6/c:9.2f}{ccpu:14.1f}{1:10.2f}x")
for r in sys.argv[4:]:
    *run, s, cpu = r.split(":")
    s, cpu = float(s), float(cpu)
    label = f"restore, {run[0]} workers" + (", INSERT only" if len(run) > 1 else "")
    print(f"{label:<36}{s:9.1f}{b/1e6/s:9.2f}{cpu:14.1f}{c/s:10.2f}x")
PY
