#!/bin/sh
# SPDX-License-Identifier: ISC
# The whole callback pipeline (verify, decrypt, parse, route, reply,
# encrypt) on 300 distinct callbacks, and the unit tests, under
# valgrind: no memory error and no leak. (The Kore workers themselves
# cannot run under valgrind: its syscalls trip their seccomp sandbox.)
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
echo "1..4"
if [ "${SANITIZE:-0}" = 1 ] || ! command -v valgrind >/dev/null; then
	for i in 1 2 3 4; do echo "ok $i # SKIP valgrind with ASan, or no valgrind"; done
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
make -s BUILD="$BUILD" "$BUILD/bench/pipeline" >&2
node bench/gen-callbacks.mjs 300 "$tmp/cb.txt" 2>/dev/null
VG="valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=9"
n=0
check() {
	n=$((n + 1))
	name=$1
	shift
	if "$@" > "$tmp/out" 2>&1; then
		echo "ok $n - $name"
	else
		sed 's/^/# /' "$tmp/out" | tail -30
		echo "not ok $n - $name"
	fi
}
check "the callback pipeline runs clean under valgrind" \
    $VG "$BUILD/bench/pipeline" conf/wecom.conf "$tmp/cb.txt" 1
check "the XML model tests run clean under valgrind" \
    $VG "$BUILD/tests/callback/test_xml"
check "the router tests run clean under valgrind" \
    $VG "$BUILD/tests/callback/test_router"
check "the crypto tests run clean under valgrind" \
    $VG --trace-children=no "$BUILD/tests/crypto/test_crypto"
