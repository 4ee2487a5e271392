#!/bin/sh
# SPDX-License-Identifier: ISC
# Encrypted echo callbacks per second, 2 Kore workers, under wrk; the same
# with the message log on (log = yes: SQLite); then the same POSTs against
# the HTTP ceiling module (fixed reply, no crypto, no XML) in the same run.
# Prints a table and writes it to bench/results/.
#   sh bench/run.sh            DUR=10 CONN=64 N=20000 by default
set -eu
cd "$(dirname "$0")/.."
DUR=${DUR:-10}
CONN=${CONN:-64}
N=${N:-20000}
mkdir -p bench/results
out=bench/results/latest.txt
tmp=$(mktemp -d /tmp/wecom-bench.XXXXXX)
trap 'stop; rm -rf "$tmp"' EXIT INT TERM
pid=""

stop() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	pid=""
}

# start NAME MODULE PORT ROUTE-HANDLER [WECOM-CONF]
start() {
	cat > "$tmp/$1.conf" <<CONF
server main {
	bind 127.0.0.1 $3
	tls no
}
load $PWD/$2
workers 2
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

# PSS of the kore parent and its workers, in KiB.
pss() {
	total=0
	for p in $pid $(pgrep -P "$pid"); do
		kb=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup")
		total=$((total + kb))
	done
	echo "$total"
}

# measure NAME PORT: prints "req/s p50 p99 pss_kib errors"
measure() {
	url="http://127.0.0.1:$2"
	wrk -t2 -c"$CONN" -d2s -s bench/callbacks.lua "$url" -- \
	    "$tmp/callbacks.txt" > /dev/null
	wrk -t2 -c"$CONN" -d"${DUR}s" --latency -s bench/callbacks.lua "$url" \
	    -- "$tmp/callbacks.txt" > "$tmp/$1.wrk"
	rps=$(awk '/^Requests\/sec/ { print $2 }' "$tmp/$1.wrk")
	p50=$(awk '$1 == "50%" { print $2 }' "$tmp/$1.wrk")
	p99=$(awk '$1 == "99%" { print $2 }' "$tmp/$1.wrk")
	err=$(awk '/^non2xx_or_errors/ { print $2 }' "$tmp/$1.wrk")
	echo "$rps $p50 $p99 $(pss) $err"
}

sed -e "s|^state_dir.*|state_dir = $tmp|" conf/wecom.conf > "$tmp/wecom.conf"
# The same with every message and reply of echo recorded.
sed -e 's|^\(\[app echo\]\)$|\1\nlog = yes|' "$tmp/wecom.conf" \
    > "$tmp/wecom-log.conf"
node bench/gen-callbacks.mjs "$N" "$tmp/callbacks.txt"

# Interleaved, best of ROUNDS: a neighbour's burst must not decide it.
ROUNDS=${ROUNDS:-2}
e_rps=0 c_rps=0 l_rps=0
for r in $(seq "$ROUNDS"); do
	start echo build/wecom.so 8890 wecom_http
	set -- $(measure echo 8890)
	stop
	if awk -v a="$1" -v b="$e_rps" 'BEGIN { exit !(a > b) }'; then
		e_rps=$1 e_p50=$2 e_p99=$3 e_pss=$4 e_err=$5
	fi
	start echolog build/wecom.so 8892 wecom_http wecom-log.conf
	set -- $(measure echolog 8892)
	stop
	if awk -v a="$1" -v b="$l_rps" 'BEGIN { exit !(a > b) }'; then
		l_rps=$1 l_p50=$2 l_p99=$3 l_pss=$4 l_err=$5
	fi
	start ceiling build/bench/ceiling.so 8891 ceiling
	set -- $(measure ceiling 8891)
	stop
	if awk -v a="$1" -v b="$c_rps" 'BEGIN { exit !(a > b) }'; then
		c_rps=$1 c_p50=$2 c_p99=$3 c_pss=$4 c_err=$5
	fi
done

# The pipeline alone, without HTTP: CPU per callback on one core.
pipe=$(build/bench/pipeline "$tmp/wecom.conf" "$tmp/callbacks.txt" 3)

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
build/wecom-send -q -c "$tmp/send.conf" --to zhangsan warm-up
t0=$(date +%s%N)
for i in $(seq "$SENDS"); do
	build/wecom-send -q -c "$tmp/send.conf" --to zhangsan "alert $i"
done
t1=$(date +%s%N)
kill "$fake" 2>/dev/null
send_ms=$(awk -v a="$t0" -v b="$t1" -v n="$SENDS" 'BEGIN { printf "%.2f", (b - a) / n / 1e6 }')

{
	echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, wrk -t2 -c$CONN -d${DUR}s, best of $ROUNDS, $N distinct callbacks, 2 workers"
	printf '%-26s %12s %10s %10s %12s %8s\n' server "req/s" p50 p99 "PSS KiB" errors
	printf '%-26s %12s %10s %10s %12s %8s\n' "echo (encrypted callbacks)" \
	    "$e_rps" "$e_p50" "$e_p99" "$e_pss" "$e_err"
	printf '%-26s %12s %10s %10s %12s %8s\n' "echo, log = yes" \
	    "$l_rps" "$l_p50" "$l_p99" "$l_pss" "$l_err"
	printf '%-26s %12s %10s %10s %12s %8s\n' "ceiling (fixed reply)" \
	    "$c_rps" "$c_p50" "$c_p99" "$c_pss" "$c_err"
	awk -v e="$e_rps" -v c="$c_rps" -v ep="$e_pss" -v cp="$c_pss" \
	    'BEGIN { printf "ratio echo/ceiling: %.2f   PSS difference: %.1f MiB\n", e / c, (ep - cp) / 1024 }'
	echo "$pipe"
	echo "wecom-send, cached token, fake API on loopback: $send_ms ms per run ($SENDS runs)"
} | tee "$out"
