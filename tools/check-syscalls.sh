#!/bin/sh
# SPDX-License-Identifier: ISC
# The workers' seccomp lists (framework/kore/sandbox.c) against the
# syscall tables of x86_64 and arm64, from each target's own C library
# headers. See --help.
set -eu

usage() {
	cat <<'EOF'
usage: tools/check-syscalls.sh [--help] [NATIVE_CC [CROSS_CC]]

Checks the syscall names that framework/kore/sandbox.c allows or denies
against the syscall tables of two targets (default: cc, the native
x86_64 compiler, and aarch64-linux-gnu-gcc, the arm64 cross compiler):

  1. sandbox.c compiles for each target (KORE_SYSCALL_ALLOW(x) needs
     SYS_x there: a name missing on a target must sit under #if/#ifdef);
  2. it lists the names that exist on one target only;
  3. for each x86_64-only name whose work glibc does with another call on
     arm64 (access -> faccessat, open -> openat, ...), that other call
     must be on the list too, or a worker on a Pi is killed where one on
     x86_64 is not.

Exit status 0 when all three hold, 1 otherwise. Compiles with the
Makefile's flags (WARN included) into a temporary build directory; any
compiler warning fails the check. For the arm64 -dev packages see
tools/cross-arm64.sh, which runs this check.
EOF
}

case "${1:-}" in
-h|--help) usage; exit 0 ;;
-*) usage >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
NATIVE_CC=${1:-cc}
CROSS_CC=${2:-aarch64-linux-gnu-gcc}
SRC=framework/kore/sandbox.c

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
fail=0

# Every name in a KORE_SYSCALL_*(name, ...) of sandbox.c.
sed -n 's/.*KORE_SYSCALL_[A-Z_]*(\([a-z0-9_]*\).*/\1/p' "$SRC" |
    sort -u >"$tmp/names"

for cc in "$NATIVE_CC" "$CROSS_CC"; do
	if ! command -v "$cc" >/dev/null 2>&1; then
		echo "check-syscalls: no $cc (tools/cross-arm64.sh installs it)" >&2
		exit 1
	fi
	arch=$("$cc" -dumpmachine | cut -d- -f1)
	printf '#include <sys/syscall.h>\n' | "$cc" -dM -E - |
	    sed -n 's/^#define SYS_\([a-z0-9_]*\) .*/\1/p' | sort -u \
	    >"$tmp/table.$arch"
	echo "$arch" >>"$tmp/arches"
	# 1. The compile, as the Makefile does it (syscalls.h generated
	# from this target's headers), with this target's .pc files.
	# (libwebsockets-dev:arm64 is in build/arm64-sysroot: see
	# tools/cross-arm64.sh).
	if [ "$cc" = "$NATIVE_CC" ]; then
		pcenv="-u PKG_CONFIG_LIBDIR"
	else
		t=$("$cc" -dumpmachine)
		pcenv="PKG_CONFIG_LIBDIR=${CROSS_PKG_CONFIG_LIBDIR:-$(pwd)/build/arm64-sysroot/pkgconfig:/usr/lib/$t/pkgconfig:/usr/share/pkgconfig}"
	fi
	if env $pcenv make -s BUILD="$tmp/$arch" CC="$cc" SANITIZE=0 \
	    "$tmp/$arch/framework/kore/sandbox.o" >"$tmp/cc.$arch" 2>&1 &&
	    ! grep -q 'warning:' "$tmp/cc.$arch"; then
		echo "$SRC compiles for $arch ($(wc -l <"$tmp/table.$arch") syscalls in its table)"
	else
		sed 's/^/  /' "$tmp/cc.$arch"
		echo "FAIL: $SRC does not compile cleanly for $arch"
		fail=1
	fi
done
a=$(sed -n 1p "$tmp/arches")
b=$(sed -n 2p "$tmp/arches")

# 2. Names on one target only.
echo "names in $SRC: $(wc -l <"$tmp/names"); on $a only:"
comm -12 "$tmp/names" "$tmp/table.$a" | comm -23 - "$tmp/table.$b" |
    sed 's/^/  /'
echo "on $b only:"
comm -12 "$tmp/names" "$tmp/table.$b" | comm -23 - "$tmp/table.$a" |
    sed 's/^/  /'
missing=$(comm -23 "$tmp/names" "$tmp/table.$a" | comm -23 - "$tmp/table.$b")
if [ -n "$missing" ]; then
	echo "FAIL: on neither target (misspelt?):" $missing
	fail=1
fi

# 3. The call glibc makes instead, where the old one does not exist
# (sysdeps/unix/sysv/linux: access.c, readlink.c, ...). "-" = none needed
# (arch_prctl: arm64 keeps the thread pointer in a register).
while read -r old new; do
	grep -qx "$old" "$tmp/names" || continue
	for t in "$tmp/table.$a" "$tmp/table.$b"; do
		grep -qx "$old" "$t" && continue
		[ "$new" = - ] && continue
		if ! grep -qx "$new" "$tmp/names"; then
			echo "FAIL: $old is allowed, but not $new, which glibc" \
			    "calls instead on $(basename "$t" | cut -d. -f2)"
			fail=1
		fi
	done
done <<'EOF'
open openat
stat newfstatat
lstat newfstatat
access faccessat
unlink unlinkat
readlink readlinkat
rename renameat2
link linkat
chmod fchmodat
mkdir mkdirat
poll ppoll
epoll_wait epoll_pwait
dup2 dup3
vfork clone
arch_prctl -
EOF

[ "$fail" = 0 ] && echo "the seccomp lists hold on $a and $b"
exit "$fail"
