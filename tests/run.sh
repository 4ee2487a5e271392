#!/bin/sh
# SPDX-License-Identifier: ISC
# Run every test under prove: tests/*.t are TAP producers (C unit tests
# via cmocka, integration tests via node's test runner).
set -e
cd "$(dirname "$0")/.."
if [ ! -d tests/node_modules/@wecom/crypto ] || [ ! -d tests/node_modules/ws ]; then
	(cd tests && npm install --no-audit --no-fund --loglevel=error)
fi
# BUILD names the build tree the .t files use; SANITIZE=1 runs the
# ASan+UBSan build, with the runtime preloaded into the stock kore binary
# (LeakSanitizer cannot run inside the workers' seccomp sandbox: leaks
# are checked by the unit tests and the valgrind run instead).
export BUILD=${BUILD:-build}
if [ "${SANITIZE:-0}" = 1 ]; then
	export SANITIZE WECOM_KORE_PRELOAD="$(gcc -print-file-name=libasan.so)"
	export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:verify_asan_link_order=0}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
fi
exec prove -f ${TESTS:-tests/*.t tests/*/*.t}
