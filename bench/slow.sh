#!/bin/sh
# SPDX-License-Identifier: ISC
# Latency of the fast path while slow handlers run: the echo app under
# wrk, alone and then while a threaded app's handlers sleep 2 s each
# (20 in flight), on the same 2 workers. Not a test: it prints figures.
#   sh bench/slow.sh            DUR=10 CONN=32 by default
set -eu
cd "$(dirname "$0")/.."
DUR=${DUR:-10}
CONN=${CONN:-32}
tmp=$(mktemp -d /tmp/wecom-slow.XXXXXX)
pid=""
slow=""
trap '[ -n "$slow" ] && kill $slow 2>/dev/null; [ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$tmp"; true' EXIT INT TERM

make -s build/wecom-test.so
node bench/gen-callbacks.mjs 5000 "$tmp/echo.txt" 2>/dev/null
sed -e 's|^load.*|load '"$PWD"'/build/wecom-test.so|' \
    -e 's|bind.*127.0.0.1.*|bind 127.0.0.1 8892|' kore.conf > "$tmp/kore.conf"
cat > "$tmp/wecom.conf" <<CONF
[global]
state_dir = $tmp
dedupe_window = 0
handler_threads = 16
[app echo]
corpid = wx5823bf96d3bd56c7
agentid = 218
token = QDG6eK
aeskey = jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C
path = /wecom/echo
timestamp_window = 0
[app slow]
corpid = wx5823bf96d3bd56c7
agentid = 219
token = QDG6eK
aeskey = jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C
path = /slow
deadline_ms = 1000
timestamp_window = 0
CONF
(cd "$tmp" && WECOM_CONF="$tmp/wecom.conf" exec kore -f -n -r \
    -c "$tmp/kore.conf") > "$tmp/kore.log" 2>&1 &
pid=$!
for i in $(seq 50); do
	curl -s -o /dev/null http://127.0.0.1:8892/ && break
	sleep 0.1
done

run() {
	wrk -t2 -c"$CONN" -d"${DUR}s" --latency -s bench/callbacks.lua \
	    http://127.0.0.1:8892 -- "$tmp/echo.txt" > "$tmp/wrk.out"
	printf '%-34s %10s %10s %10s\n' "$1" \
	    "$(awk '/^Requests\/sec/ { print $2 }' "$tmp/wrk.out")" \
	    "$(awk '$1 == "50%" { print $2 }' "$tmp/wrk.out")" \
	    "$(awk '$1 == "99%" { print $2 }' "$tmp/wrk.out")"
}

# Warm up, then measure.
wrk -t2 -c"$CONN" -d2s -s bench/callbacks.lua http://127.0.0.1:8892 -- \
    "$tmp/echo.txt" > /dev/null
printf '%-34s %10s %10s %10s\n' "echo callbacks" "req/s" p50 p99
run "alone"

# Then with slow callbacks in flight: "sleep 2000" to the threaded app,
# 20 at a time, each answered at its 1 s deadline.
node -e '
const { encrypt, getSignature } = require(process.argv[1] + "/tests/node_modules/@wecom/crypto");
const http = require("http");
const A = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", C = "wx5823bf96d3bd56c7";
let n = 0;
function one() {
  const xml = `<xml><ToUserName>${C}</ToUserName><FromUserName>u</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>sleep 2000</Content><MsgId>s${n++}</MsgId></xml>`;
  const enc = encrypt(A, xml, C), ts = "1", nonce = String(n);
  const body = `<xml><Encrypt><![CDATA[${enc}]]></Encrypt></xml>`;
  const req = http.request({ host: "127.0.0.1", port: 8892, method: "POST",
    path: `/slow?msg_signature=${getSignature("QDG6eK", ts, nonce, enc)}&timestamp=${ts}&nonce=${nonce}` },
    (res) => { res.resume(); res.on("end", one); });
  req.on("error", () => setTimeout(one, 100));
  req.end(body);
}
for (let i = 0; i < 20; i++) one();
' "$PWD" &
slow=$!
sleep 1
run "while 20 slow handlers run"
exit 0
