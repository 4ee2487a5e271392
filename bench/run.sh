#!/bin/sh
# SPDX-License-Identifier: ISC
# Encrypted echo callbacks per second, 2 Kore workers, under wrk; the same
# with the message log on (log = yes: SQLite); the same with [global]
# store on a throw-away PostgreSQL (if Debian's postgresql is installed:
# every callback is then claimed in the store's retry table); then the
# same POSTs against
# the HTTP ceiling module (fixed reply, no crypto, no XML) in the same run.
# For each: the server's CPU time per request, from /proc (the parent and
# its workers, every thread), over the measured wrk run. Then the echo
# app's PSS idle and under load with 1 and 2 workers.
# Prints a table and writes it to bench/results/.
#   sh bench/run.sh            DUR=10 CONN=64 N=20000 ROUNDS=2 by default
#   BUILD=build/h1 sh bench/run.sh     another build directory
set -eu
cd "$(dirname "$0")/.."
DUR=${DUR:-10}
CONN=${CONN:-64}
N=${N:-20000}
BUILD=${BUILD:-build}
# Ports of our own, so that a second run on the host does not collide.
PORT=${PORT:-$((20000 + $$ % 20000))}
TICK=$(getconf CLK_TCK)
mkdir -p bench/results
out=bench/results/latest.txt
tmp=$(mktemp -d /tmp/wecom-bench.XXXXXX)
trap 'stop; pgstop; rm -rf "$tmp"' EXIT INT TERM
pid=""

stop() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	pid=""
}

# The bench's PostgreSQL stops when its stdin (fd 9) closes.
pgstop() {
	[ -n "${pgpid:-}" ] || return 0
	exec 9>&-
	wait "$pgpid" 2>/dev/null
	pgpid=""
}

# start NAME MODULE PORT ROUTE-HANDLER [WECOM-CONF [WORKERS]]
start() {
	cat > "$tmp/$1.conf" <<CONF
server main {
	bind 127.0.0.1 $3
	tls no
}
load $PWD/$2
workers ${6:-2}
worker_max_connections 4096
http_hsts_enable 0
http_keepalive_time 60
domain * {
	attach main
	route ^/.*\$ $4
}
CONF
	WECOM_CONF="$tmp/${5:-wecom.conf}" kore -f -n -r -c "$tmp/$1.conf" \
	    > "$tmp/$1.log" 2>&1 &
	pid=$!
	for i in $(seq 50); do
		curl -s -o /dev/null "http://127.0.0.1:$3/" && return 0
		sleep 0.1
	done
	echo "server $1 did not start:" >&2
	cat "$tmp/$1.log" >&2
	exit 1
}

procs() {
	echo "$pid" $(pgrep -P "$pid")
}

# PSS of the kore parent and its workers, in KiB.
pss() {
	total=0
	for p in $(procs); do
		kb=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup")
		total=$((total + kb))
	done
	echo "$total"
}

# CPU time (utime + stime, every thread) of the parent and its workers,
# in clock ticks. Field 2 may hold spaces: count from after its ')'.
cpu() {
	for p in $(procs); do
		sed -e 's/.*) //' "/proc/$p/stat"
	done | awk '{ t += $12 + $13 } END { print t }'
}

# A few callbacks by curl, one at a time: the server has seen each path.
warm() {
	head -n 5 "$tmp/callbacks.txt" | while IFS="	" read -r target body; do
		curl -s -o /dev/null -H 'Content-Type: text/xml' \
		    --data-binary "$body" "http://127.0.0.1:$1$target"
	done
}

# measure NAME PORT: prints "req/s p50 p99 pss_kib errors cpu_us idle_kib"
measure() {
	url="http://127.0.0.1:$2"
	warm "$2"
	sleep 1
	idle=$(pss)
	wrk -t2 -c"$CONN" -d2s -s bench/callbacks.lua "$url" -- \
	    "$tmp/callbacks.txt" > /dev/null
	c0=$(cpu)
	wrk -t2 -c"$CONN" -d"${DUR}s" --latency -s bench/callbacks.lua "$url" \
	    -- "$tmp/callbacks.txt" > "$tmp/$1.wrk" &
	w=$!
	sleep $((DUR / 2 + 1))
	load=$(pss)
	wait "$w"
	c1=$(cpu)
	rps=$(awk '/^Requests\/sec/ { print $2 }' "$tmp/$1.wrk")
	p50=$(awk '$1 == "50%" { print $2 }' "$tmp/$1.wrk")
	p99=$(awk '$1 == "99%" { print $2 }' "$tmp/$1.wrk")
	err=$(awk '/^non2xx_or_errors/ { print $2 }' "$tmp/$1.wrk")
	n=$(awk '/ requests in / { print $1 }' "$tmp/$1.wrk")
	us=$(awk -v a="$c0" -v b="$c1" -v t="$TICK" -v n="$n" \
	    'BEGIN { printf "%.1f", (b - a) / t * 1e6 / n }')
	echo "$rps $p50 $p99 $load $err $us $idle"
}

# better A B: is A lower than B (B empty: yes)?
lower() {
	[ -z "$2" ] || awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'
}

sed -e "s|^state_dir.*|state_dir = $tmp|" conf/wecom.conf > "$tmp/wecom.conf"
# The same with every message and reply of echo recorded.
sed -e 's|^\(\[app echo\]\)$|\1\nlog = yes|' "$tmp/wecom.conf" \
    > "$tmp/wecom-log.conf"
node bench/gen-callbacks.mjs "$N" "$tmp/callbacks.txt"

# The same with [global] store: a throw-away PostgreSQL (bench/pg.mjs)
# on loopback holds the retry table, so every callback is claimed there.
s_us="" pgpid=""
if [ -x /usr/lib/postgresql/15/bin/postgres ] || [ -n "${PG_BIN:-}" ]; then
	mkfifo "$tmp/pg.in"
	node bench/pg.mjs < "$tmp/pg.in" > "$tmp/pg.out" 2>&1 &
	pgpid=$!
	exec 9> "$tmp/pg.in"
	for i in $(seq 100); do
		grep -q '^url ' "$tmp/pg.out" && break
		sleep 0.1
	done
	pgurl=$(awk '/^url / { print $2 }' "$tmp/pg.out")
	sed -e "s|^\(state_dir.*\)$|\1\nstore = $pgurl|" "$tmp/wecom.conf" \
	    > "$tmp/wecom-store.conf"
fi

# Interleaved, best of ROUNDS (the least CPU per request, and its run's
# other figures): a neighbour's burst must not decide it.
ROUNDS=${ROUNDS:-2}
e_us="" c_us="" l_us="" e1_us=""
for r in $(seq "$ROUNDS"); do
	start echo "$BUILD/wecom.so" "$PORT" wecom_http
	set -- $(measure echo "$PORT")
	stop
	if lower "$6" "$e_us"; then
		e_rps=$1 e_p50=$2 e_p99=$3 e_pss=$4 e_err=$5 e_us=$6 e_idle=$7
	fi
	start echolog "$BUILD/wecom.so" $((PORT + 1)) wecom_http wecom-log.conf
	set -- $(measure echolog $((PORT + 1)))
	stop
	if lower "$6" "$l_us"; then
		l_rps=$1 l_p50=$2 l_p99=$3 l_pss=$4 l_err=$5 l_us=$6
	fi
	start ceiling "$BUILD/bench/ceiling.so" $((PORT + 2)) ceiling
	set -- $(measure ceiling $((PORT + 2)))
	stop
	if lower "$6" "$c_us"; then
		c_rps=$1 c_p50=$2 c_p99=$3 c_pss=$4 c_err=$5 c_us=$6
	fi
	if [ -n "$pgpid" ]; then
		start echostore "$BUILD/wecom.so" $((PORT + 4)) wecom_http \
		    wecom-store.conf
		set -- $(measure echostore $((PORT + 4)))
		stop
		if lower "$6" "$s_us"; then
			s_rps=$1 s_p50=$2 s_p99=$3 s_pss=$4 s_err=$5 s_us=$6
		fi
	fi
	start echo1 "$BUILD/wecom.so" $((PORT + 3)) wecom_http wecom.conf 1
	set -- $(measure echo1 $((PORT + 3)))
	stop
	if lower "$6" "$e1_us"; then
		e1_rps=$1 e1_pss=$4 e1_us=$6 e1_idle=$7
	fi
done

# The pipeline alone, without HTTP: CPU per callback on one core.
pipe=$("$BUILD/bench/pipeline" "$tmp/wecom.conf" "$tmp/callbacks.txt" 3)

# The message log's writer thread alone: into its file, into the store.
MLOG=${MLOG:-100000}
mlog_file=$("$BUILD/bench/msglog" "$tmp/mlog-file.db" "" "$MLOG")
mlog_store=""
[ -n "$pgpid" ] &&
    mlog_store=$("$BUILD/bench/msglog" "$tmp/mlog-store.db" "$pgurl" "$MLOG")

# wecom-send with a cached token against the fake WeCom API.
node tests/fake_wecom/server.mjs 0 > "$tmp/fake.out" 2>&1 &
fake=$!
for i in $(seq 50); do
	grep -q '^port' "$tmp/fake.out" && break
	sleep 0.1
done
fport=$(awk '/^port/ { print $2 }' "$tmp/fake.out")
cat > "$tmp/send.conf" <<CONF
[global]
api_base = http://127.0.0.1:$fport/cgi-bin/
state_dir = $tmp
[app bench]
corpid = wwfake0000000001
agentid = 1000002
secret = app-secret-1
token = QDG6eK
aeskey = jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C
path = /bench
CONF
SENDS=${SENDS:-200}
"$BUILD/wecom-send" -q -c "$tmp/send.conf" --to zhangsan warm-up
t0=$(date +%s%N)
for i in $(seq "$SENDS"); do
	"$BUILD/wecom-send" -q -c "$tmp/send.conf" --to zhangsan "alert $i"
done
t1=$(date +%s%N)
kill "$fake" 2>/dev/null
send_ms=$(awk -v a="$t0" -v b="$t1" -v n="$SENDS" 'BEGIN { printf "%.2f", (b - a) / n / 1e6 }')

row() {
	printf '%-26s %12s %10s %10s %12s %8s %10s\n' "$@"
}

{
	echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, wrk -t2 -c$CONN -d${DUR}s, best of $ROUNDS, $N distinct callbacks, 2 workers"
	row server "req/s" p50 p99 "PSS KiB" errors "CPU us/req"
	row "echo (encrypted callbacks)" "$e_rps" "$e_p50" "$e_p99" "$e_pss" \
	    "$e_err" "$e_us"
	row "echo, log = yes" "$l_rps" "$l_p50" "$l_p99" "$l_pss" "$l_err" \
	    "$l_us"
	[ -n "$s_us" ] && row "echo, store = PostgreSQL" "$s_rps" "$s_p50" \
	    "$s_p99" "$s_pss" "$s_err" "$s_us"
	row "ceiling (fixed reply)" "$c_rps" "$c_p50" "$c_p99" "$c_pss" \
	    "$c_err" "$c_us"
	awk -v e="$e_rps" -v c="$c_rps" -v ep="$e_pss" -v cp="$c_pss" \
	    -v eu="$e_us" -v cu="$c_us" \
	    'BEGIN { printf "ratio echo/ceiling: %.2f   PSS difference: %.1f MiB   CPU difference: %.1f us/req\n", e / c, (ep - cp) / 1024, eu - cu }'
	echo "$pipe"
	echo "echo PSS (KiB; idle: after 5 callbacks; load: during wrk), CPU us/req:"
	printf '  %-9s %10s %10s %10s %12s\n' workers idle load "CPU us/req" "req/s"
	printf '  %-9s %10s %10s %10s %12s\n' 1 "$e1_idle" "$e1_pss" "$e1_us" "$e1_rps"
	printf '  %-9s %10s %10s %10s %12s\n' 2 "$e_idle" "$e_pss" "$e_us" "$e_rps"
	echo "wecom-send, cached token, fake API on loopback: $send_ms ms per run ($SENDS runs)"
	echo "message log, one writer thread, into its file: $mlog_file"
	[ -n "$mlog_store" ] &&
	    echo "message log, one writer thread, into PostgreSQL: $mlog_store"
} | tee "$out"
