#!/usr/bin/env bash
# Restore load benchmark: `restore --from-file dump.zip` against `mariadb < dump.sql` (same
# mariadb-dump output) and against myloader (the same tables dumped with mydumper), on one
# generated data set (several hundred MB), each loader RUNS times (default 3) in a rotating
# order. Per loader: every run's wall time, the median, the server's CPU (mariadbd's
# utime+stime from /proc/PID/stat, before/after) and the loader's own CPU (user+sys from
# /usr/bin/time). After every load the row count of every table must equal the source's; a
# run that lost (or gained) rows is FAILED, printed loudly, and the script exits 1.
# Not a test: performance claims live here only.
#
#   benches/restore/bench.sh                       # ~365 MB dump (SCALE=0.5), 3 runs each
#   SCALE=0.1 RUNS=1 benches/restore/bench.sh      # quicker
#   benches/restore/bench.sh --csv results.csv     # also the CSV (or CSV=results.csv)
#   LOADERS="mariadb restore:2 restore:3 myloader" # loaders to run; restore:N = N workers
#
# Settings (environment):
#   SCALE     data size factor (default 0.5 = 250 k vehicles, 700 k pcns, 500 k payments,
#             1 M events: a 365 MB mariadb-dump; 1 = twice that)
#   RUNS      runs per loader (default 3; the table shows the median)
#   WORKERS   restore's worker connections (LOAD_WORKERS) for a plain `restore` entry
#             (default: restore's own default); myloader's threads default to the same
#   MYLOADER_THREADS  myloader -t (default $WORKERS, else 3)
#   MYDUMPER_ROWS     mydumper -r: rows per chunk file, so myloader can load one table on
#             several threads (default 250000)
#   RESTORE_ENV       extra environment for restore runs, e.g. "LOAD_DATA=false"
#   RESTORE_BIN       a restore binary (otherwise built in release mode)
#   KEEP=1    keep the work directory (dumps, logs) and print where it is
#
# Comparable runs: before every run the previous target database is dropped and the server is
# restarted (a clean shutdown flushes every dirty page), so each load starts from the same
# state: an empty buffer pool, no purge or flush backlog from the load before, the same server
# settings. Every loader talks TCP to 127.0.0.1 (the same transport restore uses).
#
# Needs mariadb-server + mariadb-client, mydumper (Debian package: mydumper + myloader),
# /usr/bin/time and python3.
set -euo pipefail

while [[ $# -gt 0 ]]; do
  case $1 in
    --csv) CSV=$2; shift 2 ;;
    --csv=*) CSV=${1#--csv=}; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

SCALE=${SCALE:-0.5}
RUNS=${RUNS:-3}
WORKERS=${WORKERS:-}
MYLOADER_THREADS=${MYLOADER_THREADS:-${WORKERS:-3}}
MYDUMPER_ROWS=${MYDUMPER_ROWS:-250000}
LOADERS=${LOADERS:-"mariadb restore myloader"}
CSV=${CSV:-}
[[ -n $CSV && $CSV != /* ]] && CSV=$PWD/$CSV
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
ADMIN=$(find_bin mariadb-admin mysqladmin)
DUMP=$(find_bin mariadb-dump mysqldump)
MYDUMPER=$(find_bin mydumper)
MYLOADER=$(find_bin myloader)
TIME=$(find_bin time)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/restore-bench.XXXXXX")
SERVER_PID=
stop_server() {
  [[ -z $SERVER_PID ]] && return 0
  "$ADMIN" --no-defaults --socket="$WORK/sock" -uroot shutdown >/dev/null 2>&1 || kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}
cleanup() {
  stop_server
  if [[ -n ${KEEP:-} ]]; then echo "work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$INSTALL_DB" --no-defaults --user="$(id -un)" --datadir="$WORK/data" --auth-root-authentication-method=normal --skip-test-db >"$WORK/install.log" 2>&1
# One server configuration for every loader; binary log off (Debian's default).
start_server() {
  "$MARIADBD" --no-defaults --user="$(id -un)" --datadir="$WORK/data" --socket="$WORK/sock" --port="$PORT" \
    --bind-address=127.0.0.1 --innodb-buffer-pool-size=1G --innodb-log-file-size=512M \
    --max-allowed-packet=256M --skip-name-resolve >>"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  until "$CLIENT" --no-defaults --socket="$WORK/sock" -uroot -e 'SELECT 1' >/dev/null 2>&1; do
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "mariadbd died; see $WORK/server.log" >&2; tail -20 "$WORK/server.log" >&2; exit 1; }
    sleep 0.3
  done
}
start_server
sql() { "$CLIENT" --no-defaults --socket="$WORK/sock" -uroot "$@"; }

# --- Generate data with the server's sequence engine. ---------------------------------------
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

# Row count of every table of database $1, "table count" per line, sorted.
counts() {
  sql -N -e "SELECT table_name FROM information_schema.tables WHERE table_schema='$1' ORDER BY 1" |
    while read -r t; do echo "$t $(sql -N -e "SELECT COUNT(*) FROM \`$1\`.\`$t\`")"; done
}
counts gen >"$WORK/source.counts"

# --- Dump it twice: mariadb-dump (mariadb client, restore) and mydumper (myloader). -----------
echo "dumping with mariadb-dump and mydumper..." >&2
"$DUMP" --no-defaults --socket="$WORK/sock" -uroot --single-transaction --routines --triggers gen >"$WORK/dump.sql"
python3 - "$WORK/dump.sql" "$WORK/dump.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
    z.write(sys.argv[1], "liberator_dump.sql")
PY
# -r: chunks of MYDUMPER_ROWS rows (one file each) so myloader loads a table on several threads;
# schema files, triggers and routines as for mariadb-dump; default statement size (1 MB).
"$MYDUMPER" --socket="$WORK/sock" -u root -B gen -o "$WORK/mydumper" -t "$MYLOADER_THREADS" \
  -r "$MYDUMPER_ROWS" -G -R --trx-consistency-only >"$WORK/mydumper.log" 2>&1
sql -e 'DROP DATABASE gen'
BYTES=$(stat -c %s "$WORK/dump.sql")
ZIP_BYTES=$(stat -c %s "$WORK/dump.zip")
MYD_BYTES=$(du -sb "$WORK/mydumper" | cut -f1)
MYD_FILES=$(find "$WORK/mydumper" -name '*.sql' | wc -l)
INSERTS=$(grep -c '^INSERT' "$WORK/dump.sql")
echo "source rows: $(tr '\n' ' ' <"$WORK/source.counts")" >&2
echo "mariadb-dump: $(( BYTES / 1000000 )) MB SQL ($INSERTS INSERT statements), $(( ZIP_BYTES / 1000000 )) MB zip; mydumper: $(( MYD_BYTES / 1000000 )) MB in $MYD_FILES files" >&2

# --- One run of one loader. -----------------------------------------------------------------
TARGET=target
# Server CPU seconds so far (user + system).
server_cpu() { python3 -c "import os; f=open('/proc/$SERVER_PID/stat').read().rsplit(')',1)[1].split(); print((int(f[11])+int(f[12]))/os.sysconf('SC_CLK_TCK'))"; }
label() {
  case $1 in
    mariadb) echo "mariadb < dump.sql" ;;
    myloader) echo "myloader -t $MYLOADER_THREADS" ;;
    restore) echo "restore${WORKERS:+ $WORKERS workers}${RESTORE_ENV:+ $RESTORE_ENV}" ;;
    restore:*) echo "restore ${1#restore:} workers${RESTORE_ENV:+ $RESTORE_ENV}" ;;
    *) echo "unknown loader: $1" >&2; exit 2 ;;
  esac
}
# run_one LOADER ROUND: sets RES="wall user+sys server ok load_before load_after" (not run in a
# subshell: it restarts the server, whose pid this shell must keep).
run_one() {
  local loader=$1 round=$2 log="$WORK/run.$1.$2.log"
  # Clean state: the last target dropped, the server restarted (dirty pages flushed at shutdown).
  sql -e "DROP DATABASE IF EXISTS $TARGET"
  stop_server
  sync
  start_server
  local cmd
  case $loader in
    mariadb)
      sql -e "CREATE DATABASE $TARGET"
      cmd=(bash -c "exec '$CLIENT' --no-defaults --protocol=tcp -h127.0.0.1 -P$PORT -uroot $TARGET <'$WORK/dump.sql'") ;;
    myloader)
      sql -e "CREATE DATABASE $TARGET"
      cmd=("$MYLOADER" -h 127.0.0.1 -P "$PORT" -u root -d "$WORK/mydumper" -B "$TARGET" -s gen -t "$MYLOADER_THREADS" -o -v 2) ;;
    restore*)
      local w=${WORKERS:-}
      [[ $loader == restore:* ]] && w=${loader#restore:}
      # shellcheck disable=SC2086
      cmd=(env MYSQL_HOST=127.0.0.1 MYSQL_PORT=$PORT MYSQL_USER=root MYSQL_TLS=false DB_NAME=$TARGET
        ${w:+LOAD_WORKERS=$w} ${RESTORE_ENV:-} RUST_LOG=${RUST_LOG:-warn} "$RESTORE_BIN" --from-file "$WORK/dump.zip") ;;
  esac
  local la0 c0 c1 la1 rc=0
  la0=$(cut -d' ' -f1 /proc/loadavg)
  c0=$(server_cpu)
  # `bash -c exec` keeps the measured process the mariadb client itself (no shell in between).
  "$TIME" -f '%e %U %S' -o "$WORK/time.txt" "${cmd[@]}" >"$log" 2>&1 || rc=$?
  c1=$(server_cpu)
  la1=$(cut -d' ' -f1 /proc/loadavg)
  local ok=ok
  if [[ $rc -ne 0 ]]; then
    ok=FAILED
    echo "!!! $(label "$loader") run $round exited $rc; last lines of $log:" >&2
    tail -5 "$log" >&2
  fi
  counts "$TARGET" >"$WORK/target.counts"
  if ! diff "$WORK/source.counts" "$WORK/target.counts" >"$WORK/diff.txt"; then
    ok=FAILED
    echo "!!! $(label "$loader") run $round: row counts differ from the source (< source, > loaded):" >&2
    cat "$WORK/diff.txt" >&2
  fi
  read -r wall user sys < <(tail -1 "$WORK/time.txt")
  RES=$(python3 -c "print(f'$wall {$user + $sys:.2f} {$c1 - $c0:.2f} $ok $la0 $la1')")
}

# --- Rounds, rotating the order. --------------------------------------------------------------
read -r -a L <<<"$LOADERS"
echo "load average before: $(cat /proc/loadavg)" >&2
LOAD_BEFORE=$(cat /proc/loadavg)
RESULTS=()
for ((r = 0; r < RUNS; r++)); do
  for ((k = 0; k < ${#L[@]}; k++)); do
    loader=${L[$(( (k + r) % ${#L[@]} ))]}
    run_one "$loader" "$r"
    echo "round $((r + 1)): $(label "$loader"): wall/client CPU/server CPU/ok/load = $RES" >&2
    RESULTS+=("$loader|$(label "$loader")|$r|$RES")
  done
done
LOAD_AFTER=$(cat /proc/loadavg)
echo "load average after: $LOAD_AFTER" >&2

python3 - "$BYTES" "$ZIP_BYTES" "$MYD_BYTES" "$MYD_FILES" "$INSERTS" "$WORK/source.counts" "$LOAD_BEFORE" "$LOAD_AFTER" "${CSV:-}" "$LOADERS" "${RESULTS[@]}" <<'PY'
import statistics, sys
b, zb, mb, mf, ins = (int(x) for x in sys.argv[1:6])
src = open(sys.argv[6]).read().split("\n")
lb, la, csv_path, order = sys.argv[7], sys.argv[8], sys.argv[9], sys.argv[10].split()
runs = {}
labels = {}
for r in sys.argv[11:]:
    loader, label, rnd, res = r.split("|")
    wall, cpu, srv, ok, l0, l1 = res.split()
    labels[loader] = label
    runs.setdefault(loader, []).append(dict(round=int(rnd), wall=float(wall), cpu=float(cpu), srv=float(srv), ok=ok, l0=l0, l1=l1))
med = lambda xs: statistics.median(xs)
print(f"mariadb-dump: {b/1e6:.1f} MB SQL ({ins} INSERT statements), zip {zb/1e6:.1f} MB; mydumper: {mb/1e6:.1f} MB in {mf} files")
print("source rows: " + ", ".join(l.replace(" ", " ") for l in src if l))
print(f"load average before: {lb}; after: {la}")
print()
print("every run (round: wall s / client CPU-s / server CPU-s, load average 1 min before→after):")
for loader in order:
    rs = sorted(runs[loader], key=lambda x: x["round"])
    print(f"- {labels[loader]}: " + "; ".join(f"{x['round']+1}: {x['wall']:.2f} / {x['cpu']:.2f} / {x['srv']:.2f}{'' if x['ok']=='ok' else ' FAILED'} ({x['l0']}→{x['l1']})" for x in rs))
print()
base = None
rows = []
for loader in order:
    rs = runs[loader]
    failed = any(x["ok"] != "ok" for x in rs)
    w, c, s = med([x["wall"] for x in rs]), med([x["cpu"] for x in rs]), med([x["srv"] for x in rs])
    if loader == "mariadb":
        base = w
    rows.append((loader, labels[loader], rs, failed, w, c, s))
n = max(len(r[2]) for r in rows)
print("| loader | " + " | ".join(f"run {i+1} s" for i in range(n)) + " | median s | MB/s | server CPU-s | client CPU-s | vs mariadb | rows |")
print("|---|" + "---:|" * n + "---:|---:|---:|---:|---:|---|")
for loader, label, rs, failed, w, c, s in rows:
    rs = sorted(rs, key=lambda x: x["round"])
    ratio = f"{base / w:.2f}x" if base else "–"
    print(f"| {label} | " + " | ".join(f"{x['wall']:.2f}" for x in rs) + f" | **{w:.2f}** | {b/1e6/w:.1f} | {s:.1f} | {c:.1f} | {ratio} | {'FAILED' if failed else 'equal'} |")
print("(server and client CPU: medians of the runs; MB/s: mariadb-dump SQL bytes / median wall)")
if csv_path:
    with open(csv_path, "w") as f:
        f.write("tool,wall s (median of 3),server CPU s,client CPU s\n")
        for loader, label, rs, failed, w, c, s in rows:
            f.write(f"{label.replace(',', ';')},{w:.2f},{s:.2f},{c:.2f}\n")
    print(f"CSV written: {csv_path}")
if any(r[3] for r in rows):
    print("!!! FAILED runs above: a loader exited non-zero or lost/gained rows", file=sys.stderr)
    sys.exit(1)
PY
