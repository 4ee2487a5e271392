#!/bin/sh
# SPDX-License-Identifier: ISC
# make install DESTDIR=…, then a handler module built out of tree against
# the installed pkg-config file — the README's hello app, in a
# three-line Makefile — loaded by kore and answering WeCom's sample.
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
echo "1..4"
tmp=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
ok() { echo "ok $1 - $2"; }
nok() { sed 's/^/# /' "$tmp/log" | tail -20; echo "not ok $1 - $2"; }

if make -s BUILD="$BUILD" SANITIZE="${SANITIZE:-0}" install \
    DESTDIR="$tmp/root" PREFIX=/usr > "$tmp/log" 2>&1 &&
    [ -x "$tmp/root/usr/bin/wecom-send" ] &&
    [ -f "$tmp/root/usr/lib/pkgconfig/wecom.pc" ] &&
    [ -f "$tmp/root/usr/include/wecom/wecom.h" ] &&
    [ -f "$tmp/root/usr/share/wecom/wecom.conf.example" ] &&
    grep -q '^load.*/usr/lib/wecom/wecom.so' \
        "$tmp/root/usr/share/wecom/kore-production.conf" &&
    [ -f "$tmp/root/usr/share/wecom/nginx/wecom-proxy.conf" ] &&
    [ -f "$tmp/root/usr/share/wecom/systemd/wecom.service" ] &&
    ! grep -q 'QDG6eK' "$tmp/root/usr/share/wecom/wecom.conf.example"; then
	ok 1 "make install puts wecom-send, the module, headers, wecom.pc and the production files (kore, nginx, systemd, an example config without the demo's keys) under DESTDIR"
else
	nok 1 "make install puts wecom-send, the module, headers, wecom.pc and the production files (kore, nginx, systemd, an example config without the demo's keys) under DESTDIR"
fi

mkdir "$tmp/app"
awk '/^```c$/ { n++; on = (n == 1); next } /^```$/ { on = 0 } on' README.md \
    > "$tmp/app/hello.c"
printf '%s\n' \
    'CFLAGS += $(shell pkg-config --cflags wecom)' \
    'hello.so: hello.c' \
    '	$(CC) -shared $(CFLAGS) -o $@ hello.c $(shell pkg-config --libs wecom)' \
    > "$tmp/app/Makefile"
# An ASan+UBSan build links the sanitizer runtimes into the module too.
san=""
[ "${SANITIZE:-0}" = 1 ] && san="-fsanitize=address,undefined"
if PKG_CONFIG_PATH="$tmp/root/usr/lib/pkgconfig" CFLAGS="$san" \
    PKG_CONFIG_SYSROOT_DIR="$tmp/root" make -s -C "$tmp/app" \
    > "$tmp/log" 2>&1 && [ -f "$tmp/app/hello.so" ]; then
	ok 2 "a handler module builds out of tree with a three-line Makefile"
else
	nok 2 "a handler module builds out of tree with a three-line Makefile"
fi

port=$((20000 + $$ % 20000))
sed -e "s|^load.*|load $tmp/app/hello.so|" \
    -e "s|bind.*127.0.0.1.*|bind 127.0.0.1 $port|" \
    "$tmp/root/usr/share/wecom/kore.conf" > "$tmp/kore.conf"
cat > "$tmp/wecom.conf" <<CONF
[global]
state_dir = $tmp
[app hello]
corpid = wx5823bf96d3bd56c7
agentid = 218
token = QDG6eK
aeskey = jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C
path = /hello
timestamp_window = 0
CONF
(cd "$tmp" && WECOM_CONF="$tmp/wecom.conf" \
    LD_PRELOAD="${WECOM_KORE_PRELOAD:-}" \
    ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" exec stdbuf -oL kore -f -n -r \
    -c "$tmp/kore.conf") > "$tmp/log" 2>&1 &
pid=$!
# Up to 15 s, as the other suites wait: a loaded CI machine is slow.
for i in $(seq 150); do
	curl -m 1 -s -o /dev/null "http://127.0.0.1:$port/" && break
	kill -0 $pid 2>/dev/null || break
	sleep 0.1
done
got=$(curl -m 5 -s "http://127.0.0.1:$port/hello?msg_signature=5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3&timestamp=1409659589&nonce=263014780&echostr=P9nAzCzyDtyTWESHep1vC5X9xho%2FqYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp%2B4RPcs8TgAE7OaBO%2BFZXvnaqQ%3D%3D")
if [ "$got" = 1616140317555161061 ]; then
	ok 3 "kore loads the out-of-tree module and it verifies WeCom's sample URL"
else
	nok 3 "kore loads the out-of-tree module and it verifies WeCom's sample URL"
fi
body='<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>'
got=$(curl -m 5 -s -X POST --data-binary "$body" "http://127.0.0.1:$port/hello?msg_signature=477715d11cdb4164915debcba66cb864d751f3e6&timestamp=1409659813&nonce=1372623149")
case "$got" in
*"<Encrypt><![CDATA["*"<MsgSignature>"*)
	ok 4 "the out-of-tree handler answers Tencent's sample POST with an encrypted reply" ;;
*)
	echo "# got: $got" > "$tmp/log"
	nok 4 "the out-of-tree handler answers Tencent's sample POST with an encrypted reply" ;;
esac
