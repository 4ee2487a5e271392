#!/bin/sh
# SPDX-License-Identifier: ISC
# The tree cross-built for arm64 (a Raspberry Pi on 64-bit Raspberry Pi
# OS bookworm = Debian 12 arm64) and its unit tests run under qemu-user.
# See --help. Prints TAP on stdout; apt's and make's words go to stderr
# and to build/arm64/cross.log.
set -eu

usage() {
	cat <<'EOF'
usage: tools/cross-arm64.sh [--help] [--no-install] [--no-tests]

On Debian 12 (x86_64), as root:

  1. installs what is missing: the arm64 architecture in dpkg, Debian's
     cross compiler (gcc-aarch64-linux-gnu), qemu-user, and the arm64
     -dev packages of the libraries (libssl-dev libxml2-dev
     libcurl4-openssl-dev libjansson-dev libsqlite3-dev libcmocka-dev,
     all :arm64; libpq5:arm64 is linked from the sysroot with the
     amd64 libpq headers, the same on both). libwebsockets-dev:arm64
     cannot be installed beside the amd64 one (both ship
     /usr/include/lws_config.h, which differs in one line,
     LWS_INSTALL_LIBDIR): its runtime libwebsockets17:arm64 is
     installed, and the -dev package of the same version is unpacked
     into build/arm64-sysroot/ (nothing outside the tree changes), with
     a .pc file pointing there. Installing an arm64 library may upgrade
     its amd64 twin to the same Debian 12 version (multiarch needs one
     version of both); nothing is removed.
  2. builds everything `make all` builds, plus libwecom-kore.a, into
     build/arm64 (from scratch) with CC=aarch64-linux-gnu-gcc, the
     arm64 .pc files and the Makefile's own flags and warnings: libwecom.a,
     wecom-send, wecom-admin, wecom.so, wecom-test.so and every
     tests/*/test_*.c. Any warning fails. The module is linked against
     the arm64 libraries; its remaining undefined symbols must all be
     exported by kore (checked on the packaged x86_64 kore: the same
     4.1 sources).
  3. checks the seccomp lists against the arm64 syscall table
     (tools/check-syscalls.sh).
  4. runs every cmocka unit test (the ones a tests/*/*.t runs with
     CMOCKA_MESSAGE_OUTPUT=TAP) under qemu-aarch64 -L /, each test case
     one TAP line; and, when node and tests/node_modules are there,
     tests/crypto/crosscheck.test.mjs with the arm64 test_crypto_tool
     under qemu. -L / and not -L /usr/aarch64-linux-gnu: the libraries
     are the arm64 multiarch packages, built against libc6:arm64, and
     qemu with the cross package's older ld.so beside libc6:arm64's
     libc.so.6 hangs in every forked child. So the tests run on
     Debian 12's own arm64 libc and libraries, as a Pi would. qemu-user
     has no robust futexes: test_dedupe skips its two tests of a worker
     killed holding the lock there.

  --no-install  install nothing: a missing package is a failure
  --no-tests    stop after the build and the checks

Prints TAP (exit status 1 if any test failed). `make cross-arm64` runs
this; so does tests/cross_arm64.t, when WECOM_CROSS=1 is set.
EOF
}

install=1
tests=1
for a in "$@"; do
	case "$a" in
	-h|--help) usage; exit 0 ;;
	--no-install) install=0 ;;
	--no-tests) tests=0 ;;
	*) usage >&2; exit 2 ;;
	esac
done

cd "$(dirname "$0")/.."
ROOT=$(pwd)
B=build/arm64
SYSROOT=$ROOT/build/arm64-sysroot
TRIPLET=aarch64-linux-gnu
CROSS_CC=$TRIPLET-gcc
QEMU="qemu-aarch64 -L /"
LOG=$B/cross.log

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)) failed=$((failed + 1)); echo "not ok $n - $*"; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $*"; }
# The log's lines that matter, as TAP comments.
diag() { sed 's/^/# /' | head -40; }
bail() { echo "Bail out! $*"; exit 1; }

# ---- 1. packages -------------------------------------------------------
NATIVE_PKGS="gcc-$TRIPLET qemu-user make pkg-config kore libpq-dev"
ARM64_PKGS="libc6-dev libssl-dev libxml2-dev libcurl4-openssl-dev
	libjansson-dev libsqlite3-dev libcmocka-dev libwebsockets17 libcap-dev
	libpq5"
installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"
}
missing=""
for p in $NATIVE_PKGS; do installed "$p" || missing="$missing $p"; done
for p in $ARM64_PKGS; do installed "$p:arm64" || missing="$missing $p:arm64"; done
has_arch=0
dpkg --print-foreign-architectures | grep -qx arm64 && has_arch=1
if [ -n "$missing" ] || [ "$has_arch" = 0 ]; then
	[ "$install" = 1 ] || bail "missing:$missing (run without --no-install)"
	[ "$(id -u)" -eq 0 ] || bail "missing:$missing; run as root to install"
	echo "installing:$missing" >&2
	[ "$has_arch" = 1 ] || dpkg --add-architecture arm64
	apt-get update -qq >&2 || bail "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $missing >&2 ||
	    bail "apt-get install$missing failed"
fi

# libwebsockets-dev:arm64, of the runtime's version, unpacked in the tree.
lws_ver=$(dpkg-query -W -f='${Version}' libwebsockets17:arm64)
if [ "$(cat "$SYSROOT/version" 2>/dev/null)" != "$lws_ver" ]; then
	[ "$install" = 1 ] || bail "no libwebsockets-dev:arm64 in $SYSROOT"
	rm -rf "$SYSROOT"
	mkdir -p "$SYSROOT/lib" "$SYSROOT/pkgconfig"
	dl=$(mktemp -d)
	chown _apt "$dl" 2>/dev/null || true
	(cd "$dl" && apt-get download -qq "libwebsockets-dev:arm64=$lws_ver") \
	    >&2 || { rm -rf "$dl"; bail "apt-get download libwebsockets-dev:arm64 failed"; }
	dpkg-deb -x "$dl"/libwebsockets-dev_*_arm64.deb "$dl/root"
	mv "$dl/root/usr/include" "$SYSROOT/include"
	rm -rf "$dl"
	echo "$lws_ver" >"$SYSROOT/version"
fi
ln -sf /usr/lib/$TRIPLET/libwebsockets.so.17 "$SYSROOT/lib/libwebsockets.so"
# As the package's own .pc, with the headers and the link in the sysroot.
cat >"$SYSROOT/pkgconfig/libwebsockets.pc" <<EOF
libdir=$SYSROOT/lib
includedir=$SYSROOT/include

Name: libwebsockets
Description: Websockets server and client library (arm64 headers)
Version: ${lws_ver%%-*}
Libs: -L\${libdir} -lwebsockets
Cflags: -I\${includedir}
Requires: libcap
EOF
# libpq-dev:arm64 cannot sit beside the amd64 one either (pg_config):
# its headers are the same on both (LP64), so the amd64 ones serve, and
# the arm64 runtime is linked from the sysroot.
ln -sf /usr/lib/$TRIPLET/libpq.so.5 "$SYSROOT/lib/libpq.so"
cat >"$SYSROOT/pkgconfig/libpq.pc" <<EOF
libdir=$SYSROOT/lib
includedir=/usr/include/postgresql

Name: libpq
Description: PostgreSQL's client library (arm64 runtime, amd64 headers)
Version: $(dpkg-query -W -f='${Version}' libpq5:arm64 | sed 's/-.*//')
Libs: -L\${libdir} -lpq
Cflags: -I\${includedir}
EOF
ok "arm64 toolchain, qemu-user and -dev packages ($CROSS_CC" \
    "$($CROSS_CC -dumpversion), $($QEMU --version | sed -n 's/.*version \([^ ]*\).*/\1/p;q')," \
    "libwebsockets-dev:arm64 $lws_ver in build/arm64-sysroot)"

# ---- 2. the build ------------------------------------------------------
export PKG_CONFIG_LIBDIR="$SYSROOT/pkgconfig:/usr/lib/$TRIPLET/pkgconfig:/usr/share/pkgconfig"
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR MAKEFLAGS MFLAGS MAKELEVEL 2>/dev/null || true
rm -rf "$B"
mkdir -p "$B"
if make -j"$(nproc)" BUILD="$B" CC="$CROSS_CC" SANITIZE=0 all \
    "$B/libwecom-kore.a" >"$LOG" 2>&1; then
	built=1
else
	built=0
fi
products="$B/libwecom.a $B/libwecom-kore.a $B/wecom-send $B/wecom-admin
	$B/wecom.so $B/wecom-test.so"
tprogs=$(ls tests/*/test_*.c | sed "s|^tests/\(.*\)\.c$|$B/tests/\1|")
wrong=""
for f in $products $tprogs; do
	case "$f" in
	*.a) m=$($TRIPLET-readelf -h "$f" 2>/dev/null | grep -c 'AArch64' || true) ;;
	*) m=$($TRIPLET-readelf -h "$f" 2>/dev/null | grep -c 'Machine:.*AArch64' || true) ;;
	esac
	[ "${m:-0}" -ge 1 ] || wrong="$wrong $f"
done
if [ "$built" = 1 ] && [ -z "$wrong" ]; then
	ok "arm64 build: libwecom.a, libwecom-kore.a, wecom-send, wecom-admin," \
	    "wecom.so, wecom-test.so and $(echo "$tprogs" | wc -w) test programs, all AArch64"
else
	grep -E 'error|Error' "$LOG" | diag
	notok "arm64 build (see $LOG); missing or not AArch64:$wrong"
fi
warnings=$(grep -c 'warning:' "$LOG" || true)
if [ "$warnings" = 0 ]; then
	ok "arm64 build with the Makefile's WARN: zero warnings"
else
	grep 'warning:' "$LOG" | diag
	notok "arm64 build with the Makefile's WARN: $warnings warnings"
fi

# The module's undefined symbols: its libraries' or kore's.
if [ -f "$B/wecom.so" ]; then
	tmp=$(mktemp -d)
	$TRIPLET-nm -D --undefined-only "$B/wecom.so" |
	    awk '$1 == "U" { sub(/@.*/, "", $2); print $2 }' | sort -u >"$tmp/undef"
	: >"$tmp/have"
	for lib in $($TRIPLET-readelf -d "$B/wecom.so" |
	    sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
		for d in /lib/$TRIPLET /usr/lib/$TRIPLET; do
			[ -e "$d/$lib" ] || continue
			$TRIPLET-nm -D --defined-only "$d/$lib" |
			    awk '{ sub(/@.*/, "", $3); print $3 }' >>"$tmp/have"
			break
		done
	done
	nm -D --defined-only "$(command -v kore)" |
	    awk '{ sub(/@.*/, "", $3); print $3 }' >>"$tmp/have"
	sort -u "$tmp/have" -o "$tmp/have"
	left=$(comm -23 "$tmp/undef" "$tmp/have")
	if [ -z "$left" ]; then
		ok "wecom.so: its $(wc -l <"$tmp/undef") undefined symbols are all" \
		    "its arm64 libraries' or kore's"
	else
		echo "$left" | diag
		notok "wecom.so: undefined symbols no library nor kore defines"
	fi
	rm -rf "$tmp"
else
	notok "wecom.so: not built"
fi

# ---- 3. the seccomp lists ----------------------------------------------
if out=$(CROSS_PKG_CONFIG_LIBDIR=$PKG_CONFIG_LIBDIR \
    sh tools/check-syscalls.sh cc "$CROSS_CC" 2>&1); then
	echo "$out" | diag
	ok "the seccomp lists hold against the arm64 syscall table (tools/check-syscalls.sh)"
else
	echo "$out" | diag
	notok "the seccomp lists against the arm64 syscall table (tools/check-syscalls.sh)"
fi

# ---- 4. the unit tests under qemu --------------------------------------
if [ "$tests" = 1 ]; then
	for t in $(grep -l 'CMOCKA_MESSAGE_OUTPUT=TAP' tests/*/*.t | sort); do
		prog=$(sed -n 's|.*exec .*/tests/\([a-z_]*/test_[a-z_]*\)"*$|\1|p' "$t")
		[ -n "$prog" ] || continue
		bin=$B/tests/$prog
		name=$(basename "$prog")
		if [ ! -x "$bin" ]; then
			notok "arm64 $name: not built"
			continue
		fi
		rc=0
		out=$(CMOCKA_MESSAGE_OUTPUT=TAP timeout 180 $QEMU "$bin" 2>&1) || rc=$?
		# One TAP line per test case, renumbered into this stream.
		plan=$(echo "$out" | sed -n 's/^1\.\.\([0-9]*\)$/\1/p' | head -1)
		seen=0 bad=0
		while IFS= read -r line; do
			case "$line" in
			"ok "*" # SKIP "*|"not ok "*" # SKIP "*)
				# cmocka 1.1 writes a skip as "not ok N # SKIP".
				seen=$((seen + 1))
				skip "arm64 $name: ${line##* # SKIP } (the test's own skip)" ;;
			"ok "*)
				seen=$((seen + 1))
				ok "arm64 $name: ${line#* - }" ;;
			"not ok "*)
				seen=$((seen + 1)) bad=$((bad + 1))
				notok "arm64 $name: ${line#* - }" ;;
			1..*) ;;
			*) echo "# $line" ;;
			esac
		done <<EOF
$out
EOF
		if [ -z "$plan" ] || [ "$seen" != "$plan" ] ||
		    { [ "$rc" != 0 ] && [ "$bad" = 0 ]; }; then
			notok "arm64 $name ran ${plan:-no} planned cases, $seen seen, exit $rc"
		fi
	done

	# crypto/ against Tencent's JS implementation, the C side on arm64.
	if command -v node >/dev/null 2>&1 &&
	    [ -d tests/node_modules/@wecom/crypto ]; then
		w=$ROOT/$B/test_crypto_tool.qemu
		printf '#!/bin/sh\nexec %s "%s" "$@"\n' "$QEMU" \
		    "$ROOT/$B/tests/crypto/test_crypto_tool" >"$w"
		chmod +x "$w"
		out=$(WECOM_CRYPTO_TOOL=$w node --test --test-reporter=tap \
		    tests/crypto/crosscheck.test.mjs 2>&1) || true
		pass=$(echo "$out" | sed -n 's/^# pass \([0-9]*\)$/\1/p')
		fail=$(echo "$out" | sed -n 's/^# fail \([0-9]*\)$/\1/p')
		if [ -n "$pass" ] && [ "$pass" -gt 0 ] && [ "$fail" = 0 ]; then
			ok "arm64 test_crypto_tool under qemu against @wecom/crypto: $pass passed"
		else
			echo "$out" | grep -E '^ *not ok|^# (pass|fail)' | diag
			notok "arm64 test_crypto_tool under qemu against @wecom/crypto"
		fi
	else
		skip "arm64 crypto crosscheck: no node or tests/node_modules (npm install in tests/)"
	fi
fi

echo "1..$n"
# As a TAP producer for prove, and a status for make.
[ "$failed" = 0 ]
